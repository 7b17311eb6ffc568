-- A change log of entry ids, read by the embedded top-k search index (indexer/topk_index.py)
-- to catch up with writes; rows it has applied are pruned. AUTOINCREMENT: a seq is
-- never reused, even after pruning, so "the last seq" (sqlite_sequence) only grows.

CREATE TABLE lupo_dialog_entry_changes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    dialog_entry_id INTEGER NOT NULL
);

CREATE TRIGGER lupo_dialog_entries_changes_ai AFTER INSERT ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (new.dialog_entry_id);
END;

CREATE TRIGGER lupo_dialog_entries_changes_au AFTER UPDATE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (new.dialog_entry_id);
END;

CREATE TRIGGER lupo_dialog_entries_changes_ad AFTER DELETE ON lupo_dialog_entries BEGIN
    INSERT INTO lupo_dialog_entry_changes (dialog_entry_id) VALUES (old.dialog_entry_id);
END;

-- Which database this is: an index built for another one (replaced, rebuilt) is rebuilt.
CREATE TABLE lupo_store_meta (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    store_uuid TEXT    NOT NULL
);

INSERT INTO lupo_store_meta (singleton, store_uuid) VALUES (1, lower(hex(randomblob(16))));
