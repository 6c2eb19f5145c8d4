-- The library on S3: what an object store cannot keep for us.
-- Modification times a client gave a file (X-OC-MTime, PROPPATCH), valid only while
-- the object still has the entity tag it had then (a later upload makes it stale).
CREATE TABLE object_mtimes (
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    parent TEXT NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms BIGINT NOT NULL,
    PRIMARY KEY (bucket, object_key)
);
CREATE INDEX object_mtimes_parent ON object_mtimes (bucket, parent);

-- Multipart uploads in progress, so that one abandoned by a crashed instance is found
-- and aborted by housekeeping on any instance.
CREATE TABLE object_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    touched_ms BIGINT NOT NULL
);
CREATE INDEX object_uploads_touched ON object_uploads (touched_ms);
