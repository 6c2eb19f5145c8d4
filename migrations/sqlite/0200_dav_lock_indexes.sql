-- Lock look-ups that do not grow with the locks others hold (issue 17): the sweep of
-- expired locks and the count of one user's locks each get an index; paths above and
-- below a lock are searched in dav_locks_root (root, path), byte by byte.
CREATE INDEX dav_locks_expiry ON dav_locks (expires_at);
CREATE INDEX dav_locks_principal ON dav_locks (principal);
