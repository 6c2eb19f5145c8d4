#!/usr/bin/env python3
"""Stores an app password (scope webdav) for a user straight in a gatehouse SQLite
database, in the exact format the server checks (SPEC §2 "App passwords"), for builds
whose CLI has no `gatehouse auth add` yet. Prints the app password.

usage: app_password.py DATABASE_FILE USERNAME
"""
import hashlib
import secrets
import sqlite3
import sys
import time
import zlib

BASE62 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def app_password() -> str:
    chars = [secrets.choice(BASE62) for _ in range(23)]
    groups = ["".join(chars[0:6]), "".join(chars[6:12]), "".join(chars[12:18]), "".join(chars[18:23])]
    body = "-".join(groups)
    return body + BASE62[zlib.crc32(body.encode()) % 62]


def main() -> None:
    db, username = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(db)
    (uid,) = conn.execute("SELECT uid FROM users WHERE username_key = ?", (username.lower(),)).fetchone()
    password = app_password()
    now = int(time.time())
    conn.execute(
        "INSERT INTO sessions (id, token_hash, user_uid, kind, name, scope, created_at, expires_at, "
        "idle_timeout, last_active) VALUES (?, ?, ?, 'app_password', 'bench', 'webdav', ?, NULL, 0, ?)",
        ("sess" + secrets.token_hex(8), hashlib.sha256(password.encode()).hexdigest(), uid, now, now),
    )
    conn.commit()
    print(password)


if __name__ == "__main__":
    main()
