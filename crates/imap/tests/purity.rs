//! The IMAP crate, session included, stays free of I/O (../shared/DESIGN.md: the
//! sans-I/O crates never depend on `store`, `queue` or `server`, and have no tokio):
//! its normal dependencies name no runtime, no storage backend, no server crate.
//! (Tests may use them: `[dev-dependencies]` are not checked.)

#[test]
fn no_runtime_backend_or_server_dependency() {
    let manifest = include_str!("../Cargo.toml");
    let dependencies = manifest
        .split("\n[dependencies]\n")
        .nth(1)
        .expect("a [dependencies] table");
    let names: Vec<&str> = dependencies
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(['.', '=', ' ']).next().unwrap_or_default())
        .collect();
    assert!(names.contains(&"store-api"), "{names:?}");
    for forbidden in [
        "tokio", "store", "server", "queue", "delivery", "relay", "rusqlite", "config",
    ] {
        assert!(!names.contains(&forbidden), "{forbidden} in {names:?}");
    }
}
