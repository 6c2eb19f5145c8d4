"""A sync app's journey with webdavclient3 (PyPI), an independent WebDAV client library:
upload, list, download byte-identical, copy, move, delete and make folders, with names
that need percent-encoding (spaces, &, (, ), #, %) and non-ASCII letters.

Driven by tests/webdav_client.rs, which passes the server in the environment:
GATEHOUSE_DAV_URL (the library's URL), GATEHOUSE_DAV_USER, GATEHOUSE_DAV_PASSWORD.
Prints what it leaves behind (one `LEFT path` line each) so the Rust test can compare it with
the folder on disk; any failed check exits non-zero with the reason.

(webdav4, the other Python client, cannot send a `#` in a path: httpx refuses it.)
"""

import io
import os
import sys

from urllib.parse import urlsplit

from webdav3.client import Client

FOLDER = "Fotos (2024) & more #1 été"
NAMES = [
    "a b.txt",
    "rock & roll (live) #3.bin",
    "100% sure.txt",
    "café crème.jpg",
    "日本 写真.png",
    "party 🎉 2024.mov",
]


def content(name: str) -> bytes:
    """Distinct bytes per file, with every byte value and a size past one chunk."""
    seed = sum(name.encode())
    return bytes((i * 7 + seed) % 256 for i in range(70_000 + seed))


def names(client: Client, path: str) -> list:
    """The names listed in a folder, without the folder itself (webdavclient3 leaves it
    in when its name has a `#`: it splits the decoded href at the `#` as a fragment)."""
    own = path.rstrip("/").rsplit("/", 1)[-1]
    return sorted(n for n in (name.rstrip("/") for name in client.list(path)) if n != own)


def check(cond: bool, what: str) -> None:
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def exists(client: Client, path: str) -> bool:
    """Whether the parent folder lists `path`."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return name in names(client, parent or "/")


def download(client: Client, path: str) -> bytes:
    out = io.BytesIO()
    client.download_from(out, path)
    return out.getvalue()


def main() -> None:
    url = urlsplit(os.environ["GATEHOUSE_DAV_URL"])
    client = Client(
        {
            "webdav_hostname": f"{url.scheme}://{url.netloc}",
            "webdav_root": url.path,
            "webdav_login": os.environ["GATEHOUSE_DAV_USER"],
            "webdav_password": os.environ["GATEHOUSE_DAV_PASSWORD"],
            "webdav_timeout": 60,
            # Its existence check is a HEAD, which a folder answers with 405 here.
            "disable_check": True,
        }
    )
    client.mkdir(FOLDER)
    check(client.is_dir(FOLDER), "the new folder is a folder")
    for name in NAMES:
        client.upload_to(io.BytesIO(content(name)), f"{FOLDER}/{name}")
    listed = names(client, FOLDER)
    check(listed == sorted(NAMES), f"the folder lists what was uploaded: {listed}")
    for entry in client.list(FOLDER, get_info=True):
        name = entry["path"].rstrip("/").rsplit("/", 1)[-1]
        if name == FOLDER:
            continue
        check(not entry["isdir"], f"{name} is a file")
        check(int(entry["size"]) == len(content(name)), f"{name} has its size: {entry}")
    for name in NAMES:
        check(download(client, f"{FOLDER}/{name}") == content(name), f"{name} comes back byte-identical")

    # Copy a file and the whole folder; move and rename; delete.
    client.copy(f"{FOLDER}/{NAMES[1]}", f"{FOLDER}/copy of {NAMES[1]}")
    check(download(client, f"{FOLDER}/copy of {NAMES[1]}") == content(NAMES[1]), "the copy is identical")
    client.mkdir("Archiv #2 (alt) & 日本")
    client.copy(FOLDER, "Archiv #2 (alt) & 日本/copied 🎉", depth="infinity")
    copied = names(client, "Archiv #2 (alt) & 日本/copied 🎉")
    check(copied == sorted(NAMES + [f"copy of {NAMES[1]}"]), f"the folder copy has everything: {copied}")
    client.move(f"{FOLDER}/{NAMES[4]}", f"Archiv #2 (alt) & 日本/moved 100% ✓.png")
    check(not exists(client, f"{FOLDER}/{NAMES[4]}"), "a moved file is gone from where it was")
    check(
        download(client, "Archiv #2 (alt) & 日本/moved 100% ✓.png") == content(NAMES[4]),
        "a moved file keeps its bytes",
    )
    client.move(FOLDER, "Renamed (ok) & done #3 ñ")
    check(not exists(client, FOLDER), "a moved folder is gone from where it was")
    client.clean(f"Renamed (ok) & done #3 ñ/{NAMES[0]}")
    client.clean("Archiv #2 (alt) & 日本/copied 🎉")
    check(not exists(client, "Archiv #2 (alt) & 日本/copied 🎉"), "a deleted folder is gone")

    expected = {
        "Renamed (ok) & done #3 ñ": sorted(n for n in NAMES + [f"copy of {NAMES[1]}"] if n not in (NAMES[0], NAMES[4])),
        "Archiv #2 (alt) & 日本": ["moved 100% ✓.png"],
    }
    check(names(client, "/") == sorted(expected), f"the library lists the two folders: {names(client, '/')}")
    for folder, inside in expected.items():
        check(names(client, folder) == inside, f"{folder} lists {inside}: {names(client, folder)}")
        for name in inside:
            print(f"LEFT {folder}/{name}")


if __name__ == "__main__":
    main()
