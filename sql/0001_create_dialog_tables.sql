-- Files and entries, the system of record once files are indexed.
-- Names follow the Lupopedia seed (lupo_dialog_entries / lupo_dialog_files).

CREATE TABLE lupo_dialog_files (
    dialog_file_id  INTEGER PRIMARY KEY,
    file_path       TEXT    NOT NULL UNIQUE,      -- relative to the root, '/' separators
    file_type       TEXT    NOT NULL,             -- changelog, session, meeting, ... (from the name)
    entry_count     INTEGER NOT NULL DEFAULT 0,   -- dialog entries, sections not counted
    section_count   INTEGER NOT NULL DEFAULT 0,
    content_hash    TEXT    NOT NULL,             -- sha256 of the file's bytes
    size_bytes      INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    last_sync_utc   INTEGER NOT NULL,             -- YYYYMMDDHHMMSS of the last load
    problems_json   TEXT    NOT NULL DEFAULT '[]' -- [{"line": n, "message": "..."}]
);

CREATE TABLE lupo_dialog_entries (
    dialog_entry_id INTEGER PRIMARY KEY,          -- stable: see indexer/identity.py
    dialog_file     TEXT    NOT NULL REFERENCES lupo_dialog_files (file_path),
    entry_key       TEXT    NOT NULL,             -- content key (sha1 of the parsed fields)
    format          TEXT    NOT NULL,             -- header | inline | bold | begin_end | section
    speaker         TEXT,
    target          TEXT,
    mood_rgb        TEXT,                         -- 6 upper-case hex digits or NULL
    mood_raw        TEXT,
    timestamp_utc   BIGINT,                       -- YYYYMMDDHHMMSS or NULL
    message         TEXT,
    title           TEXT,
    body            TEXT    NOT NULL DEFAULT '',
    system_version  TEXT,
    line            INTEGER NOT NULL,
    end_line        INTEGER NOT NULL,
    metadata_json   TEXT    NOT NULL DEFAULT '{}'
);

-- One row per @target of an entry, so "target=@LILITH" matches "@LILITH @everyone".
CREATE TABLE lupo_dialog_entry_targets (
    dialog_entry_id INTEGER NOT NULL REFERENCES lupo_dialog_entries (dialog_entry_id) ON DELETE CASCADE,
    target          TEXT    NOT NULL,
    PRIMARY KEY (target, dialog_entry_id)
) WITHOUT ROWID;

CREATE INDEX idx_entries_file_line ON lupo_dialog_entries (dialog_file, line);
CREATE INDEX idx_entries_speaker   ON lupo_dialog_entries (speaker, timestamp_utc);
CREATE INDEX idx_entries_target    ON lupo_dialog_entries (target);
CREATE INDEX idx_entries_mood      ON lupo_dialog_entries (mood_rgb);
CREATE INDEX idx_entries_timestamp ON lupo_dialog_entries (timestamp_utc);
CREATE INDEX idx_entries_format    ON lupo_dialog_entries (format);
CREATE INDEX idx_entry_targets_entry ON lupo_dialog_entry_targets (dialog_entry_id);
