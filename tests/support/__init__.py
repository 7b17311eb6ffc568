"""Helpers of the test suite: fixtures, the Meilisearch stand-in, the reliability harness."""
