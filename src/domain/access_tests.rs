use proptest::prelude::*;

use super::*;

fn p(s: &str) -> FolderPath {
    FolderPath::parse(s).unwrap()
}

fn reach(grants: &[(&str, Level)]) -> Reach {
    Reach::of(grants.iter().map(|(path, level)| Grant::new(p(path), *level)).collect())
}

fn at(r: &Reach, path: &str) -> Standing {
    let mut segs = path.trim_matches('/').splitn(2, '/');
    let lib = segs.next().unwrap_or("");
    if lib.is_empty() {
        return r.standing(&[]);
    }
    r.standing_of(lib, segs.next().unwrap_or("").as_bytes())
}

#[test]
fn folder_paths_have_one_spelling() {
    assert_eq!(p("/originals/a/b/").as_str(), "/originals/a/b");
    assert_eq!(p("originals//a/b").as_str(), "/originals/a/b");
    assert_eq!(p("/").as_str(), "/");
    assert_eq!(p("").as_str(), "/");
    assert_eq!(p("/import/cafe\u{301}").as_str(), "/import/caf\u{e9}", "stored composed");
    assert_eq!(p("/originals/a/").to_string(), "/originals/a/");
    assert_eq!(FolderPath::parse("/other/a"), Err(PathError::NotInLibrary));
    assert_eq!(FolderPath::parse("/originals/../import"), Err(PathError::BadSegment));
    assert_eq!(FolderPath::parse("/originals/./a"), Err(PathError::BadSegment));
    assert_eq!(FolderPath::parse("/originals/a\nb"), Err(PathError::ControlCharacter));
    assert_eq!(FolderPath::parse(&format!("/originals/{}", "a".repeat(MAX_PATH_LEN))), Err(PathError::TooLong));
    assert_eq!(FolderPath::home("alice", "originals").unwrap().as_str(), "/originals/alice");
    assert_eq!(FolderPath::home("/family/alice/", "import").unwrap().as_str(), "/import/family/alice");
    assert!(FolderPath::home("/", "import").unwrap().is_root());
    assert_eq!(FolderPath::home("..", "import"), Err(PathError::BadSegment));
}

#[test]
fn a_home_is_one_folder_in_each_library() {
    let homes = home_grants("alice").unwrap();
    let paths: Vec<&str> = homes.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(paths, ["/originals/alice", "/import/alice"]);
    assert!(homes.iter().all(|g| g.level == Level::Write));
    assert_eq!(home_grants("/").unwrap(), vec![Grant::new(FolderPath::root(), Level::Write)]);
    assert_eq!(home_grants("a/../b"), Err(PathError::BadSegment));
    assert_eq!(home_grants(""), Err(PathError::EmptyHome), "empty is never the whole library");
    assert_eq!(home_grants(" "), Err(PathError::EmptyHome));
}

#[test]
fn a_path_is_inside_above_or_outside() {
    let r = reach(&[("/originals/alice", Level::Write), ("/originals/family/2026", Level::Read)]);
    assert_eq!(at(&r, "/"), Standing::Above);
    assert_eq!(at(&r, "/originals"), Standing::Above);
    assert_eq!(at(&r, "/originals/alice"), Standing::Inside(Level::Write));
    assert_eq!(at(&r, "/originals/alice/x/y.jpg"), Standing::Inside(Level::Write));
    assert_eq!(at(&r, "/originals/family"), Standing::Above);
    assert_eq!(at(&r, "/originals/family/2026/a.jpg"), Standing::Inside(Level::Read));
    assert_eq!(at(&r, "/originals/family/2025"), Standing::Outside);
    assert_eq!(at(&r, "/originals/alice2"), Standing::Outside, "segments, not prefixes of names");
    assert_eq!(at(&r, "/originals/Alice"), Standing::Outside, "case is significant");
    assert_eq!(at(&r, "/import"), Standing::Outside);
    assert_eq!(at(&r, "/originals/bob/x"), Standing::Outside);
}

#[test]
fn decomposed_names_stand_where_composed_ones_do() {
    let r = reach(&[("/originals/caf\u{e9}", Level::Write)]);
    assert_eq!(r.standing_of("originals", "cafe\u{301}/x".as_bytes()), Standing::Inside(Level::Write));
    assert_eq!(r.standing_of("originals", b"caf\xff"), Standing::Outside, "bytes that are not UTF-8 match nothing");
}

#[test]
fn the_highest_containing_grant_decides() {
    let r = reach(&[("/originals/family", Level::Read), ("/originals/family/alice", Level::Write)]);
    assert_eq!(at(&r, "/originals/family/x"), Standing::Inside(Level::Read));
    assert_eq!(at(&r, "/originals/family/alice/x"), Standing::Inside(Level::Write));
    let r = reach(&[("/originals/family", Level::Write), ("/originals/family/alice", Level::Read)]);
    assert_eq!(at(&r, "/originals/family/alice/x"), Standing::Inside(Level::Write));
}

#[test]
fn each_level_permits_its_acts() {
    use Act::*;
    let table = [
        (Standing::Outside, [Err(Refusal::Hidden), Err(Refusal::Hidden), Err(Refusal::Hidden), Err(Refusal::Hidden)]),
        (Standing::Above, [Ok(()), Err(Refusal::AboveGrants), Err(Refusal::AboveGrants), Err(Refusal::AboveGrants)]),
        (Standing::Inside(Level::Read), [Ok(()), Ok(()), Err(Refusal::ReadOnly), Err(Refusal::ReadOnly)]),
        (Standing::Inside(Level::Append), [Ok(()), Ok(()), Ok(()), Err(Refusal::AddOnly)]),
        (Standing::Inside(Level::Write), [Ok(()), Ok(()), Ok(()), Ok(())]),
    ];
    for (standing, answers) in table {
        for (act, answer) in [Read, ReadTree, Create, Change].into_iter().zip(answers) {
            assert_eq!(standing.permits(act), answer, "{standing:?} {act:?}");
        }
    }
}

#[test]
fn an_app_password_never_reaches_past_its_owner() {
    let owner = reach(&[("/originals/alice", Level::Write), ("/originals/family", Level::Read)]);
    let phone = owner.narrowed(&Grant::new(p("/originals/alice/phone"), Level::Append));
    assert_eq!(at(&phone, "/originals/alice/phone/a.jpg"), Standing::Inside(Level::Append));
    assert_eq!(at(&phone, "/originals/alice"), Standing::Above);
    assert_eq!(at(&phone, "/originals/family"), Standing::Outside);
    let whole = owner.narrowed(&Grant::new(FolderPath::root(), Level::Write));
    assert_eq!(whole, owner);
    let reader = owner.narrowed(&Grant::new(FolderPath::root(), Level::Read));
    assert_eq!(at(&reader, "/originals/alice/x"), Standing::Inside(Level::Read));
    assert!(owner.covers(&Grant::new(p("/originals/alice/phone"), Level::Append)));
    assert!(owner.covers(&Grant::new(p("/originals/family/x"), Level::Read)));
    assert!(!owner.covers(&Grant::new(p("/originals/family/x"), Level::Append)));
    assert!(!owner.covers(&Grant::new(p("/originals/bob"), Level::Read)));
    assert!(!owner.covers(&Grant::new(FolderPath::root(), Level::Read)));
    assert!(Reach::whole().covers(&Grant::new(FolderPath::root(), Level::Write)));
}

#[test]
fn the_root_shows_the_libraries_that_lead_somewhere() {
    let r = reach(&[("/import/alice", Level::Write)]);
    assert_eq!(r.libraries().collect::<Vec<_>>(), ["import"]);
    assert_eq!(Reach::whole().libraries().collect::<Vec<_>>(), ["originals", "import"]);
    assert_eq!(Reach::default().libraries().count(), 0);
}

#[test]
fn simplifying_keeps_what_is_reached() {
    let r = reach(&[
        ("/originals/a/b", Level::Read),
        ("/originals/a", Level::Write),
        ("/originals/c", Level::Read),
        ("/originals/c/d", Level::Write),
    ]);
    let s = r.clone().simplified();
    assert_eq!(s.grants().len(), 3);
    for path in ["/originals/a/b/x", "/originals/c/x", "/originals/c/d/x", "/originals", "/originals/e"] {
        assert_eq!(at(&s, path), at(&r, path), "{path}");
    }
}

/// A naive model of the rule: a path's standing from string prefixes of whole paths.
fn model(grants: &[(String, Level)], path: &str) -> Standing {
    let inside = |g: &str| g == "/" || path == g || path.starts_with(&format!("{g}/"));
    let above = |g: &str| path == "/" || g.starts_with(&format!("{path}/"));
    match grants.iter().filter(|(g, _)| inside(g)).map(|(_, l)| *l).max() {
        Some(level) => Standing::Inside(level),
        None if grants.iter().any(|(g, _)| above(g)) => Standing::Above,
        None => Standing::Outside,
    }
}

fn arb_path() -> impl Strategy<Value = String> {
    let seg = prop::sample::select(vec!["a", "b", "ab", "caf\u{e9}"]);
    (prop::sample::select(vec!["originals", "import"]), prop::collection::vec(seg, 0..4)).prop_map(|(lib, segs)| {
        let mut s = format!("/{lib}");
        for seg in segs {
            s.push('/');
            s.push_str(seg);
        }
        s
    })
}

fn arb_level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL.to_vec())
}

proptest! {
    #[test]
    fn standing_matches_the_model(
        grants in prop::collection::vec((arb_path(), arb_level()), 0..5),
        path in arb_path(),
        limit in (arb_path(), arb_level()),
    ) {
        let r = Reach::of(grants.iter().map(|(g, l)| Grant::new(p(g), *l)).collect());
        prop_assert_eq!(at(&r, &path), model(&grants, &path));
        prop_assert_eq!(at(&r, "/"), model(&grants, "/"));
        prop_assert_eq!(at(&r.clone().simplified(), &path), at(&r, &path));
        // Narrowing: never more than the owner, never more than the limit.
        let narrow = r.narrowed(&Grant::new(p(&limit.0), limit.1));
        let lim = [(limit.0.clone(), limit.1)];
        let (n, owner, by_limit) = (at(&narrow, &path), at(&r, &path), model(&lim, &path));
        let rank = |s: Standing| match s {
            Standing::Outside => 0,
            Standing::Above => 1,
            Standing::Inside(l) => 2 + l as u8,
        };
        prop_assert!(rank(n) <= rank(owner).min(rank(by_limit)),
            "{:?} owner {:?} limit {:?}", n, owner, by_limit);
        if let (Standing::Inside(a), Standing::Inside(b)) = (owner, by_limit) {
            prop_assert_eq!(n, Standing::Inside(a.min(b)));
        }
    }
}
