//! The scenarios of `tests/webdav_access_model.rs`: where requests act, which requests,
//! and proptest's strategies for the accounts' grants and credentials and the sequences.

use proptest::prelude::*;

use super::{ACCOUNTS, FILE_NAMES, Holder, SHARED, base, join, parent};
use gatehouse::domain::access::Level;

/// Where a request acts, resolved for the account sending it ([`Place::path`]).
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// `a`, `a/deep`, `b`, the sender's home, another account's home.
    pub folder: usize,
    /// In the folder's `sub` folder.
    pub sub: bool,
    /// A file of [`FILE_NAMES`], or the folder itself.
    pub file: Option<usize>,
}

impl Place {
    pub fn path(self, me: usize, holders: &[Holder]) -> String {
        let folder = folder(self.folder, me, holders);
        let dir = if self.sub { join(&folder, "sub") } else { folder };
        match self.file {
            Some(f) => join(&dir, FILE_NAMES[f % FILE_NAMES.len()]),
            None => dir,
        }
    }
}

pub fn folder(i: usize, me: usize, holders: &[Holder]) -> String {
    match i % 5 {
        0..3 => SHARED[i % 5].to_owned(),
        3 => holders[me].name.to_owned(),
        _ => holders[(me + 1) % holders.len()].name.to_owned(),
    }
}

/// One request of a sequence.
#[derive(Clone, Debug)]
pub enum Op {
    Put {
        who: usize,
        at: Place,
    },
    Get {
        who: usize,
        at: Place,
    },
    Delete {
        who: usize,
        at: Place,
    },
    Mkcol {
        who: usize,
        at: Place,
    },
    /// A file, or a `sub` folder, into another folder.
    Move {
        who: usize,
        src: Place,
        to: usize,
    },
    Copy {
        who: usize,
        src: Place,
        to: usize,
    },
    Proppatch {
        who: usize,
        at: Place,
    },
    Lock {
        who: usize,
        at: Place,
    },
    /// PROPFIND Depth 1 of a folder, or of `/originals/` itself.
    List {
        who: usize,
        at: Option<Place>,
    },
    /// PROPFIND Depth 1 of a folder named as it is (the checks after a sequence).
    ListAt {
        who: usize,
        path: &'static str,
    },
}

/// The accounts' grants and credentials, and the requests they send.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub holders: Vec<Holder>,
    pub ops: Vec<Op>,
}

/// The destination of a MOVE or COPY of `src` into folder `to` (never its own folder).
pub fn destination(src: &str, to: usize, me: usize, holders: &[Holder]) -> String {
    let mut f = folder(to, me, holders);
    if f == parent(src) {
        f = folder(to + 1, me, holders);
    }
    join(&f, base(src))
}

fn file_place() -> impl Strategy<Value = Place> {
    (0..5usize, prop::bool::weighted(0.2), 0..FILE_NAMES.len()).prop_map(|(folder, sub, f)| Place {
        folder,
        sub,
        file: Some(f),
    })
}

fn dir_place() -> impl Strategy<Value = Place> {
    (0..5usize, prop::bool::weighted(0.6)).prop_map(|(folder, sub)| Place { folder, sub, file: None })
}

fn any_place() -> impl Strategy<Value = Place> {
    prop_oneof![3 => file_place(), 1 => dir_place()]
}

/// Files, or `sub` folders.
fn movable() -> impl Strategy<Value = Place> {
    prop_oneof![3 => file_place(), 1 => (0..5usize).prop_map(|folder| Place { folder, sub: true, file: None })]
}

fn holder(name: &'static str) -> impl Strategy<Value = Holder> {
    let share = prop_oneof![2 => Just(None), 1 => Just(Some(Level::Read)), 2 => Just(Some(Level::Write))];
    // `/`, the own home, a shared folder (granted or not), another account's home.
    let own = name.to_owned();
    let other = ACCOUNTS.iter().find(|a| **a != name).unwrap().to_string();
    let limit_path = prop_oneof![
        2 => Just("/".to_owned()),
        2 => Just(own),
        2 => proptest::sample::select(SHARED.to_vec()).prop_map(str::to_owned),
        1 => Just(other),
    ];
    let limit_level = prop_oneof![1 => Just(Level::Read), 3 => Just(Level::Append), 1 => Just(Level::Write)];
    let limit = prop_oneof![1 => Just(None), 1 => (limit_path, limit_level).prop_map(Some)];
    (proptest::collection::vec(share, SHARED.len()), limit).prop_map(move |(shares, limit)| Holder {
        name,
        shares: SHARED.iter().zip(shares).filter_map(|(p, l)| l.map(|l| (*p, l))).collect(),
        limit,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let w = 0..ACCOUNTS.len();
    prop_oneof![
        5 => (w.clone(), file_place()).prop_map(|(who, at)| Op::Put { who, at }),
        3 => (w.clone(), file_place()).prop_map(|(who, at)| Op::Get { who, at }),
        2 => (w.clone(), any_place()).prop_map(|(who, at)| Op::Delete { who, at }),
        2 => (w.clone(), dir_place()).prop_map(|(who, at)| Op::Mkcol { who, at }),
        3 => (w.clone(), movable(), 0..5usize).prop_map(|(who, src, to)| Op::Move { who, src, to }),
        3 => (w.clone(), movable(), 0..5usize).prop_map(|(who, src, to)| Op::Copy { who, src, to }),
        1 => (w.clone(), any_place()).prop_map(|(who, at)| Op::Proppatch { who, at }),
        1 => (w.clone(), file_place()).prop_map(|(who, at)| Op::Lock { who, at }),
        2 => (w, proptest::option::weighted(0.8, dir_place())).prop_map(|(who, at)| Op::List { who, at }),
    ]
}

pub fn scenario() -> impl Strategy<Value = Scenario> {
    let holders = (holder(ACCOUNTS[0]), holder(ACCOUNTS[1]), holder(ACCOUNTS[2]), any::<bool>())
        .prop_map(|(a, b, c, three)| if three { vec![a, b, c] } else { vec![a, b] });
    (holders, proptest::collection::vec(op(), 10..40)).prop_map(|(holders, ops)| Scenario { holders, ops })
}
