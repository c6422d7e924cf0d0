//! APPEND (RFC 3501 §6.3.11): a synchronising literal after the server's `+`, a
//! non-synchronising one (LITERAL+, RFC 7888), flags and INTERNALDATE kept,
//! APPENDUID (RFC 4315 §3), TRYCREATE for a mailbox that does not exist, and the
//! new message announced to the appending session and to another one with the
//! mailbox selected.

use super::{M1, M2, selected, with_inbox};
use crate::imap::transcript::{ALICE, Client, Transcript};

async fn logged_in(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s
}

#[tokio::test]
async fn append_with_a_synchronising_literal() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd_literal(
        "a APPEND Drafts (\\Seen \\Draft) \"05-Mar-2024 10:11:12 +0100\" {44}",
        M1,
        &["a OK [APPENDUID * 1] APPEND completed"],
    )
    .await;
    s.cmd_contains("b SELECT Drafts", "* 1 EXISTS").await;
    s.cmd(
        "c FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)",
        &[
            // The same instant, in UTC: RFC 3501 keeps the time, not the zone.
            "* 1 FETCH (FLAGS (\\Draft \\Seen \\Recent) INTERNALDATE \"05-Mar-2024 09:11:12 +0000\" RFC822.SIZE 44)",
            "c OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "d FETCH 1 BODY.PEEK[TEXT]",
        &[
            "* 1 FETCH (BODY[TEXT] {7}",
            "Hello",
            ")",
            "d OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_continuation_comes_before_the_literal_and_appenduid_counts_up() {
    let t = with_inbox(&[M1]).await;
    let mut s = logged_in(&t).await;
    s.send_raw(b"a APPEND INBOX {44}\r\n").await;
    let plus = s.continuation().await;
    assert_eq!(plus, "+ Ready for literal data");
    s.send_raw(M2).await;
    s.send_raw(b"\r\n").await;
    let got = s
        .finish("a", &["a OK [APPENDUID * 2] APPEND completed"])
        .await;
    // The UIDVALIDITY in APPENDUID is the mailbox's.
    let validity = got[0].split(' ').nth(3).unwrap_or("").to_owned();
    s.cmd_contains(
        "b EXAMINE INBOX",
        &format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
    )
    .await;
}

#[tokio::test]
async fn append_with_a_non_synchronising_literal() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    let mut line = b"a APPEND INBOX {44+}\r\n".to_vec();
    line.extend_from_slice(M1);
    line.extend_from_slice(b"\r\n");
    s.send_raw(&line).await;
    s.finish("a", &["a OK [APPENDUID * 1] APPEND completed"])
        .await;
}

#[tokio::test]
async fn append_to_a_missing_mailbox_asks_to_create_it() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd_literal(
        "a APPEND Nosuch {44}",
        M1,
        &["a NO [TRYCREATE] No such mailbox"],
    )
    .await;
}

#[tokio::test]
async fn the_selected_mailbox_grows_in_both_sessions() {
    let t = with_inbox(&[M1]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    // The appending session hears of its message before the tagged OK, and it is
    // the first to: \Recent is its.
    a.cmd_literal(
        "a APPEND INBOX {44}",
        M2,
        &[
            "* 2 EXISTS",
            "* 2 RECENT",
            "a OK [APPENDUID * 2] APPEND completed",
        ],
    )
    .await;
    b.cmd(
        "b NOOP",
        &["* 2 EXISTS", "* 0 RECENT", "b OK NOOP completed"],
    )
    .await;
    b.cmd(
        "c FETCH 2 (UID RFC822.SIZE)",
        &["* 2 FETCH (UID 2 RFC822.SIZE 44)", "c OK FETCH completed"],
    )
    .await;
}
