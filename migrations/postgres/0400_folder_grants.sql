-- Who reaches which folders of the library (domain::access). A row gives an account a
-- folder (`/originals/…`, `/import/…`, or `/` for the whole library) with an access
-- level; `home` marks the account's home rows (`users add --home`), the rest are shares.
CREATE TABLE folder_grants (
    uid        TEXT NOT NULL,
    path       TEXT NOT NULL,
    access     TEXT NOT NULL,
    home       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (uid, path)
);

-- Upgrading changes no one's access: every existing WebDAV account keeps the whole
-- library (the log says so once, README "Upgrading"); the others get their homes.
INSERT INTO folder_grants (uid, path, access, home, created_at)
    SELECT uid, '/', 'write', 1, 0 FROM users WHERE webdav <> 0 AND deleted_at IS NULL;
INSERT INTO folder_grants (uid, path, access, home, created_at)
    SELECT uid, '/originals/' || username, 'write', 1, 0 FROM users WHERE webdav = 0 AND deleted_at IS NULL;
INSERT INTO folder_grants (uid, path, access, home, created_at)
    SELECT uid, '/import/' || username, 'write', 1, 0 FROM users WHERE webdav = 0 AND deleted_at IS NULL;
INSERT INTO settings (name, value)
    SELECT 'notice:whole_library_grants', CAST(COUNT(*) AS TEXT) FROM users
    WHERE webdav <> 0 AND deleted_at IS NULL AND role <> 'admin'
    HAVING COUNT(*) > 0;

-- An app password may be limited to one folder and one level ('' = not limited).
ALTER TABLE sessions ADD COLUMN dav_path TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN dav_access TEXT NOT NULL DEFAULT '';
