-- How many records share each record's copy_key (dialogfile/copies.py): 1 for a record
-- without copies. Search weighs it in relevance (dialogfile.copies.copy_weight); the
-- writer keeps it right with copy_state whenever rows with a key come or go
-- (indexer/load_sqlite.py, refresh_copies).

ALTER TABLE lupo_dialog_entries ADD COLUMN copy_count INTEGER NOT NULL DEFAULT 1;

UPDATE lupo_dialog_entries SET copy_count = (
    SELECT count(*) FROM lupo_dialog_entries c WHERE c.copy_key = lupo_dialog_entries.copy_key
)
WHERE copy_key IN (
    SELECT copy_key FROM lupo_dialog_entries WHERE copy_key NOT NULL
    GROUP BY copy_key HAVING count(*) > 1
);
