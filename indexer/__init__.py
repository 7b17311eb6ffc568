"""Indexer: find dialog files, parse them, load them into SQLite."""
