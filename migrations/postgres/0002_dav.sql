-- WebDAV state shared by every instance: dead properties (PROPPATCH) and locks.
-- Paths are the percent-encoded path inside a library root ("originals" or "import"),
-- without a trailing slash; the root folder itself is "/".

CREATE TABLE dav_props (
    root      TEXT NOT NULL,
    path      TEXT NOT NULL,
    parent    TEXT NOT NULL,            -- the folder holding `path`, for one query per listing
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    prefix    TEXT NOT NULL DEFAULT '',
    xml       TEXT NOT NULL,            -- the property element as sent, serialized
    PRIMARY KEY (root, path, namespace, name)
);
CREATE INDEX dav_props_parent ON dav_props (root, parent);

CREATE TABLE dav_locks (
    token        TEXT PRIMARY KEY,
    root         TEXT NOT NULL,
    path         TEXT NOT NULL,
    principal    TEXT,
    owner        TEXT,                  -- the <owner> element, serialized
    timeout_secs BIGINT,                -- NULL: infinite
    expires_at   BIGINT,                -- unix milliseconds; NULL: never
    shared       BIGINT NOT NULL,
    deep         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX dav_locks_root ON dav_locks (root, path);
