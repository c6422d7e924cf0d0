//! Suite cases for shared counters (`Store::counters_shared`, `counter_add`,
//! `counter_get`, `counter_clear`): a backend either shares them (PostgreSQL: totals
//! over every part, within the window, parts forgotten alone) or answers `None`
//! without I/O (in memory, SQLite: one node, whose in-memory counts are the whole
//! count). Totals across two nodes are tested in `postgres::counters`.

use super::now;
use crate::Store;

pub(crate) async fn counters_shared_or_none<S: Store>(s: &S) {
    let t = now();
    let key = "login-ip:192.0.2.1";
    let added = s.counter_add(key, "a@x", 1, 900, t).await.expect("add");
    if !s.counters_shared() {
        assert_eq!(added, None, "an unshared store answers None");
        assert_eq!(s.counter_get(&[(key, 900)], t).await.expect("get"), None);
        s.counter_clear(key, None).await.expect("clear is no error");
        return;
    }
    assert_eq!(added, Some(1));
    assert_eq!(
        s.counter_add(key, "b@x", 2, 900, t).await.expect("add"),
        Some(3)
    );
    assert_eq!(
        s.counter_add("other", "", 5, 900, t).await.expect("add"),
        Some(5),
        "keys count apart"
    );
    assert_eq!(
        s.counter_get(&[(key, 900), ("other", 900), ("none", 900)], t)
            .await
            .expect("get"),
        Some(vec![3, 5, 0])
    );
    s.counter_clear(key, Some("b@x")).await.expect("clear part");
    assert_eq!(
        s.counter_get(&[(key, 900)], t).await.expect("get"),
        Some(vec![1])
    );
    s.counter_clear(key, None).await.expect("clear all");
    assert_eq!(
        s.counter_get(&[(key, 900)], t).await.expect("get"),
        Some(vec![0])
    );
}
