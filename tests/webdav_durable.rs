//! Durable changes on a folder library (issue 18 §5): a success answer to PUT, MKCOL,
//! COPY, MOVE or DELETE means the change is on disk. Checked the ways a user could:
//! the server killed (`kill -9`) right after its answer and started again on the same
//! data folder; the order of its system calls watched with strace (the data synced,
//! then the rename, then the folder synced, then the answer); many uploads at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod webdav_util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use webdav_util::{DAV_PASSWORD, DAV_USER, pattern};

/// `gatehouse start` as a process of its own on `data`, where `bob` may use WebDAV.
struct Server {
    child: Child,
    base: String,
    client: Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn gatehouse(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.env("GATEHOUSE_DATA_DIR", data)
        .env("GATEHOUSE_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env_remove("GATEHOUSE_SECRET_KEY");
    c
}

/// Makes a data folder with `bob` in it.
fn data_folder(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = gatehouse(&data)
        .args(["users", "add", DAV_USER, "--password", DAV_PASSWORD, "--webdav", "--home", "/"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    data
}

/// Starts the server on `data`, under `wrapper` (a command that runs it, e.g. strace)
/// if given, and waits until it answers.
async fn start(data: &Path, wrapper: &[&str]) -> Server {
    let port = free_port();
    let server = gatehouse(data);
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(server.get_program());
            c.envs(server.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
            c.env_remove("GATEHOUSE_DATABASE_URL").env_remove("GATEHOUSE_SECRET_KEY");
            c
        }
        None => server,
    };
    let child = command
        .args(["start", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gatehouse::library::install_tls();
    let server = Server { child, base: format!("http://127.0.0.1:{port}"), client: Client::new() };
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.client.get(format!("{}/api/v1/status", server.base)).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

impl Server {
    fn dav(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, format!("{}{path}", self.base)).basic_auth(DAV_USER, Some(DAV_PASSWORD))
    }

    async fn status(&self, method: &str, path: &str, destination: Option<&str>, body: Vec<u8>) -> StatusCode {
        let mut r = self.dav(method, path).body(body);
        if let Some(d) = destination {
            r = r.header("Destination", format!("{}{d}", self.base)).header("Overwrite", "F");
        }
        r.send().await.unwrap().status()
    }

    async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.dav("GET", path).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    /// `kill -9`: no shutdown, no flush, nothing the process could still do.
    fn kill(mut self, pid: u32) {
        assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_answered_is_there_after_a_kill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_folder(dir.path());
    let photo = pattern(3_000_000, 7);
    let small = pattern(16 * 1024, 8);
    let s = start(&data, &[]).await;
    assert_eq!(s.status("MKCOL", "/originals/trip/", None, vec![]).await, StatusCode::CREATED);
    assert_eq!(s.status("PUT", "/originals/trip/a.jpg", None, photo.clone()).await, StatusCode::CREATED);
    assert_eq!(s.status("PUT", "/originals/trip/gone.jpg", None, small.clone()).await, StatusCode::CREATED);
    assert_eq!(s.status("COPY", "/originals/trip/a.jpg", Some("/originals/trip/b.jpg"), vec![]).await, 201);
    assert_eq!(s.status("MOVE", "/originals/trip/b.jpg", Some("/originals/trip/c.jpg"), vec![]).await, 201);
    assert_eq!(s.status("DELETE", "/originals/trip/gone.jpg", None, vec![]).await, StatusCode::NO_CONTENT);
    assert_eq!(s.status("PUT", "/originals/trip/last.jpg", None, small.clone()).await, StatusCode::CREATED);
    let pid = s.child.id();
    s.kill(pid);

    let s = start(&data, &[]).await;
    assert_eq!(s.get("/originals/trip/a.jpg").await, (StatusCode::OK, photo.clone()));
    assert_eq!(s.get("/originals/trip/c.jpg").await, (StatusCode::OK, photo));
    assert_eq!(s.get("/originals/trip/last.jpg").await, (StatusCode::OK, small));
    assert_eq!(s.get("/originals/trip/b.jpg").await.0, StatusCode::NOT_FOUND, "moved away");
    assert_eq!(s.get("/originals/trip/gone.jpg").await.0, StatusCode::NOT_FOUND, "deleted");
    let pid = s.child.id();
    s.kill(pid);
}

/// One system call from an strace log: where it started and where it returned (the
/// same line unless another thread's call came in between).
#[derive(Debug)]
struct Call {
    name: String,
    args: String,
    entry: usize,
    exit: usize,
}

/// Reads `strace -f` output: `PID name(args) = r`, or `PID name(args <unfinished ...>`
/// followed later by `PID <... name resumed>...) = r`.
fn calls(log: &str) -> Vec<Call> {
    let mut out: Vec<Call> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in log.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let rest = rest.trim_start();
        if rest.starts_with("<...") {
            if let Some(at) = open.remove(pid) {
                out[at].exit = i;
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else { continue };
        if rest.ends_with("<unfinished ...>") {
            open.insert(pid.to_owned(), out.len());
        }
        out.push(Call { name: name.to_owned(), args: args.to_owned(), entry: i, exit: i });
    }
    out
}

/// Whether the call's first argument is a descriptor of `path` (`-y` shows `12</path>`).
fn on_fd_of(call: &Call, path: &Path) -> bool {
    call.args.split_once('<').is_some_and(|(fd, rest)| {
        fd.chars().all(|ch| ch.is_ascii_digit()) && rest.starts_with(&format!("{}>", path.display()))
    })
}

/// Checks one change in the log: the call `change` (the first named `names` after line
/// `after` whose arguments contain `needle`), then an answer with `status`, and between
/// them an fsync of each folder in `dirs` that started after the change returned.
/// Returns the line of the answer.
fn check_change(calls: &[Call], after: usize, names: &[&str], needle: &str, dirs: &[&Path], status: u16) -> usize {
    let change = calls
        .iter()
        .find(|c| c.entry > after && names.contains(&c.name.as_str()) && c.args.contains(needle))
        .unwrap_or_else(|| panic!("no {names:?} of {needle} after line {after}"));
    let answer = calls
        .iter()
        .find(|c| c.entry > change.exit && c.args.contains(&format!("HTTP/1.1 {status} ")))
        .unwrap_or_else(|| panic!("no {status} answer after the {} of {needle}", change.name));
    for dir in dirs {
        let synced = calls
            .iter()
            .any(|c| c.name == "fsync" && on_fd_of(c, dir) && c.entry > change.exit && c.exit < answer.entry);
        assert!(
            synced,
            "{} of {needle}: no fsync of {} between it and the answer:\n{:#?}",
            change.name,
            dir.display(),
            calls.iter().filter(|c| c.entry >= change.entry && c.entry <= answer.entry).collect::<Vec<_>>()
        );
    }
    answer.entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_synced_before_the_rename_and_the_folder_after_it_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_folder(dir.path());
    let trace = dir.path().join("trace");
    let trace_arg = trace.to_str().unwrap().to_owned();
    let traced = "fdatasync,fsync,syncfs,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,rmdir,write,writev,sendto,sendmsg";
    let s =
        start(&data, &["strace", "-f", "-qq", "-yy", "-s", "40", "-e", &format!("trace={traced}"), "-o", &trace_arg])
            .await;
    let body = pattern(200_000, 3);
    assert_eq!(s.status("MKCOL", "/originals/proof/", None, vec![]).await, StatusCode::CREATED);
    assert_eq!(s.status("PUT", "/originals/proof/a.bin", None, body.clone()).await, StatusCode::CREATED);
    assert_eq!(s.status("COPY", "/originals/proof/a.bin", Some("/originals/proof/b.bin"), vec![]).await, 201);
    assert_eq!(s.status("MOVE", "/originals/proof/b.bin", Some("/originals/proof/c.bin"), vec![]).await, 201);
    assert_eq!(s.status("DELETE", "/originals/proof/c.bin", None, vec![]).await, StatusCode::NO_CONTENT);
    // strace's child is the server.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", s.child.id())).unwrap();
    let pid: u32 = children.split_whitespace().next().unwrap().parse().unwrap();
    s.kill(pid);
    let log = std::fs::read_to_string(&trace).unwrap();
    let calls = calls(&log);
    let originals = std::fs::canonicalize(data.join("originals")).unwrap();
    let proof = originals.join("proof");
    let quoted = |p: &Path| format!("\"{}\"", p.display());

    let at = check_change(&calls, 0, &["mkdir", "mkdirat"], &quoted(&proof), &[&originals, &proof], 201);
    // The upload: its data synced before the rename that makes it visible.
    let target = quoted(&proof.join("a.bin"));
    let rename = calls
        .iter()
        .find(|c| c.entry > at && c.name.starts_with("rename") && c.args.contains(&target))
        .expect("the upload is renamed into place");
    let temp = rename.args.split('"').nth(1).unwrap().to_owned();
    assert!(temp.contains("/proof/.gatehouse-upload-"), "{temp}");
    let synced = calls.iter().any(|c| {
        ["fdatasync", "fsync"].contains(&c.name.as_str()) && on_fd_of(c, Path::new(&temp)) && c.exit < rename.entry
    });
    assert!(synced, "the upload's data is synced before its rename:\n{log}");
    let at = check_change(&calls, at, &["rename", "renameat", "renameat2"], &target, &[&proof], 201);
    let copy = quoted(&proof.join("b.bin"));
    let at = check_change(&calls, at, &["rename", "renameat", "renameat2"], &copy, &[&proof], 201);
    let moved = format!("{copy}, {}", quoted(&proof.join("c.bin")));
    let at = check_change(&calls, at, &["rename", "renameat", "renameat2"], &moved, &[&proof], 201);
    check_change(&calls, at, &["unlink", "unlinkat"], &quoted(&proof.join("c.bin")), &[&proof], 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_uploads_at_once_all_arrive_whole() {
    let t = common::spawn(common::Db::Sqlite).await;
    webdav_util::dav_user(&t).await;
    // An app password: what a sync client uses, and checked without the password hash
    // whose queue would answer some of 48 requests at once with 429.
    let pw = webdav_util::app_password(&t, "webdav").await;
    let put = |path: &str| webdav_util::dav(&t, "PUT", path, DAV_USER, &pw);
    for folder in ["a", "b"] {
        let r = webdav_util::bob(&t, "MKCOL", &format!("/originals/{folder}/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let uploads = (0..48u32).map(|i| {
        let path = format!("/originals/{}/f{i}.bin", if i % 4 == 0 { "b" } else { "a" });
        let body = pattern(16 * 1024 + i as usize * 1000, i);
        let put = put(&path).body(body.clone()).send();
        async move { (path, body, put.await.unwrap().status()) }
    });
    let done = futures_util::future::join_all(uploads).await;
    for (path, body, status) in done {
        assert_eq!(status, StatusCode::CREATED, "{path}");
        let back = webdav_util::dav(&t, "GET", &path, DAV_USER, &pw).send().await.unwrap().bytes().await.unwrap();
        assert!(back.as_ref() == body.as_slice(), "{path} came back whole");
    }
    for folder in ["a", "b"] {
        let names = webdav_util::names_in(&t.data_dir.join("originals").join(folder));
        assert_eq!(names.len(), if folder == "a" { 36 } else { 12 }, "{folder}: {names:?}");
        assert!(names.iter().all(|n| !n.starts_with(".gatehouse-upload-")), "{names:?}");
    }
}
