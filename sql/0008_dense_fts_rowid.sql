-- A dense internal rowid for the entries, and FTS5 without prefix indexes (issue 15).
--
-- The FTS5 index keyed its rows by the public ids, 53-bit hashes: the gaps between
-- them made every doclist about twice the size dense rowids give, and inserting rows
-- in hash order scattered them over the whole table. Now each entry has a small
-- internal `entry_rowid` (the table's rowid, new rows at the end), which is what FTS5
-- indexes; `dialog_entry_id` stays the stable public id (UNIQUE), and every query that
-- reads FTS5 maps its rowids back to it. Never shown, never stable: a full reindex
-- numbers the rows again.
--
-- The prefix indexes ('2 3') are gone: the top-k index answers prefix and as-you-type
-- queries; FTS5 (its fallback) expands a prefix from its term list instead, which is
-- slower for two- and three-letter prefixes only (docs/search-index.md). They tripled
-- the cost of building the index and doubled its size.
--
-- SQLite cannot change a primary key in place: the tables are made again and the rows
-- copied (in id order, so a migrated database numbers its rows in id order). The target
-- rows are kept aside while the entries are dropped, as dropping a table deletes its
-- rows first and ON DELETE CASCADE would take them along. The store id and change log
-- stay: ids and contents do not change, so the top-k index stays current.

DROP TRIGGER lupo_dialog_entries_ai;
DROP TRIGGER lupo_dialog_entries_ad;
DROP TRIGGER lupo_dialog_entries_au;
DROP TRIGGER lupo_dialog_entries_changes_ai;
DROP TRIGGER lupo_dialog_entries_changes_au;
DROP TRIGGER lupo_dialog_entries_changes_ad;
DROP TABLE lupo_dialog_entries_fts;
DROP VIEW lupo_dialog_entries_fts_content;

CREATE TABLE lupo_dialog_entries_0008 (
    entry_rowid     INTEGER PRIMARY KEY,          -- internal, dense: the FTS5 rowid
    dialog_entry_id INTEGER NOT NULL UNIQUE,      -- stable: see dialogfile/identity.py
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
    metadata_json   TEXT    NOT NULL DEFAULT '{}',
    body_extra      TEXT,                         -- what FTS5 indexes as `body` (sql/0003)
    copy_key        TEXT,                         -- sql/0006
    copy_state      TEXT    NOT NULL DEFAULT 'original'
);

INSERT INTO lupo_dialog_entries_0008 (
    dialog_entry_id, dialog_file, entry_key, format, speaker, target, mood_rgb, mood_raw,
    timestamp_utc, message, title, body, system_version, line, end_line, metadata_json,
    body_extra, copy_key, copy_state
)
SELECT
    dialog_entry_id, dialog_file, entry_key, format, speaker, target, mood_rgb, mood_raw,
    timestamp_utc, message, title, body, system_version, line, end_line, metadata_json,
    body_extra, copy_key, copy_state
FROM lupo_dialog_entries ORDER BY dialog_entry_id;

CREATE TABLE lupo_dialog_entry_targets_0008 AS
SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets;

DROP TABLE lupo_dialog_entry_targets;
DROP TABLE lupo_dialog_entries;
ALTER TABLE lupo_dialog_entries_0008 RENAME TO lupo_dialog_entries;

CREATE TABLE lupo_dialog_entry_targets (
    dialog_entry_id INTEGER NOT NULL REFERENCES lupo_dialog_entries (dialog_entry_id) ON DELETE CASCADE,
    target          TEXT    NOT NULL,
    PRIMARY KEY (target, dialog_entry_id)
) WITHOUT ROWID;

INSERT INTO lupo_dialog_entry_targets (dialog_entry_id, target)
SELECT dialog_entry_id, target FROM lupo_dialog_entry_targets_0008;

DROP TABLE lupo_dialog_entry_targets_0008;

-- An index holds the rowid after its columns: it was the id, now the id is named where
-- queries order by it (newest first, an entry's neighbours). No query reads target
-- through an index (target filters and facets use the target rows): no idx_entries_target.
CREATE INDEX idx_entries_file_line ON lupo_dialog_entries (dialog_file, line, dialog_entry_id);
CREATE INDEX idx_entries_speaker   ON lupo_dialog_entries (speaker, timestamp_utc, dialog_entry_id);
CREATE INDEX idx_entries_mood      ON lupo_dialog_entries (mood_rgb);
CREATE INDEX idx_entries_timestamp ON lupo_dialog_entries (timestamp_utc, dialog_entry_id);
CREATE INDEX idx_entries_format    ON lupo_dialog_entries (format);
CREATE INDEX idx_entries_copy_key  ON lupo_dialog_entries (copy_key);
CREATE INDEX idx_entry_targets_entry ON lupo_dialog_entry_targets (dialog_entry_id);

CREATE VIEW lupo_dialog_entries_fts_content AS
SELECT entry_rowid, title, message, coalesce(body_extra, body) AS body, speaker, target
FROM lupo_dialog_entries;

CREATE VIRTUAL TABLE lupo_dialog_entries_fts USING fts5 (
    title, message, body, speaker, target,
    content = 'lupo_dialog_entries_fts_content',
    content_rowid = 'entry_rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts) VALUES ('rebuild');

CREATE TRIGGER lupo_dialog_entries_ai AFTER INSERT ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.entry_rowid, new.title, new.message, coalesce(new.body_extra, new.body),
            new.speaker, new.target);
END;

CREATE TRIGGER lupo_dialog_entries_ad AFTER DELETE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.entry_rowid, old.title, old.message, coalesce(old.body_extra, old.body),
            old.speaker, old.target);
END;

CREATE TRIGGER lupo_dialog_entries_au AFTER UPDATE OF title, message, body, body_extra, speaker, target
ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.entry_rowid, old.title, old.message, coalesce(old.body_extra, old.body),
            old.speaker, old.target);
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.entry_rowid, new.title, new.message, coalesce(new.body_extra, new.body),
            new.speaker, new.target);
END;

CREATE TRIGGER lupo_dialog_entries_changes_ai AFTER INSERT ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (new.dialog_entry_id);
END;

CREATE TRIGGER lupo_dialog_entries_changes_au AFTER UPDATE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (new.dialog_entry_id);
END;

CREATE TRIGGER lupo_dialog_entries_changes_ad AFTER DELETE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (old.dialog_entry_id);
END;
