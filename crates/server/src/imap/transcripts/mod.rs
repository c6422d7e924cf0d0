//! IMAP transcript tests, one file per command family: scripts of commands and the
//! responses the server owes (RFC 3501, RFC 9051 and the extensions), run against
//! the real driver and the in-memory store through [`super::transcript`]. Scripts
//! with several sessions check what one session sees of another's changes.

mod acl;
mod append;
mod auth;
mod condstore;
mod esearch;
mod expunge;
mod fetch;
mod mailbox;
mod multiappend;
mod notify;
mod rev2;
mod search;
mod select;
mod sort;
mod store;

use super::transcript::{ALICE, Client, Transcript};

/// 44 octets.
pub(super) const M1: &[u8] = b"From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n";
/// 44 octets.
pub(super) const M2: &[u8] = b"From: b@example.org\r\nSubject: two\r\n\r\nWorld\r\n";
/// 49 octets.
pub(super) const M3: &[u8] = b"From: c@example.org\r\nSubject: three\r\n\r\nAgain!\r\n";

/// A server where alice's INBOX holds `messages` (UIDs from 1).
pub(super) async fn with_inbox(messages: &[&[u8]]) -> Transcript {
    let t = Transcript::new().await;
    for m in messages {
        t.deliver(ALICE, m).await;
    }
    t
}

/// A session of alice's with INBOX selected (read-write); the SELECT's responses
/// are not checked beyond its tagged OK.
pub(super) async fn selected(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s.cmd_contains("s SELECT INBOX", "s OK [READ-WRITE] SELECT completed")
        .await;
    s
}
