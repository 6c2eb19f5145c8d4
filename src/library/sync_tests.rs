//! The group commit's one promise, checked with a sync that the test starts and ends at
//! will: a waiter is released only by a sync that started after it asked, and the
//! waiters that arrive while one sync runs share the next one.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;

use futures_util::poll;

use super::*;

/// A group whose syncs report their start on `started` and end when the test sends a
/// result on the returned sender; `dir` is a real directory to hand them.
struct Rig {
    group: Arc<Group>,
    started: tokio::sync::mpsc::UnboundedReceiver<u64>,
    finish: mpsc::Sender<io::Result<()>>,
    syncs: Arc<Mutex<u64>>,
    dir: Dir,
    _tmp: tempfile::TempDir,
}

fn rig() -> Rig {
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let (finish, finish_rx) = mpsc::channel::<io::Result<()>>();
    let finish_rx = Mutex::new(finish_rx);
    let syncs = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&syncs);
    let op: SyncOp = Arc::new(move |_: &Dir| {
        let n = {
            let mut n = counted.lock().unwrap();
            *n += 1;
            *n
        };
        started_tx.send(n).unwrap();
        finish_rx.lock().unwrap().recv().unwrap()
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open(tmp.path()).unwrap();
    Rig { group: Arc::new(Group::new(op)), started, finish, syncs, dir, _tmp: tmp }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_is_released_only_by_a_sync_that_started_after_it_asked() {
    let mut r = rig();
    let mut first = Box::pin(r.group.wait(r.dir.clone()));
    assert!(poll!(&mut first).is_pending());
    assert_eq!(r.started.recv().await, Some(1));
    // Sync 1 is running: these ask after it started, so it cannot cover them.
    let mut late: Vec<_> = (0..3).map(|_| Box::pin(r.group.wait(r.dir.clone()))).collect();
    for w in &mut late {
        assert!(poll!(w).is_pending());
    }
    r.finish.send(Ok(())).unwrap();
    first.await.unwrap();
    // Sync 2 starts for the late ones, by itself; until it ends, they wait.
    assert_eq!(r.started.recv().await, Some(2));
    for w in &mut late {
        assert!(poll!(w).is_pending(), "released by a sync that started before it asked");
    }
    r.finish.send(Ok(())).unwrap();
    for w in late {
        w.await.unwrap();
    }
    assert_eq!(*r.syncs.lock().unwrap(), 2, "the three late waiters shared one sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_fails_its_waiters_and_the_next_one_serves_the_others() {
    let mut r = rig();
    let mut first = Box::pin(r.group.wait(r.dir.clone()));
    assert!(poll!(&mut first).is_pending());
    assert_eq!(r.started.recv().await, Some(1));
    let mut second = Box::pin(r.group.wait(r.dir.clone()));
    assert!(poll!(&mut second).is_pending());
    r.finish.send(Err(io::Error::other("disk gone"))).unwrap();
    assert!(first.await.is_err(), "the waiter the failed sync was for learns of it");
    assert_eq!(r.started.recv().await, Some(2));
    r.finish.send(Ok(())).unwrap();
    second.await.unwrap();
    // A waiter that gives up (a client that hung up) does not stop the sync others need.
    let mut gone = Box::pin(r.group.wait(r.dir.clone()));
    assert!(poll!(&mut gone).is_pending());
    assert_eq!(r.started.recv().await, Some(3));
    let mut kept = Box::pin(r.group.wait(r.dir.clone()));
    assert!(poll!(&mut kept).is_pending());
    drop(gone);
    r.finish.send(Ok(())).unwrap();
    assert_eq!(r.started.recv().await, Some(4));
    r.finish.send(Ok(())).unwrap();
    kept.await.unwrap();
}
