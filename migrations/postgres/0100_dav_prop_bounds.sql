-- Dead properties are counted against the user who stored them (a cap per user), and
-- every statement on them is a look-up or range scan of an index. Paths are compared
-- byte by byte (COLLATE "C"), so that "everything below /a" is the index range
-- ['/a/', '/a0') whatever the database's default collation.
ALTER TABLE dav_props ALTER COLUMN path TYPE TEXT COLLATE "C", ALTER COLUMN parent TYPE TEXT COLLATE "C";
ALTER TABLE dav_props ADD COLUMN owner TEXT NOT NULL DEFAULT '';
-- What the row costs its owner: namespace, name and value bytes, plus a fixed overhead
-- per row (so that many tiny properties are counted too).
ALTER TABLE dav_props ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE dav_props SET bytes = octet_length(namespace) + octet_length(name) + octet_length(xml) + 64;
CREATE INDEX dav_props_owner ON dav_props (owner);
