-- Copies (dialogfile/copies.py): records whose text and attributes are the same in
-- several places. `copy_key` names that content; `copy_state` says which of the
-- records sharing a key is the original (the rest are copies). The writer keeps
-- copy_state right whenever rows with a key come or go (indexer/load_sqlite.py).
-- Search folds copies by showing only originals (and the copies' places beside them).

ALTER TABLE lupo_dialog_entries ADD COLUMN copy_key TEXT;
ALTER TABLE lupo_dialog_entries ADD COLUMN copy_state TEXT NOT NULL DEFAULT 'original';

CREATE INDEX idx_entries_copy_key ON lupo_dialog_entries (copy_key);

-- Rows written before this migration have no copy_key: the next reindex reads every
-- file again (its size and mtime no longer match) and writes it.
UPDATE lupo_dialog_files SET mtime_ns = -1, content_hash = '';
