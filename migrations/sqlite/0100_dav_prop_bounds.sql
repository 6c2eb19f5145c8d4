-- Dead properties are counted against the user who stored them (a cap per user), and
-- every statement on them is a look-up or range scan of an index.
ALTER TABLE dav_props ADD COLUMN owner TEXT NOT NULL DEFAULT '';
-- What the row costs its owner: namespace, name and value bytes, plus a fixed overhead
-- per row (so that many tiny properties are counted too).
ALTER TABLE dav_props ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE dav_props SET bytes = length(CAST(namespace AS BLOB)) + length(CAST(name AS BLOB))
    + length(CAST(xml AS BLOB)) + 64;
CREATE INDEX dav_props_owner ON dav_props (owner);
