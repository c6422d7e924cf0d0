//! Fuzzes the real IMAP session: the server's driver and every command handler
//! (`crates/server/src/imap*`, through `server::fuzzing`) over the in-memory store,
//! including the hand-written parsers of the commands imap-codec does not know
//! (ESEARCH, ESORT, LIST-EXTENDED, NOTIFY, CATENATE/MULTIAPPEND, PARTIAL, the ACL
//! commands) and the shared-mailbox paths. Every input runs against a fresh store
//! where alice@example.org and bob@example.org log in with `secret` and alice's
//! INBOX (one message) is shared with bob.
//!
//! The first byte picks the chunk size the rest is written in (so commands and
//! literals arrive cut anywhere). Checked: no panic anywhere in the session, and the
//! session ends once its input has (no hang); every line the server writes before a
//! literal-free end is a response (`*`, `+` or a tag). Run: `scripts/fuzz imap_session`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::fuzzing::ImapFuzz;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static FUZZ: OnceLock<ImapFuzz> = OnceLock::new();
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let fuzz = FUZZ.get_or_init(ImapFuzz::new);
    let out = fuzz.run(rest.chunks(1 + first as usize));
    // The greeting comes first, whatever the input.
    assert!(
        out.starts_with(b"* OK"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
});
