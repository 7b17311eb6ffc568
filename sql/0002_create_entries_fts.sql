-- External-content FTS5 mirror of the searchable columns, kept in sync by triggers.
-- Writers must use INSERT ... ON CONFLICT DO UPDATE, never INSERT OR REPLACE: a
-- REPLACE deletes without firing the delete trigger (no recursive triggers) and
-- leaves stale rows in the index.

CREATE VIRTUAL TABLE lupo_dialog_entries_fts USING fts5 (
    title, message, body, speaker, target,
    content = 'lupo_dialog_entries',
    content_rowid = 'dialog_entry_id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER lupo_dialog_entries_ai AFTER INSERT ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.dialog_entry_id, new.title, new.message, new.body, new.speaker, new.target);
END;

CREATE TRIGGER lupo_dialog_entries_ad AFTER DELETE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.dialog_entry_id, old.title, old.message, old.body, old.speaker, old.target);
END;

CREATE TRIGGER lupo_dialog_entries_au AFTER UPDATE OF title, message, body, speaker, target
ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.dialog_entry_id, old.title, old.message, old.body, old.speaker, old.target);
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.dialog_entry_id, new.title, new.message, new.body, new.speaker, new.target);
END;
