"""One check's outcome as a row of the reliability table (docs/reliability.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CheckResult:
    """What a check did, what held, what failed, and how to run it again."""

    name: str
    did: dict[str, Any] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_row(self) -> str:
        """A Markdown table row: check | did | held | command."""
        did = ", ".join(f"{key} {value}" for key, value in self.did.items())
        held = ", ".join(f"{key} {value}" for key, value in self.held.items())
        status = "ok" if self.ok else f"FAILED ({len(self.problems)})"
        return f"| {self.name} | {did} | {held} | {status} | `{self.command}` |"

    def save(self, folder: Path) -> None:
        """Write the result as JSON into `folder` (scripts/soak collects them)."""
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in self.name.lower())
        (folder / f"{name}.json").write_text(json.dumps(asdict(self), indent=1, default=str))


TABLE_HEADER = "| check | did | held | result | reproduce |\n|---|---|---|---|---|"


def table(results: list[CheckResult]) -> str:
    """The reliability table for `results`."""
    return "\n".join([TABLE_HEADER, *(result.as_row() for result in results)])


def save_if_asked(result: CheckResult) -> None:
    """Save `result` into $RELIABILITY_RESULTS when scripts/soak set it."""
    folder = os.environ.get("RELIABILITY_RESULTS")
    if folder:
        result.save(Path(folder))
