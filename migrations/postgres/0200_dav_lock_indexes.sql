-- Lock look-ups that do not grow with the locks others hold (issue 17): the sweep of
-- expired locks and the count of one user's locks each get an index. Paths below a
-- folder are a range of keys compared byte by byte, so they get an index in the "C"
-- collation, whatever the database's own collation orders.
CREATE INDEX dav_locks_expiry ON dav_locks (expires_at);
CREATE INDEX dav_locks_principal ON dav_locks (principal);
CREATE INDEX dav_locks_tree ON dav_locks (root, (path COLLATE "C"));
