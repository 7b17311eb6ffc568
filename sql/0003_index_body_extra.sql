-- Index the message once: the FTS5 column `body` now holds the body without the
-- message's text, which the body repeats (the `**Message:**` line of a bold entry;
-- a section's body is its heading and message). The writer computes it into
-- `body_extra` (indexer.store_rows.body_extra, cut at word boundaries so that every
-- word of the body stays in `body` or `message`); NULL means "not computed": the
-- whole body is indexed, as before.
--
-- The FTS5 table reads its columns from a view, so its column is still called
-- `body` (queries such as `body:word` and bm25's column order do not change).
-- Writers must give FTS5 exactly the values the view shows: the triggers use
-- coalesce(body_extra, body) as the view does.

DROP TRIGGER lupo_dialog_entries_ai;
DROP TRIGGER lupo_dialog_entries_ad;
DROP TRIGGER lupo_dialog_entries_au;
DROP TABLE lupo_dialog_entries_fts;

ALTER TABLE lupo_dialog_entries ADD COLUMN body_extra TEXT;

-- A section's body is its message (or its heading and message): nothing extra.
UPDATE lupo_dialog_entries SET body_extra = ''
WHERE format = 'section' AND body = coalesce(message, '');

CREATE VIEW lupo_dialog_entries_fts_content AS
SELECT dialog_entry_id, title, message, coalesce(body_extra, body) AS body, speaker, target
FROM lupo_dialog_entries;

CREATE VIRTUAL TABLE lupo_dialog_entries_fts USING fts5 (
    title, message, body, speaker, target,
    content = 'lupo_dialog_entries_fts_content',
    content_rowid = 'dialog_entry_id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts) VALUES ('rebuild');

CREATE TRIGGER lupo_dialog_entries_ai AFTER INSERT ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.dialog_entry_id, new.title, new.message, coalesce(new.body_extra, new.body),
            new.speaker, new.target);
END;

CREATE TRIGGER lupo_dialog_entries_ad AFTER DELETE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.dialog_entry_id, old.title, old.message, coalesce(old.body_extra, old.body),
            old.speaker, old.target);
END;

CREATE TRIGGER lupo_dialog_entries_au AFTER UPDATE OF title, message, body, body_extra, speaker, target
ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rowid, title, message, body, speaker, target)
    VALUES ('delete', old.dialog_entry_id, old.title, old.message, coalesce(old.body_extra, old.body),
            old.speaker, old.target);
    INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
    VALUES (new.dialog_entry_id, new.title, new.message, coalesce(new.body_extra, new.body),
            new.speaker, new.target);
END;
