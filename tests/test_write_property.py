"""Property: after any API write sequence, a full reindex of the files equals the live database."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from support.fixtures_writes import AUTH, ENTRY_COLUMNS, db_rows, make_app, make_root

from indexer.reindex import reindex

FILES = ["api_dialog.md", "team_dialog.md", "sub/notes.md"]
# Text the formats can all hold: one paragraph, no leading `>`, no `**Label:**` lines.
words = (
    st.text(
        st.characters(whitelist_categories=("L", "N"), whitelist_characters=" .,!?@#-'\"é"),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(lambda text: text and text[0] not in "\"'#>-" and text[-1] not in "\"'")
)
speakers = st.sampled_from(["KIRO", "LILITH", "CAPTAIN WOLFIE", "Rosé"])
targets = st.none() | st.sampled_from(["@everyone", "@KIRO @LILITH"])
moods = st.none() | st.sampled_from(["0066FF", "ff0000"])
COLUMNS = ENTRY_COLUMNS.split(", ")


class WriteThrough(RuleBasedStateMachine):
    """Random POST/PUT/DELETE through the Flask client over a temporary root and database."""

    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="write-property-"))
        self.root, self.db = make_root(self.tmp)
        self.app = make_app(self.root, self.db)
        self.client = self.app.test_client()

    @initialize(target=entries)
    def seed_entries(self) -> MultipleResults[int]:
        hits = self.client.get("/api/dialog/entries?per_page=100").get_json()["hits"]
        return multiple(*(hit["dialog_entry_id"] for hit in hits if hit["format"] != "section"))

    @rule(
        target=entries,
        speaker=speakers,
        message=words,
        target_=targets,
        mood=moods,
        dialog_file=st.sampled_from(FILES),
    )
    def post(
        self, speaker: str, message: str, target_: str | None, mood: str | None, dialog_file: str
    ) -> int:
        body = {"speaker": speaker, "message": message, "target": target_, "mood_rgb": mood}
        body["dialog_file"] = dialog_file
        response = self.client.post("/api/dialog/entry", json=body, headers=AUTH)
        assert response.status_code == 201, response.get_json()
        entry = response.get_json()
        assert (entry["speaker"], entry["message"], entry["target"]) == (speaker, message, target_)
        return entry["dialog_entry_id"]

    @rule(entry_id=entries, message=st.none() | words, target_=st.none() | targets)
    def put(self, entry_id: int, message: str | None, target_: str | None) -> None:
        body = {"message": message} if message is not None else {"target": target_}
        response = self.client.put(f"/api/dialog/entry/{entry_id}", json=body, headers=AUTH)
        # 404: deleted earlier. Every format can hold these values, so never a 422.
        assert response.status_code in (200, 404), response.get_json()
        if response.status_code == 200:
            entry = response.get_json()
            assert entry["dialog_entry_id"] == entry_id
            assert all(entry[name] == value for name, value in body.items())

    @rule(entry_id=entries)
    def delete(self, entry_id: int) -> None:
        response = self.client.delete(f"/api/dialog/entry/{entry_id}", headers=AUTH)
        assert response.status_code in (200, 404), response.get_json()
        if response.status_code == 200:
            get = self.client.get(f"/api/dialog/entry/{entry_id}")
            assert get.status_code == 404

    @invariant()
    def no_lock_or_temp_files_left_in_the_root(self) -> None:
        assert not [p for p in self.root.rglob("*") if p.name.endswith(".tmp")]

    def teardown(self) -> None:
        try:
            fresh = self.tmp / "fresh.db"
            reindex(self.root, fresh, full=True)
            live, rebuilt = db_rows(self.db), db_rows(fresh)
            assert [row[0] for row in live] == [row[0] for row in rebuilt]
            for live_row, fresh_row in zip(live, rebuilt, strict=True):
                assert dict(zip(COLUMNS, live_row, strict=True)) == dict(
                    zip(COLUMNS, fresh_row, strict=True)
                )
        finally:
            self.app.extensions["dialogsearch"].close()
            shutil.rmtree(self.tmp, ignore_errors=True)


WriteThrough.TestCase.settings = settings(
    max_examples=20, stateful_step_count=15, deadline=None, print_blob=True
)
test_write_through = WriteThrough.TestCase
