"""The write service: lock, edit the file, re-parse it, bring the stores in line, answer.

The contract: the dialog file is the acknowledgement point. Every write runs
under one lock: a threading lock, an advisory flock on the dialogs folder itself
(folder_lock: other server processes serialise with it), then the
advisory `<db>.lock` that reindex takes too, waited for at most
DB_LOCK_WAIT_SECONDS (a quarter second once answers come from the files), then
WriteUnavailable ("try again"): writes never queue behind a long reindex or a stuck
recovery.
The file is written atomically (temp file, fsync, rename, fsync of the folder)
before anything else changes, so an acknowledged write is on disk before
the answer goes out; a write that cannot reach its file is a WriteUnavailable and
changed nothing.

The edit is planned (the file read, the new text made and parsed back to check it:
most of a write's work) before the lock is taken; under the lock the file is read
again and the plan stands only when the file still reads as it was planned from,
else it is planned again there. So writers wait for each other only for the file
write and the database load.

Then the written file is parsed again and loaded into the database when it can
take it: waiting at most DB_BUSY_TIMEOUT_MS for a database write lock while the
service answers from the database, not at all once it answers from the files (so
writes do not crawl while another process holds the database). When it cannot
(missing, corrupt, locked, full, or a read-only database folder where `<db>.lock`
cannot even be opened) the write still stands: the repository is told the
database is behind (`database_behind(reason)`, the search stack), answers from
the files, and its recovery brings the database up to date with the incremental
reindex. The repository reloads the file in both cases.

Errors raised (searchsvc.exceptions; errors.py maps them to HTTP): InvalidParameter
a bad dialog_file, EntryNotFound an unknown id, ReadOnlySection a section record,
EditConflict the file changed under the entry (or cannot take a new block),
InvalidEntry / UnstorableChange invalid or unstorable fields, WriteUnavailable the
file or a lock cannot be taken or written.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogfile.identity import keyed_entries, remembered_keys
from dialogfile.model import Entry, ParsedFile
from dialogfile.parse import parse_file
from dialogfile.writer import (
    EntryNotInFile,
    FileEdit,
    ReadOnlyEntry,
    UnrepresentableEdit,
    plan_append,
    plan_remove,
    plan_update,
    read_dialog_file,
    remove_stale_temp_files,
    utc_now_stamp,
    write_dialog_file,
)
from indexer.discover import read_source
from indexer.load_sqlite import file_hash, load_parsed_file
from indexer.reindex import ReindexBusy, reindex_lock
from searchsvc.exceptions import (
    EditConflict,
    EntryNotFound,
    InvalidParameter,
    ReadOnlySection,
    StoreUnavailable,
    UnstorableChange,
    WriteUnavailable,
)
from searchsvc.repository import Repository, StoredEntry
from searchsvc.writing.dialog_paths import UnsafePath, resolve_dialog_path
from searchsvc.writing.entry_input import NewEntry, validate_changes
from searchsvc.writing.folder_lock import folder_lock
from searchsvc.writing.write_connection import WriteConnections

log = logging.getLogger("searchsvc.writing.service")

DEFAULT_DIALOG_FILE = "api_dialog.md"
#: How long a write waits for another writer (this process or another) to finish.
LOCK_WAIT_SECONDS = 30.0
#: How long a write waits for `<db>.lock` (held by a reindex run) before a 503.
DB_LOCK_WAIT_SECONDS = 2.0
#: The same wait once answers come from the files: the holder is then mostly the
#: recovery's sync, which can wait on a locked database for long; answer "try again" soon.
DB_LOCK_WAIT_FILES_MODE_SECONDS = 0.25
#: How long the write-through waits for a database write lock before leaving it to recovery.
DB_BUSY_TIMEOUT_MS = 2_000
#: How many files' last parse a WriteService keeps (the files written most recently).
PARSE_CACHE_FILES = 8
#: How many entries' content keys a WriteService remembers (dialogfile.identity).
KEYS_REMEMBERED = 20_000


@dataclass(frozen=True)
class PlannedEdit:
    """An edit of `rel` at `path`, planned from the file as `before` (text, BOM; None: no file)."""

    path: Path
    rel: str
    before: tuple[str, bool] | None
    edit: FileEdit


class WriteService:
    """Create, change and delete entries in the dialog files under `root`."""

    def __init__(
        self,
        root: Path,
        db_path: Path,
        repository: Repository,
        *,
        default_file: str = DEFAULT_DIALOG_FILE,
        lock_wait: float = LOCK_WAIT_SECONDS,
        db_lock_wait: float = DB_LOCK_WAIT_SECONDS,
    ) -> None:
        self.root = Path(root)
        self.db_path = Path(db_path)
        self.repository = repository
        self.default_file = default_file
        self.lock_wait = lock_wait
        self.db_lock_wait = db_lock_wait
        # Why the write holding the lock cannot load the database (None: it can try).
        self._no_db_lock: str | None = None
        self._thread_lock = threading.Lock()
        # rel -> (text, its parse): the parse a write checked is the next write's "before".
        # Writes plan outside the write lock: this lock guards the cache.
        self._parses: OrderedDict[str, tuple[str, ParsedFile]] = OrderedDict()
        self._parses_lock = threading.Lock()
        # rel -> (content hash, its rows by entry) as last loaded: the next load makes only
        # changed rows, and compares with these while the database has that hash.
        self._rows: OrderedDict[str, tuple[str, dict[Entry, tuple[Any, ...]]]] = OrderedDict()
        self._keys: dict[Any, str] = {}
        self._keyed_files: dict[int, tuple[tuple[Entry, ...], list]] = {}
        self._connections = WriteConnections(self.db_path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the write lock: this process's threads, a flock on the dialogs folder, then
        `<db>.lock` (which reindex takes too) when that file can be opened at all.

        :raise WriteUnavailable: a lock cannot be taken in time, or the dialogs folder
            cannot be opened.
        """
        if not self._thread_lock.acquire(timeout=self.lock_wait):
            raise WriteUnavailable("Another write is still running; try again")
        try:
            if len(self._keys) > KEYS_REMEMBERED:
                self._keys.clear()
            with folder_lock(self.root, self.lock_wait), ExitStack() as stack:
                stack.enter_context(self._remembering())
                wait = self.db_lock_wait
                if not self._database_serving():
                    wait = min(wait, DB_LOCK_WAIT_FILES_MODE_SECONDS)
                try:
                    stack.enter_context(reindex_lock(self.db_path, wait))
                except ReindexBusy:
                    raise WriteUnavailable(
                        "A reindex holds the database's write lock; try again"
                    ) from None
                except OSError as error:
                    # A read-only database folder: nobody can write the database (reindex
                    # needs this file too), but the files still take the write; recovery
                    # brings the database up to date once its folder is writable again.
                    self._no_db_lock = (
                        f"the database's lock file cannot be opened ({error.strerror})"
                    )
                yield
        finally:
            self._no_db_lock = None
            self._thread_lock.release()

    def _remembering(self) -> Any:
        """Entry keys and files' keyed entries kept across writes (dialogfile.identity)."""
        return remembered_keys(self._keys, self._keyed_files)

    def _database_serving(self) -> bool:
        """Whether the repository answers from the database now (not from the files)."""
        return getattr(self.repository, "source", "database") != "files"

    def remove_stale_temp_files(self, before: float) -> list[str]:
        """Delete temp files of killed writes (ours, older than `before`), under the edit lock.

        :raise WriteUnavailable: the dialogs folder's lock cannot be taken.
        """
        with self._thread_lock, folder_lock(self.root, self.lock_wait):
            return remove_stale_temp_files(self.root, before)

    def create(self, new: NewEntry) -> StoredEntry:
        """Append `new` as an inline block to its file (created when missing).

        :raise InvalidParameter: dialog_file is not a relative .md path inside the root.
        :raise EditConflict: the file cannot take the block (it ends inside an unclosed fence).
        """
        rel = new.dialog_file if new.dialog_file is not None else self.default_file
        fields = dict(new.fields)
        now = utc_now_stamp()
        if fields.get("timestamp_utc") is None:
            fields["timestamp_utc"] = now

        def plan() -> PlannedEdit:
            path = self.resolve(rel)
            before = self._read_if_exists(path, rel)
            text = before[0] if before is not None else None
            try:
                parsed = self._parse(rel, text) if text is not None else None
                edit = plan_append(text, rel, fields, now=now, parsed=parsed)
            except UnrepresentableEdit as error:
                raise EditConflict(str(error)) from None
            return PlannedEdit(path, rel, before, edit)

        edit = self._write(plan).edit
        assert edit.entry_id is not None and edit.entry is not None  # plan_append sets both
        return self._answer(edit.entry_id, edit.entry)

    def update(self, entry_id: int, body: Any) -> StoredEntry:
        """Change the fields `body` names in the entry's own lines; answer the whole entry.

        :raise EntryNotFound: no entry has this id. :raise ReadOnlySection: a section record.
        :raise EditConflict: the file changed under the entry.
        :raise InvalidEntry: invalid fields (UnstorableChange: the entry's text cannot hold them).
        """
        stored = self._stored(entry_id)
        changes = validate_changes(body, stored.to_dict())
        rel = stored.entry.dialog_file
        if not changes:
            self._current_text(stored)  # the file must still hold the entry
            return stored

        def plan() -> PlannedEdit:
            path, text, bom = self._current_text(stored)
            try:
                edit = plan_update(text, rel, entry_id, changes, parsed=self._parse(rel, text))
            except UnrepresentableEdit as error:
                raise UnstorableChange(str(error)) from None
            except (EntryNotInFile, ReadOnlyEntry) as error:
                raise EditConflict.changed_outside(entry_id, str(error)) from None
            return PlannedEdit(path, rel, (text, bom), edit)

        edit = self._write(plan).edit
        assert edit.entry is not None  # plan_update sets it
        return self._answer(entry_id, edit.entry)

    def delete(self, entry_id: int) -> None:
        """Remove the entry's lines from its file.

        :raise EntryNotFound: no entry has this id. :raise ReadOnlySection: a section record.
        :raise EditConflict: the file changed under the entry, or the removal would change
            another entry.
        """
        stored = self._stored(entry_id)
        rel = stored.entry.dialog_file

        def plan() -> PlannedEdit:
            path, text, bom = self._current_text(stored)
            try:
                edit = plan_remove(text, rel, entry_id, parsed=self._parse(rel, text))
            except (UnrepresentableEdit, EntryNotInFile, ReadOnlyEntry) as error:
                raise EditConflict.changed_outside(entry_id, str(error)) from None
            return PlannedEdit(path, rel, (text, bom), edit)

        self._write(plan)

    def _write(self, plan: Callable[[], PlannedEdit]) -> PlannedEdit:
        """Plan the edit, then commit it under the lock if the file still reads as it was
        planned from; else plan it again under the lock (another write came first)."""
        with self._remembering():
            planned = plan()
        with self.locked():
            if not self._still_as_planned(planned):
                planned = plan()
            self._commit(planned)
        self._reads_follow()
        return planned

    def _still_as_planned(self, planned: PlannedEdit) -> bool:
        """Whether the file at `planned.path` still reads as `before`. (Its path is not
        resolved again: each check of a path is a system call, which gives up the GIL.)"""
        return self._read_if_exists(planned.path, planned.rel) == planned.before

    def _reads_follow(self) -> None:
        """Once the lock is free: the repository readies its search views for the writer's
        next search (the top-k engine's delta), so the write costs other writers nothing."""
        follow = getattr(self.repository, "writes_done", None)
        if follow is not None:
            follow()

    def _stored(self, entry_id: int) -> StoredEntry:
        try:
            stored = self.repository.get_entry(entry_id)
        except StoreUnavailable as error:
            raise WriteUnavailable(f"The entry cannot be read now: {error}") from None
        if stored is None:
            raise EntryNotFound(entry_id)
        if stored.entry.format == "section":
            raise ReadOnlySection(entry_id)
        return stored

    def resolve(self, rel: str) -> Path:
        """The checked real path of `rel`; :raise InvalidParameter: an unsafe dialog_file."""
        try:
            return resolve_dialog_path(self.root, rel)
        except UnsafePath as error:
            raise InvalidParameter("dialog_file", str(error)) from None

    def _read_if_exists(self, path: Path, rel: str) -> tuple[str, bool] | None:
        return self.read(path, rel) if path.exists() else None

    def read(self, path: Path, rel: str) -> tuple[str, bool]:
        """(text, BOM) of a dialog file; :raise WriteUnavailable: it cannot be read."""
        try:
            return read_dialog_file(path)
        except OSError as error:
            raise WriteUnavailable(f"Cannot read {rel}: {error.strerror}") from None

    def _current_text(self, stored: StoredEntry) -> tuple[Path, str, bool]:
        """The entry's file and text, checking that the file still holds the entry as read.

        :raise EditConflict: the file is gone, unsafe (e.g. a symbolic link now leads out
            of the root), or no longer holds this entry with the same body.
        """
        rel = stored.entry.dialog_file
        try:
            path = resolve_dialog_path(self.root, rel)
        except UnsafePath as error:
            raise EditConflict(str(error), entry_id=stored.entry_id) from None
        if not path.exists():
            raise EditConflict.changed_outside(stored.entry_id, f"{rel} no longer exists")
        text, bom = self.read(path, rel)
        in_file = {
            entry_id: entry for entry_id, _, entry in keyed_entries(self._parse(rel, text).entries)
        }
        current = in_file.get(stored.entry_id)
        if current is None or current.body != stored.entry.body:
            raise EditConflict.changed_outside(
                stored.entry_id, f"{rel} changed since the entry was read"
            )
        return path, text, bom

    def _parse(self, rel: str, text: str) -> ParsedFile:
        """parse_file(text, rel), reusing the parse of the last write to the same text."""
        with self._parses_lock:
            cached = self._parses.get(rel)
        if cached is not None and cached[0] == text:
            return cached[1]
        parsed = parse_file(text, rel)
        self._remember(rel, text, parsed)
        return parsed

    def _keep_rows(self, rel: str, content_hash: str, rows: dict[Entry, tuple[Any, ...]]) -> None:
        self._rows[rel] = (content_hash, rows)
        while len(self._rows) > PARSE_CACHE_FILES:
            self._rows.popitem(last=False)

    def _remember(self, rel: str, text: str, parsed: ParsedFile) -> None:
        with self._parses_lock:
            self._parses[rel] = (text, parsed)
            self._parses.move_to_end(rel)
            while len(self._parses) > PARSE_CACHE_FILES:
                self._parses.popitem(last=False)

    def _commit(self, planned: PlannedEdit) -> None:
        """Write the file (the acknowledgement point), then bring the stores in line."""
        path, rel, edit = planned.path, planned.rel, planned.edit
        bom = planned.before[1] if planned.before is not None else False
        try:
            write_dialog_file(path, edit.text, bom=bom)
        except (OSError, UnicodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise WriteUnavailable(f"Cannot write {rel}: {reason}; nothing was changed") from None
        if edit.parsed is not None:
            self._remember(rel, edit.text, edit.parsed)
        if self.load_file(rel, edit.parsed, edit.text):
            # The file as written is in the database: the watcher need not read it again.
            wrote = getattr(self.repository, "wrote", None)
            if wrote is not None:
                wrote(rel, path)

    def _answer(self, entry_id: int, entry: Entry) -> StoredEntry:
        """The entry as the repository now serves it (as parsed, if it cannot say)."""
        try:
            stored = self.repository.get_entry(entry_id)
        except StoreUnavailable:
            stored = None  # the write stands (it is in the file); answer it as parsed
        return stored if stored is not None else StoredEntry(entry_id, entry)

    def load_file(
        self, rel: str, parsed: ParsedFile | None = None, text: str | None = None
    ) -> bool:
        """Load the file `rel` into the database if it can take it now; tell the repository.

        Returns False when the database could not take it: the repository is then
        told the database is behind the files (`database_behind`, when it has
        that hook: the search stack answers from the files and its recovery
        syncs files -> database), so the acknowledged write is never hidden.
        `parsed` (the parse of `text`) spares a parse when the file still holds `text`.
        """
        missed = self._load_into_database(rel, parsed, text)
        try:
            self.repository.reload_file(rel)
        except StoreUnavailable as error:
            log.warning("write to %s: repository could not reload it: %s", rel, error)
        if missed is None:
            return True
        behind = getattr(self.repository, "database_behind", None)
        if behind is not None:
            behind(f"a write to {rel} did not reach the database ({missed})")
        return False

    def _load_into_database(
        self, rel: str, parsed: ParsedFile | None, text: str | None
    ) -> str | None:
        """Load `rel` into the database; None when done, else why it could not."""
        if not self.db_path.is_file():
            # Never create a database here: an empty one holding one file would look healthy.
            return "the database file is missing"
        if self._no_db_lock is not None:
            return self._no_db_lock
        # Once answers come from the files, recovery syncs anyway: no busy wait then.
        patient = self._database_serving()
        try:
            conn = self._connections.open(DB_BUSY_TIMEOUT_MS if patient else 0)
        except Exception as error:  # noqa: BLE001 - the file stands; recovery repairs the rest
            log.warning("write to %s: database unavailable (%s); files only for now", rel, error)
            self._connections.failed()
            return str(error) or type(error).__name__
        try:
            source = read_source(self.root, rel)
            if parsed is None or source.text != text:
                parsed = parse_file(source.text, rel)
            known_hash, known = self._rows.pop(rel, (None, {}))
            conn.execute("BEGIN IMMEDIATE")
            try:
                # The database holds the rows of this service's last load of the file while
                # its file row has that load's hash: compared with them, not read back.
                loaded = known_hash is not None and file_hash(conn, rel) == known_hash
                load_parsed_file(conn, source, parsed, known_rows=known, rows_loaded=loaded)
                conn.execute("COMMIT")
                self._keep_rows(rel, source.content_hash, known)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as error:  # noqa: BLE001 - the file stands; recovery repairs the rest
            # sqlite3 errors and OSError, but also a damaged database's undecodable text:
            # the write is already in its file, so it is never answered with a 500.
            log.warning("write to %s: database unavailable (%s); files only for now", rel, error)
            self._connections.failed()
            return str(error) or type(error).__name__
        finally:
            conn.close()
        return None
