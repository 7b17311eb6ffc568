"""The baseline of issue 13's table: a plain FTS5 table of the dialog entries alone, bm25.

Built in memory (the stdlib's sqlite3, outside the product) from the same parsed entries
the API serves: no sections, no weights, no prefix, no folding of copies. Its answers go
through the same scoring as the API's (benchmarks.quality_api).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from benchmarks.quality_api import page_shares, score_known
from benchmarks.quality_corpus import KnownItem, TreeText

COLUMNS = ("title", "message", "body", "speaker", "target")


class Baseline:
    """An in-memory FTS5 table of a tree's dialog entries."""

    def __init__(self, tree: TreeText) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            f"CREATE VIRTUAL TABLE entries USING fts5({', '.join(COLUMNS)}, format UNINDEXED,"
            " tokenize = 'unicode61 remove_diacritics 2')"
        )
        rows = [(*(getattr(e, c) or "" for c in COLUMNS), e.format) for e in tree.entries]
        marks = ", ".join("?" * (len(COLUMNS) + 1))
        self.db.executemany(f"INSERT INTO entries VALUES ({marks})", rows)

    def search(self, words: list[str] | tuple[str, ...], limit: int) -> list[dict[str, Any]]:
        """The best `limit` entries holding every word (bm25), as hit-like dicts."""
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self.db.execute(
            "SELECT title, message, body, format FROM entries WHERE entries MATCH ?"
            " ORDER BY bm25(entries) LIMIT ?",
            (match, limit),
        )
        return [dict(zip(("title", "message", "body", "format"), row, strict=True)) for row in rows]

    def close(self) -> None:
        """Drop the table."""
        self.db.close()


def baseline_known_item(base: Baseline, items: list[KnownItem]) -> dict[str, Any]:
    """hit@1 and hit@10 of the known-item queries."""
    return score_known(items, [base.search(item.words, 10) for item in items])


def baseline_pages(base: Baseline, words: list[str], per_page: int) -> dict[str, Any]:
    """Page-1 shares (entries: 100% by construction; repeated texts) of the common words."""
    return page_shares([base.search([word], per_page) for word in words])
