//! EXPUNGE and what other sessions see of it (RFC 3501 §6.4.3, §7.4.1; RFC 2180
//! §4.1): the expunging session's `* n EXPUNGE` lines, UID EXPUNGE (RFC 4315 §2.1),
//! EXPUNGE refused read-only, and multi-session scripts: while session B still
//! numbers a message A expunged, B's FETCH of it is `NO [EXPUNGEISSUED]` (RFC
//! 5530), a STORE to it is OK and changes nothing, FETCH, STORE and SEARCH by
//! sequence number send no EXPUNGE (§7.4.1), and B's next NOOP, UID command or IDLE
//! brings the `* n EXPUNGE` (and the `* n EXISTS` of what A appended).

use super::{M1, M2, M3, selected, with_inbox};
use crate::imap::transcript::ALICE;

#[tokio::test]
async fn expunge_announces_each_message_removed() {
    let t = with_inbox(&[M1, M2, M3, M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1,3 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    // Each number as it is when its line is read: 3 first, then 1.
    s.cmd(
        "b EXPUNGE",
        &["* 3 EXPUNGE", "* 1 EXPUNGE", "b OK EXPUNGE completed"],
    )
    .await;
    s.cmd(
        "c FETCH 1:* UID",
        &[
            "* 1 FETCH (UID 2)",
            "* 2 FETCH (UID 4)",
            "c OK FETCH completed",
        ],
    )
    .await;
    s.cmd("d EXPUNGE", &["d OK EXPUNGE completed"]).await;
}

#[tokio::test]
async fn uid_expunge_removes_only_the_uids_named() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1:3 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd(
        "b UID EXPUNGE 2",
        &["* 2 EXPUNGE", "b OK EXPUNGE completed"],
    )
    .await;
    s.cmd(
        "c UID FETCH 1:* FLAGS",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))",
            "* 2 FETCH (UID 3 FLAGS (\\Deleted \\Recent))",
            "c OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn expunge_is_refused_read_only() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd_contains("b EXAMINE INBOX", "b OK [READ-ONLY] EXAMINE completed")
        .await;
    s.cmd_contains("c EXPUNGE", "c NO *").await;
    s.cmd_contains("d SELECT INBOX", "* 1 EXISTS").await;
}

#[tokio::test]
async fn another_sessions_expunge_reaches_fetch_store_and_noop() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    a.cmd(
        "a1 STORE 2 +FLAGS.SILENT (\\Deleted)",
        &["a1 OK STORE completed"],
    )
    .await;
    a.cmd("a2 EXPUNGE", &["* 2 EXPUNGE", "a2 OK EXPUNGE completed"])
        .await;
    // B still numbers the message 2; its data is gone.
    b.cmd(
        "b1 FETCH 2 (FLAGS)",
        &["b1 NO [EXPUNGEISSUED] Some of the requested messages no longer exist"],
    )
    .await;
    b.cmd(
        "b2 FETCH 2 BODY[]",
        &["b2 NO [EXPUNGEISSUED] Some of the requested messages no longer exist"],
    )
    .await;
    // RFC 2180 §4.2.1: a STORE to it succeeds and does nothing.
    b.cmd("b3 STORE 2 +FLAGS (\\Seen)", &["b3 OK STORE completed"])
        .await;
    // The messages still there answer, and no EXPUNGE comes during FETCH, STORE or
    // SEARCH by number (RFC 3501 §7.4.1).
    b.cmd(
        "b4 FETCH 3 UID",
        &["* 3 FETCH (UID 3)", "b4 OK FETCH completed"],
    )
    .await;
    b.cmd(
        "b5 STORE 3 +FLAGS (\\Flagged)",
        &[
            "* 3 FETCH (UID 3 FLAGS (\\Flagged))",
            "b5 OK STORE completed",
        ],
    )
    .await;
    // SEARCH leaves out the message expunged elsewhere, in B's numbers.
    b.cmd("b6 SEARCH ALL", &["* SEARCH 1 3", "b6 OK SEARCH completed"])
        .await;
    b.cmd("b7 NOOP", &["* 2 EXPUNGE", "b7 OK NOOP completed"])
        .await;
    b.cmd(
        "b8 FETCH 1:* (UID FLAGS)",
        &[
            "* 1 FETCH (UID 1 FLAGS ())",
            "* 2 FETCH (UID 3 FLAGS (\\Flagged))",
            "b8 OK FETCH completed",
        ],
    )
    .await;
    a.cmd(
        "a3 NOOP",
        &[
            "* 2 FETCH (UID 3 FLAGS (\\Flagged \\Recent))",
            "a3 OK NOOP completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_uid_command_brings_the_expunge() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    a.cmd(
        "a1 STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a1 OK STORE completed"],
    )
    .await;
    a.cmd("a2 EXPUNGE", &["* 1 EXPUNGE", "a2 OK EXPUNGE completed"])
        .await;
    // UID commands may carry EXPUNGE (RFC 3501 §7.4.1); the FETCH before it still
    // uses the numbers B had, the EXPUNGE after it brings them up to date.
    b.cmd(
        "b1 UID FETCH 1:* FLAGS",
        &[
            "* 2 FETCH (UID 2 FLAGS ())",
            "* 1 EXPUNGE",
            "b1 OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_append_in_one_session_is_an_exists_in_the_other() {
    let t = with_inbox(&[M1]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    a.cmd_literal(
        "a1 APPEND INBOX {44}",
        M2,
        &[
            "* 2 EXISTS",
            "* 2 RECENT",
            "a1 OK [APPENDUID * 2] APPEND completed",
        ],
    )
    .await;
    b.cmd(
        "b1 NOOP",
        &["* 2 EXISTS", "* 0 RECENT", "b1 OK NOOP completed"],
    )
    .await;
    a.cmd(
        "a2 STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a2 OK STORE completed"],
    )
    .await;
    a.cmd("a3 EXPUNGE", &["* 1 EXPUNGE", "a3 OK EXPUNGE completed"])
        .await;
    t.deliver(ALICE, M3).await;
    b.cmd(
        "b2 NOOP",
        &[
            "* 1 EXPUNGE",
            "* 2 EXISTS",
            "* 1 RECENT",
            "b2 OK NOOP completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn idle_hears_expunges_and_new_mail() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    b.idle("i").await;
    a.cmd(
        "a1 STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a1 OK STORE completed"],
    )
    .await;
    b.idle_until(&["* 1 FETCH (UID 1 FLAGS (\\Deleted))"]).await;
    a.cmd("a2 EXPUNGE", &["* 1 EXPUNGE", "a2 OK EXPUNGE completed"])
        .await;
    b.idle_until(&["* 1 EXPUNGE"]).await;
    t.deliver(ALICE, M3).await;
    b.idle_until(&["* 2 EXISTS", "* 1 RECENT"]).await;
    b.done("i", &["i OK IDLE terminated"]).await;
    b.cmd(
        "b1 FETCH 1:* UID",
        &[
            "* 1 FETCH (UID 2)",
            "* 2 FETCH (UID 3)",
            "b1 OK FETCH completed",
        ],
    )
    .await;
}
