//! The S3 requests the library needs, signed with AWS Signature Version 4, path-style
//! (`ENDPOINT/BUCKET/KEY`): list one folder level, head, ranged get, put, server-side
//! copy, delete, and multipart uploads. Bodies stream; nothing is buffered beyond the
//! part being sent. Signing uses the real wall clock (the server checks it), and the
//! payload is sent unsigned (`UNSIGNED-PAYLOAD`) so an upload streams in one pass.

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt as _};
use hmac::{KeyInit as _, Mac as _};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How to reach a bucket.
#[derive(Clone)]
pub struct S3Config {
    /// `http://host:port` or `https://host`, without a trailing slash.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One bucket, through one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: S3Config,
    /// `host[:port]` as signed.
    host: String,
    pub bucket: String,
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: Vec<u8>,
    pub size: u64,
    pub modified: SystemTime,
    pub etag: String,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<Object>,
    /// Folder prefixes (with a delimiter).
    pub prefixes: Vec<Vec<u8>>,
    pub next: Option<String>,
}

/// What a HEAD shows.
#[derive(Debug, Clone)]
pub struct Head {
    pub size: u64,
    pub modified: SystemTime,
    pub etag: String,
}

/// Bytes that may appear unencoded in a signed path or query (RFC 3986 unreserved).
fn encode(out: &mut String, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a time.
fn amz_date(t: SystemTime) -> String {
    let t = crate::clock::calendar(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Turns a failed answer into an `io::Error` whose kind says what happened.
fn refusal(status: StatusCode, code: &str) -> io::Error {
    let kind = match status {
        StatusCode::NOT_FOUND => io::ErrorKind::NotFound,
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => io::ErrorKind::PermissionDenied,
        StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => io::ErrorKind::AlreadyExists,
        StatusCode::RANGE_NOT_SATISFIABLE => io::ErrorKind::InvalidInput,
        StatusCode::INSUFFICIENT_STORAGE => io::ErrorKind::StorageFull,
        _ if code == "EntityTooLarge" => io::ErrorKind::FileTooLarge,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("S3 answered {status} {code}"))
}

fn transport(e: &reqwest::Error) -> io::Error {
    let kind = if e.is_timeout() { io::ErrorKind::TimedOut } else { io::ErrorKind::ConnectionRefused };
    io::Error::new(
        kind,
        format!("S3 request failed: {}", std::error::Error::source(e).map_or_else(|| e.to_string(), |s| s.to_string())),
    )
}

/// The text of the first child element `name` of `e`.
fn child_text(e: &xmltree::Element, name: &str) -> Option<String> {
    e.get_child(name).and_then(|c| c.get_text()).map(|t| t.into_owned())
}

fn parse_xml(body: &[u8]) -> io::Result<xmltree::Element> {
    xmltree::Element::parse(body).map_err(|e| io::Error::other(format!("S3 answered XML that does not parse: {e}")))
}

/// The text of the first `<tag>…</tag>` in `xml`, entities decoded.
fn element<'a>(xml: &'a str, tag: &str) -> Option<std::borrow::Cow<'a, str>> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find("</")?;
    Some(unescape(&xml[start..end]))
}

/// The `<tag>…</tag>` blocks of `xml`, in order.
fn blocks<'a>(xml: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let end = start + rest[start..].find(&close)?;
        let block = &rest[start..end];
        rest = &rest[end + close.len()..];
        Some(block)
    })
}

/// XML character data with its five entities and character references decoded.
fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// A ListObjectsV2 answer, read by a scanner made for its flat shape (a DOM of a
/// thousand entries cost more than the rest of a PROPFIND).
fn parse_listing(body: &[u8]) -> io::Result<Page> {
    let xml = std::str::from_utf8(body).map_err(|_| io::Error::other("S3 answered a listing that is not UTF-8"))?;
    if !xml.contains("<ListBucketResult") {
        return Err(io::Error::other("S3 answered something other than a listing"));
    }
    let mut page = Page::default();
    for c in blocks(xml, "Contents") {
        let Some(key) = element(c, "Key") else { continue };
        page.objects.push(Object {
            key: decode_key(&key),
            size: element(c, "Size").and_then(|s| s.trim().parse().ok()).unwrap_or(0),
            modified: element(c, "LastModified").map_or(SystemTime::UNIX_EPOCH, |t| parse_time(t.trim())),
            etag: element(c, "ETag").unwrap_or_default().trim().trim_matches('"').to_owned(),
        });
    }
    for p in blocks(xml, "CommonPrefixes") {
        if let Some(prefix) = element(p, "Prefix") {
            page.prefixes.push(decode_key(&prefix));
        }
    }
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    page.next = if truncated { element(xml, "NextContinuationToken").map(|t| t.into_owned()) } else { None };
    Ok(page)
}

fn decode_key(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// A listing's time, in whole seconds as a HEAD's `Last-Modified` has it, so that a
/// file's tag is the same in a listing and in a GET.
fn parse_time(s: &str) -> SystemTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_or(SystemTime::UNIX_EPOCH, |t| {
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap_or(0))
    })
}

fn header_text(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

impl Client {
    pub fn new(config: S3Config, bucket: &str) -> io::Result<Client> {
        let url = reqwest::Url::parse(&config.endpoint)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid S3 endpoint: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the S3 endpoint must be an http:// or https:// URL",
            ));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(io::Error::new(io::ErrorKind::InvalidInput, "the S3 endpoint has no host")),
        };
        super::super::install_tls();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .no_proxy();
        // A CA bundle named the AWS way is honoured when it can be read, never fatal.
        if let Some(path) = std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) {
            match std::fs::read(&path).ok().and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok()) {
                Some(certs) => {
                    for cert in certs {
                        builder = builder.add_root_certificate(cert);
                    }
                }
                None => {
                    tracing::warn!(path = %std::path::Path::new(&path).display(), "AWS_CA_BUNDLE cannot be read; using the system's certificates")
                }
            }
        }
        let http = builder.build().map_err(|e| io::Error::other(format!("cannot set up the S3 client: {e}")))?;
        let endpoint = config.endpoint.trim_end_matches('/').to_owned();
        Ok(Client { http, config: S3Config { endpoint, ..config }, host, bucket: bucket.to_owned() })
    }

    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// A signed request for `key` (`None`: the bucket) with `query` pairs.
    fn request(
        &self,
        method: Method,
        key: Option<&[u8]>,
        query: &[(&str, &str)],
        extra: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let mut path = String::with_capacity(64);
        path.push('/');
        encode(&mut path, self.bucket.as_bytes(), false);
        if let Some(key) = key {
            path.push('/');
            encode(&mut path, key, true);
        }
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| {
                let (mut ek, mut ev) = (String::new(), String::new());
                encode(&mut ek, k.as_bytes(), false);
                encode(&mut ev, v.as_bytes(), false);
                (ek, ev)
            })
            .collect();
        pairs.sort();
        let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let now = SystemTime::now();
        let date = amz_date(now);
        let day = &date[..8];
        let mut headers: Vec<(String, String)> = vec![
            ("host".to_owned(), self.host.clone()),
            ("x-amz-content-sha256".to_owned(), "UNSIGNED-PAYLOAD".to_owned()),
            ("x-amz-date".to_owned(), date.clone()),
        ];
        headers.extend(extra.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())));
        headers.sort();
        let signed = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let mut canonical = format!("{method}\n{path}\n{canonical_query}\n");
        for (k, v) in &headers {
            let _ = writeln!(canonical, "{k}:{v}");
        }
        let _ = write!(canonical, "\n{signed}\nUNSIGNED-PAYLOAD");
        let scope = format!("{day}/{}/s3/aws4_request", self.config.region);
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex(&sha2::Sha256::digest(canonical.as_bytes())));
        let secret = format!("AWS4{}", self.config.secret_access_key.as_str());
        let mut k = hmac(secret.as_bytes(), day.as_bytes());
        for part in [self.config.region.as_bytes(), b"s3", b"aws4_request"] {
            k = hmac(&k, part);
        }
        let signature = hex(&hmac(&k, to_sign.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.config.access_key_id
        );
        let url = if canonical_query.is_empty() {
            format!("{}{path}", self.config.endpoint)
        } else {
            format!("{}{path}?{canonical_query}", self.config.endpoint)
        };
        let mut req = self.http.request(method, url).header("authorization", auth);
        for (k, v) in headers.into_iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        req
    }

    /// Sends a request; a non-2xx answer becomes an error of the right kind. A store
    /// that is briefly unavailable (a 500, 502, 503 or 504, a refused connection: a node
    /// restarting, Garage's "database is locked") gets the same request twice more,
    /// after 100 and 400 ms; every request here may be repeated safely.
    async fn send(&self, req: reqwest::RequestBuilder) -> io::Result<reqwest::Response> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = req;
        let resp = loop {
            let again = attempt.try_clone();
            let result = attempt.send().await;
            let retry = match &result {
                Ok(r) => matches!(r.status().as_u16(), 500 | 502 | 503 | 504),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            match again {
                Some(next) if retry && delay <= Duration::from_millis(400) => {
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    attempt = next;
                }
                _ => break result.map_err(|e| transport(&e))?,
            }
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let code = parse_xml(&body).ok().and_then(|e| child_text(&e, "Code")).unwrap_or_default();
        Err(refusal(status, &code))
    }

    async fn body(resp: reqwest::Response) -> io::Result<Bytes> {
        resp.bytes().await.map_err(|e| transport(&e))
    }

    /// One page of the objects under `prefix`; with `delimiter`, one folder level.
    pub async fn list(
        &self,
        prefix: &[u8],
        delimiter: bool,
        token: Option<&str>,
        max: Option<u32>,
    ) -> io::Result<Page> {
        let prefix = String::from_utf8_lossy(prefix);
        let max = max.map(|m| m.to_string());
        let mut query = vec![("list-type", "2"), ("encoding-type", "url"), ("prefix", prefix.as_ref())];
        if delimiter {
            query.push(("delimiter", "/"));
        }
        if let Some(t) = token {
            query.push(("continuation-token", t));
        }
        if let Some(m) = &max {
            query.push(("max-keys", m));
        }
        let resp = self.send(self.request(Method::GET, None, &query, &[])).await?;
        parse_listing(&Self::body(resp).await?)
    }

    pub async fn head(&self, key: &[u8]) -> io::Result<Head> {
        let resp = self.send(self.request(Method::HEAD, Some(key), &[], &[])).await?;
        Ok(Self::head_of(&resp))
    }

    /// A whole object: what a HEAD would show, and its bytes as the store sends them.
    pub async fn get(&self, key: &[u8]) -> io::Result<(Head, impl Stream<Item = io::Result<Bytes>> + Send + 'static)> {
        let resp = self.send(self.request(Method::GET, Some(key), &[], &[])).await?;
        let head = Self::head_of(&resp);
        Ok((head, resp.bytes_stream().map_err(|e| transport(&e))))
    }

    fn head_of(resp: &reqwest::Response) -> Head {
        // The header itself: a HEAD answer's body is empty, whatever it describes.
        let size = header_text(resp, reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse().ok()).unwrap_or(0);
        let modified = header_text(resp, reqwest::header::LAST_MODIFIED)
            .and_then(|t| httpdate::parse_http_date(&t).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let etag = header_text(resp, reqwest::header::ETAG).unwrap_or_default().trim_matches('"').to_owned();
        Head { size, modified, etag }
    }

    /// The bytes `start..end` of an object, as the store sends them.
    pub async fn get_range(
        &self,
        key: &[u8],
        start: u64,
        end: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
        let range = format!("bytes={start}-{}", end.saturating_sub(1));
        let resp = self.send(self.request(Method::GET, Some(key), &[], &[]).header("range", range)).await?;
        Ok(resp.bytes_stream().map_err(|e| transport(&e)))
    }

    /// Stores a whole object; returns its entity tag.
    pub async fn put(&self, key: &[u8], data: Bytes) -> io::Result<String> {
        let len = data.len();
        let req = self.request(Method::PUT, Some(key), &[], &[]).header("content-length", len).body(data);
        let resp = self.send(req).await?;
        Ok(header_text(&resp, reqwest::header::ETAG).unwrap_or_default().trim_matches('"').to_owned())
    }

    /// Copies an object within the bucket, on the server; returns the copy's tag.
    pub async fn copy(&self, from: &[u8], to: &[u8]) -> io::Result<String> {
        let mut source = String::with_capacity(from.len() + self.bucket.len() + 2);
        source.push('/');
        encode(&mut source, self.bucket.as_bytes(), false);
        source.push('/');
        encode(&mut source, from, true);
        let req = self.request(Method::PUT, Some(to), &[], &[("x-amz-copy-source", source)]);
        let root = parse_xml(&Self::body(self.send(req).await?).await?)?;
        if root.name == "Error" {
            return Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, &child_text(&root, "Code").unwrap_or_default()));
        }
        Ok(child_text(&root, "ETag").unwrap_or_default().trim_matches('"').to_owned())
    }

    pub async fn delete(&self, key: &[u8]) -> io::Result<()> {
        self.send(self.request(Method::DELETE, Some(key), &[], &[])).await.map(drop)
    }

    /// Starts a multipart upload; returns its id.
    pub async fn start_multipart(&self, key: &[u8]) -> io::Result<String> {
        let resp = self.send(self.request(Method::POST, Some(key), &[("uploads", "")], &[])).await?;
        let root = parse_xml(&Self::body(resp).await?)?;
        child_text(&root, "UploadId").ok_or_else(|| io::Error::other("S3 gave no upload id"))
    }

    /// Sends part `number` (from 1); returns its entity tag.
    pub async fn put_part(&self, key: &[u8], upload: &str, number: u32, data: Bytes) -> io::Result<String> {
        let n = number.to_string();
        let len = data.len();
        let req = self
            .request(Method::PUT, Some(key), &[("partNumber", &n), ("uploadId", upload)], &[])
            .header("content-length", len)
            .body(data);
        let resp = self.send(req).await?;
        header_text(&resp, reqwest::header::ETAG).ok_or_else(|| io::Error::other("S3 gave no part tag"))
    }

    /// Completes a multipart upload from its parts' tags; returns the object's tag.
    pub async fn complete_multipart(&self, key: &[u8], upload: &str, tags: &[String]) -> io::Result<String> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, tag) in tags.iter().enumerate() {
            let _ = write!(xml, "<Part><PartNumber>{}</PartNumber><ETag>", i + 1);
            crate::domain::xml::push_escaped(&mut xml, tag);
            xml.push_str("</ETag></Part>");
        }
        xml.push_str("</CompleteMultipartUpload>");
        let req = self.request(Method::POST, Some(key), &[("uploadId", upload)], &[]).body(xml);
        let root = parse_xml(&Self::body(self.send(req).await?).await?)?;
        if root.name == "Error" {
            return Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, &child_text(&root, "Code").unwrap_or_default()));
        }
        Ok(child_text(&root, "ETag").unwrap_or_default().trim_matches('"').to_owned())
    }

    pub async fn abort_multipart(&self, key: &[u8], upload: &str) -> io::Result<()> {
        match self.send(self.request(Method::DELETE, Some(key), &[("uploadId", upload)], &[])).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_sigv4_wants() {
        let mut s = String::new();
        encode(&mut s, "a b/ç#%?~".as_bytes(), true);
        assert_eq!(s, "a%20b/%C3%A7%23%25%3F~");
        let mut q = String::new();
        encode(&mut q, b"a/b", false);
        assert_eq!(q, "a%2Fb");
    }

    #[test]
    fn listings_are_read_with_entities_and_encoded_keys() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p%2F</Prefix><NextContinuationToken>tok&amp;1</NextContinuationToken><KeyCount>3</KeyCount><IsTruncated>true</IsTruncated><Contents><Key>p%2Fa%20%23%25%3F%E6%97%A5.jpg</Key><LastModified>2026-11-30T15:49:54.428Z</LastModified><ETag>&quot;abc-2&quot;</ETag><Size>1024</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p%2Fz</Key><LastModified>1970-01-01T00:00:10Z</LastModified><ETag>&#34;d&#x22;</ETag><Size>0</Size></Contents><CommonPrefixes><Prefix>p%2Fsub%2F</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_listing(xml.as_bytes()).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].key, "p/a #%?日.jpg".as_bytes());
        assert_eq!(page.objects[0].size, 1024);
        assert_eq!(page.objects[0].etag, "abc-2");
        assert_eq!(page.objects[0].modified, SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_053_794));
        assert_eq!(page.objects[1].etag, "d");
        assert_eq!(page.objects[1].modified, SystemTime::UNIX_EPOCH + Duration::from_secs(10));
        assert_eq!(page.prefixes, vec![b"p/sub/".to_vec()]);
        assert_eq!(page.next.as_deref(), Some("tok&1"));
        let last = parse_listing(b"<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>").unwrap();
        assert_eq!(last.next, None);
        assert!(parse_listing(b"<Error><Code>x</Code></Error>").is_err());
        assert!(parse_listing(&[0xff, 0xfe]).is_err());
        assert_eq!(unescape("a &amp;&lt;&gt;&apos;&quot; &bogus; &"), "a &<>'\" &bogus; &");
    }

    #[test]
    fn dates_are_basic_iso8601() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
    }

    /// The signing key derivation of AWS's documented example.
    #[test]
    fn signing_key_matches_the_documented_example() {
        let mut k = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        for part in [&b"us-east-1"[..], b"iam", b"aws4_request"] {
            k = hmac(&k, part);
        }
        assert_eq!(hex(&k), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }
}
