-- Copies are now known by what search sees of a record (dialogfile/copies.py): its
-- words (case, accents, punctuation and mojibake aside), its people by their name
-- keys, its colour as indexed. Garbled words are also indexed as they were meant
-- (`body_extra`, dialogfile/mojibake.py). Both are written by the reindex: the next
-- one reads every file again (its size and mtime no longer match), writes the new
-- keys and sets which record of each key is the original.
UPDATE lupo_dialog_files SET mtime_ns = -1, content_hash = '';
