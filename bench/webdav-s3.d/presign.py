#!/usr/bin/env python3
"""Prints an AWS Signature V4 presigned URL (query-string auth, UNSIGNED-PAYLOAD), so
curl and wrk can talk to the S3 API directly without signing each request.

Usage: presign.py METHOD URL [SECONDS]
  URL is path-style: http://HOST:PORT/BUCKET/KEY[?query]; SECONDS defaults to 3600.
Environment: S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION (default us-east-1).
Standard library only.
"""
import datetime
import hashlib
import hmac
import os
import sys
import urllib.parse


def enc(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    method, url = sys.argv[1].upper(), sys.argv[2]
    expires = sys.argv[3] if len(sys.argv) == 4 else "3600"
    key = os.environ["S3_ACCESS_KEY_ID"]
    secret = os.environ["S3_SECRET_ACCESS_KEY"]
    region = os.environ.get("S3_REGION", "us-east-1")

    u = urllib.parse.urlsplit(url)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"

    query = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    query += [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", expires),
        ("X-Amz-SignedHeaders", "host"),
    ]
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in query))
    path = urllib.parse.quote(urllib.parse.unquote(u.path) or "/", safe="/-_.~")
    canonical = "\n".join([method, path, canonical_query, f"host:{u.netloc}", "", "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(k: bytes, msg: str) -> bytes:
        return hmac.new(k, msg.encode(), hashlib.sha256).digest()

    signing_key = mac(mac(mac(mac(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    print(f"{u.scheme}://{u.netloc}{path}?{canonical_query}&X-Amz-Signature={signature}")


if __name__ == "__main__":
    main()
