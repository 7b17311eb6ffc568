-- What a Meilisearch index holds, per dialog file, so an incremental push moves only
-- files that changed since they were last pushed (and a failed push is retried).
-- index_key names one index incarnation: "<url> <index uid> <createdAt>"; an index
-- that is deleted and created again gets a new key, so every file is pushed again.
-- A row is written only after every task of that file's push succeeded.

CREATE TABLE meili_sync (
    index_key      TEXT    NOT NULL,
    dialog_file    TEXT    NOT NULL,          -- lupo_dialog_files.file_path
    content_hash   TEXT    NOT NULL,          -- the file's sha256 when it was pushed
    documents      INTEGER NOT NULL,          -- documents pushed for the file
    pushed_at_utc  INTEGER NOT NULL,          -- YYYYMMDDHHMMSS
    PRIMARY KEY (index_key, dialog_file)
) WITHOUT ROWID;
