//! One suite run against both stores (teloxide's shared storage tests pattern).

use chrono::{Duration, Utc};

use super::*;
use crate::case::{Alert, Case, CaseId, CaseState};
use crate::pipeline::inbound::{Inbound, InboundItem};

/// A distinguishable item: an owner's DM text `n`.
fn item(n: u32) -> InboundItem {
    InboundItem {
        case: None,
        event: Inbound::OwnerText {
            user: "U0CAROL003".into(),
            channel: "D0CAROL003".into(),
            text: n.to_string(),
            thread_ts: None,
        },
        delivery: None,
    }
}

fn alert(id: &str) -> Alert {
    Alert {
        id: id.into(),
        name: format!("alert {id}"),
        ..Default::default()
    }
}

fn admit(store: &dyn Store, a: &Alert, key: &str, now: chrono::DateTime<Utc>) -> Admission {
    let opened = |id| Case::new(id, a.clone(), key.to_string(), now);
    let grouped = |id: &CaseId| InboundItem::grouped(id, a, now);
    store
        .admit(a, key, Duration::hours(1), now, &opened, &grouped)
        .expect("admit")
}

fn suite(store: &dyn Store) {
    let now = Utc::now();
    let Admission::Opened(first) = admit(store, &alert("a1"), "dev1|T1", now) else {
        panic!("first alert opens a case")
    };
    assert_eq!(first.id.as_str(), "VIG-1");
    assert_eq!(
        admit(store, &alert("a1"), "dev1|T1", now),
        Admission::Duplicate(first.id.clone()),
        "same alert id never opens a second case"
    );
    assert_eq!(
        admit(store, &alert("a2"), "dev1|T1", now + Duration::minutes(10)),
        Admission::Grouped(first.id.clone()),
        "same key within the window groups"
    );
    let queued = store.inbound().expect("inbound");
    assert_eq!(
        queued.len(),
        1,
        "the grouped alert is queued for the case's runner"
    );
    assert_eq!(
        queued[0].1,
        Queued::Item(InboundItem::grouped(
            &first.id,
            &alert("a2"),
            now + Duration::minutes(10)
        ))
    );
    store.finish(queued[0].0).expect("finish");
    assert_eq!(
        admit(store, &alert("a2"), "dev1|T1", now),
        Admission::Duplicate(first.id.clone()),
        "a grouped alert is also deduplicated"
    );
    let Admission::Opened(other) = admit(store, &alert("a3"), "dev2|T1", now) else {
        panic!("another key opens another case")
    };
    assert_eq!(other.id.as_str(), "VIG-2");
    let Admission::Opened(late) = admit(store, &alert("a4"), "dev1|T1", now + Duration::hours(3))
    else {
        panic!("outside the window opens a new case")
    };
    assert_eq!(late.id.as_str(), "VIG-3");

    let mut resolved = store.get(&late.id).expect("get").expect("exists");
    resolved.force_state(CaseState::Resolved);
    store.save(&resolved).expect("save");
    let Admission::Opened(_) = admit(store, &alert("a5"), "dev1|T1", now + Duration::hours(3))
    else {
        panic!("a resolved case takes no more alerts")
    };
    assert_eq!(store.cases().expect("cases").len(), 4);
    assert_eq!(
        store.get(&CaseId::from_seq(99)).expect("get"),
        None,
        "unknown id is None"
    );

    assert_eq!(store.cursor("cs").expect("cursor"), None);
    store.set_cursor("cs", "2024-01-01T00:00:00Z").expect("set");
    assert_eq!(
        store.cursor("cs").expect("cursor").as_deref(),
        Some("2024-01-01T00:00:00Z")
    );

    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(store.enqueue(&keys(&["ev1"]), &item(1)).expect("enqueue"));
    assert!(
        !store.enqueue(&keys(&["ev1"]), &item(1)).expect("enqueue"),
        "dedupe"
    );
    assert!(store.enqueue(&keys(&["ev2"]), &item(2)).expect("enqueue"));
    let items = store.inbound().expect("inbound");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].1, Queued::Item(item(1)));
    store.finish(items[0].0).expect("finish");
    assert_eq!(store.inbound().expect("inbound").len(), 1);
    assert!(
        !store.enqueue(&keys(&["ev1"]), &item(0)).expect("enqueue"),
        "still deduped after finish"
    );

    assert!(!store.remembered("sig-1").expect("remembered"));
    assert!(store.remember("sig-1").expect("remember"));
    assert!(store.remembered("sig-1").expect("remembered"));
    assert!(!store.remember("sig-1").expect("remember"), "once only");
    assert!(
        store.remembered("ev1").expect("remembered"),
        "dedupe keys too"
    );

    let mut with_dm = store.get(&first.id).expect("get").expect("exists");
    with_dm.dm = Some(crate::case::SlackRef {
        channel: "D0CAROL003".into(),
        ts: "1.0".into(),
    });
    store.save(&with_dm).expect("save");
    store.save(&with_dm).expect("save again");
    let mut other_dm = store.get(&other.id).expect("get").expect("exists");
    other_dm.dm = Some(crate::case::SlackRef {
        channel: "D0CAROL003".into(),
        ts: "2.0".into(),
    });
    store.save(&other_dm).expect("save");
    assert_eq!(
        store.dm_cases("D0CAROL003").expect("dms"),
        vec![first.id.clone(), other.id.clone()]
    );
    assert_eq!(
        store.dm_cases("D0CAROL").expect("dms"),
        vec![],
        "whole channel ids only"
    );
    assert_eq!(store.dm_cases("D0NOBODY").expect("dms"), vec![]);
    multi_key_enqueue(store);
}

/// Several keys: a duplicate if any one was seen; all of them remembered together.
fn multi_key_enqueue(store: &dyn Store) {
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let before = store.inbound().expect("inbound").len();
    assert!(
        store
            .enqueue(&keys(&["envelope:e1", "event:Ev9"]), &item(9))
            .expect("enqueue")
    );
    assert!(
        !store
            .enqueue(&keys(&["envelope:e2", "event:Ev9"]), &item(9))
            .expect("enqueue"),
        "same event in a new envelope"
    );
    assert!(
        !store
            .enqueue(&keys(&["envelope:e1", "event:Ev10"]), &item(10))
            .expect("enqueue"),
        "same envelope delivered again"
    );
    assert!(
        store
            .enqueue(&keys(&["envelope:e2"]), &item(11))
            .expect("enqueue"),
        "a refused duplicate remembers none of its own new keys"
    );
    assert!(
        !store
            .enqueue(&keys(&["envelope:e3", "envelope:e2"]), &item(0))
            .expect("enqueue"),
        "the second key of a new item was remembered"
    );
    let items = store.inbound().expect("inbound");
    assert_eq!(items.len(), before + 2);
    for (seq, _) in &items[before..] {
        store.finish(*seq).expect("finish");
    }
}

/// The `seen` tree is pruned by first-seen time: keys older than the cutoff go, newer stay.
fn prune_suite(store: &dyn Store) {
    assert!(
        store
            .enqueue(&["old".to_string()], &item(0))
            .expect("enqueue")
    );
    assert!(store.remember("webhook:old").expect("remember"));
    assert_eq!(
        store
            .prune_seen(Utc::now() - Duration::days(7))
            .expect("prune"),
        0,
        "nothing is a week old yet"
    );
    assert!(store.remembered("old").expect("remembered"));
    assert_eq!(
        store
            .prune_seen(Utc::now() + Duration::seconds(2))
            .expect("prune"),
        2,
        "both are older than a cutoff in the future"
    );
    assert!(!store.remembered("old").expect("remembered"));
    assert!(!store.remembered("webhook:old").expect("remembered"));
    assert!(
        store
            .enqueue(&["old".to_string()], &item(0))
            .expect("enqueue"),
        "a pruned key is new again"
    );
}

#[test]
fn memory_store_prunes_seen_by_age() {
    prune_suite(&MemoryStore::new());
}

#[test]
fn sled_store_prunes_seen_by_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    prune_suite(&SledStore::open(dir.path()).expect("open"));
}

/// Opens `dir` as a store: empty when it opens, else the error (`open` itself waits out the
/// lock a just-dropped raw handle's flusher thread may still hold).
fn open_error(dir: &std::path::Path) -> String {
    match SledStore::open(dir) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// Opens `dir` with sled directly, waiting out the lock a just-dropped store's flusher holds.
fn raw_open(dir: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sled::open(dir).expect("raw open")
}

fn raw_insert(dir: &std::path::Path, tree: &str, key: &[u8], value: &[u8]) {
    let db = raw_open(dir);
    db.open_tree(tree)
        .expect("tree")
        .insert(key, value)
        .expect("insert");
    db.flush().expect("flush");
}

#[test]
fn sled_refuses_a_damaged_record_in_every_tree_naming_the_path_and_the_tree() {
    let damaged: &[(&str, &[u8], &[u8])] = &[
        ("cases", &1u64.to_be_bytes(), b"{not json"),
        ("cases", b"short", b"{}"),
        ("alerts", b"cs:1", b"not-a-case"),
        ("groups", b"dev|T1", &[0xff, 0xfe]),
        ("meta", b"case_seq", b"\x01"),
        ("meta", b"inbox_seq", b"seven"),
        ("meta", b"cursor:crowdstrike", &[0xff]),
        ("seen", b"event:Ev1", b"yesterday"),
        ("inbox", &3u64.to_be_bytes(), b"{\"case\": "),
        ("dms", b"D0CAROL003", b""),
    ];
    for (tree, key, value) in damaged {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(SledStore::open(dir.path()).expect("a fresh store opens"));
        raw_insert(dir.path(), tree, key, value);
        let err = open_error(dir.path());
        assert!(!err.is_empty(), "{tree}: a damaged store must not open");
        assert!(
            err.contains(&dir.path().display().to_string()),
            "{tree}: names the path: {err}"
        );
        assert!(err.contains(&format!("tree `{tree}`")), "{tree}: {err}");
    }
}

#[test]
fn case_seq_never_goes_backwards_when_it_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Utc::now();
    {
        let store = SledStore::open(dir.path()).expect("open");
        for (id, key) in [("a1", "k1"), ("a2", "k2")] {
            let Admission::Opened(_) = admit(&store, &alert(id), key, now) else {
                panic!("opens")
            };
        }
    }
    {
        let db = raw_open(dir.path());
        db.open_tree("meta")
            .expect("tree")
            .remove("case_seq")
            .expect("remove");
        db.flush().expect("flush");
    }
    assert_eq!(
        open_error(dir.path()),
        "",
        "a lost counter is recovered, not fatal"
    );
    let store = SledStore::open(dir.path()).expect("open");
    let Admission::Opened(next) = admit(&store, &alert("a3"), "k3", now) else {
        panic!("opens")
    };
    assert_eq!(
        next.id.as_str(),
        "VIG-3",
        "continues after the highest case"
    );
    let first = store
        .get(&CaseId::from_seq(1))
        .expect("get")
        .expect("VIG-1");
    assert_eq!(first.alert.id, "a1", "VIG-1 was not overwritten");
}

#[test]
fn sled_fills_the_dm_index_from_cases_written_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        let Admission::Opened(mut c) = admit(&store, &alert("a1"), "k1", Utc::now()) else {
            panic!("opens")
        };
        c.dm = Some(crate::case::SlackRef {
            channel: "D0DAN00004".into(),
            ts: "1.0".into(),
        });
        store.save(&c).expect("save");
    }
    {
        let db = raw_open(dir.path());
        db.open_tree("dms").expect("tree").clear().expect("clear");
        db.flush().expect("flush");
    }
    assert_eq!(open_error(dir.path()), "");
    let store = SledStore::open(dir.path()).expect("open");
    assert_eq!(
        store.dm_cases("D0DAN00004").expect("dms"),
        vec![CaseId::from_seq(1)]
    );
}

#[test]
fn memory_store_semantics() {
    suite(&MemoryStore::new());
}

#[test]
fn sled_store_semantics_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        suite(&store);
    }
    let store = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(store.cases().expect("cases").len(), 4, "survives reopen");
    assert_eq!(store.inbound().expect("inbound").len(), 1);
    assert_eq!(
        store.cursor("cs").expect("cursor").as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
}

#[test]
fn sled_refuses_a_case_that_does_not_decode() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = sled::open(dir.path()).expect("raw open");
        let cases = db.open_tree("cases").expect("tree");
        cases
            .insert(1u64.to_be_bytes(), b"{not json".as_slice())
            .expect("insert");
        db.flush().expect("flush");
    }
    let err = match SledStore::open(dir.path()) {
        Ok(_) => panic!("a corrupt store must not open"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("does not decode"), "{err}");
}

#[test]
fn sled_open_failure_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let err = match SledStore::open(&file) {
        Ok(_) => panic!("cannot open a file as a store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&file.display().to_string()), "{err}");
}

#[test]
fn a_store_held_by_another_handle_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _held = SledStore::open(dir.path()).expect("open");
    let err = match SledStore::open(dir.path()) {
        Ok(_) => panic!("two handles on one store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another `vigil run`"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}
