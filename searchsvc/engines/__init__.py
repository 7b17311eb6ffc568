"""The search engines the stack asks (searchsvc.stack).

SQLite FTS5, the top-k index, the in-memory file index and Meilisearch.
"""
