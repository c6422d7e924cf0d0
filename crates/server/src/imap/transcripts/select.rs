//! Opening and closing mailboxes: SELECT and EXAMINE's responses (RFC 3501 §6.3.1,
//! §6.3.2; HIGHESTMODSEQ RFC 7162 §3.1.2.1), the read-only state, `[CLOSED]` when
//! another mailbox replaces the selected one (RFC 7162 §3.2.11), a failed SELECT
//! leaving nothing selected, UNSELECT (RFC 3691) and CLOSE (§6.4.2: silent
//! expunge, none when read-only), and which session owns `\Recent` (§2.3.2) when
//! two have the mailbox open.

use super::{M1, M2, M3, selected, with_inbox};
use crate::imap::transcript::{ALICE, Client, Transcript};

/// The responses of a SELECT (`read_only`: EXAMINE) of INBOX.
fn opened(tag: &str, exists: u32, recent: u32, read_only: bool) -> Vec<String> {
    let mut lines = vec![
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)".to_owned(),
        format!("* {exists} EXISTS"),
        format!("* {recent} RECENT"),
    ];
    if exists > 0 {
        lines.push("* OK [UNSEEN 1] First unseen message".into());
    }
    lines.push(if read_only {
        "* OK [PERMANENTFLAGS ()] Read-only mailbox".into()
    } else {
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted"
            .into()
    });
    lines.extend([
        "* OK [UIDVALIDITY *] UIDs valid".to_owned(),
        format!("* OK [UIDNEXT {}] Predicted next UID", exists + 1),
        "* OK [HIGHESTMODSEQ *] Highest mailbox mod-sequence".to_owned(),
    ]);
    lines.push(if read_only {
        format!("{tag} OK [READ-ONLY] EXAMINE completed")
    } else {
        format!("{tag} OK [READ-WRITE] SELECT completed")
    });
    lines
}

async fn open(s: &mut Client, tag: &str, exists: u32, recent: u32, read_only: bool) {
    let want = opened(tag, exists, recent, read_only);
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let verb = if read_only { "EXAMINE" } else { "SELECT" };
    s.cmd(&format!("{tag} {verb} INBOX"), &want).await;
}

async fn logged_in(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s
}

#[tokio::test]
async fn select_reports_the_mailbox() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = logged_in(&t).await;
    open(&mut s, "a", 2, 2, false).await;
    s.cmd(
        "b FETCH 1:* FLAGS",
        &[
            "* 1 FETCH (FLAGS (\\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))",
            "b OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_empty_mailbox_has_no_unseen_code() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    open(&mut s, "a", 0, 0, false).await;
}

#[tokio::test]
async fn examine_is_read_only_and_keeps_recent_for_others() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = logged_in(&t).await;
    // RFC 3501 §6.3.2: EXAMINE changes no per-user state, \Recent included.
    open(&mut a, "a", 2, 2, true).await;
    a.cmd("b STORE 1 +FLAGS (\\Seen)", &["b NO [READ-ONLY] *"])
        .await;
    // Reading a message read-only does not set \Seen: no FLAGS in the answer.
    a.cmd(
        "c FETCH 1 BODY[TEXT]",
        &[
            "* 1 FETCH (BODY[TEXT] {7}",
            "Hello",
            ")",
            "c OK FETCH completed",
        ],
    )
    .await;
    let mut b = logged_in(&t).await;
    open(&mut b, "d", 2, 2, false).await;
}

#[tokio::test]
async fn a_failed_select_leaves_no_mailbox_selected() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    // RFC 3501 §6.3.1: a SELECT that fails closes the mailbox that was selected.
    s.cmd(
        "a SELECT Nosuch",
        &[
            "* OK [CLOSED] Previous mailbox closed",
            "a NO [NONEXISTENT] No such mailbox",
        ],
    )
    .await;
    s.cmd("b FETCH 1 FLAGS", &["b BAD No mailbox selected"])
        .await;
}

#[tokio::test]
async fn selecting_another_mailbox_closes_the_first() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a EXAMINE Trash",
        &[
            "* OK [CLOSED] Previous mailbox closed",
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* 0 EXISTS",
            "* 0 RECENT",
            "* OK [PERMANENTFLAGS ()] Read-only mailbox",
            "* OK [UIDVALIDITY *] UIDs valid",
            "* OK [UIDNEXT 1] Predicted next UID",
            "* OK [HIGHESTMODSEQ *] Highest mailbox mod-sequence",
            "a OK [READ-ONLY] EXAMINE completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn unselect_keeps_deleted_messages_and_close_expunges_them_silently() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd("b UNSELECT", &["b OK UNSELECT completed"]).await;
    s.cmd("c FETCH 1 FLAGS", &["c BAD No mailbox selected"])
        .await;
    s.cmd_contains("d SELECT INBOX", "* 3 EXISTS").await;
    s.cmd(
        "e STORE 2 +FLAGS.SILENT (\\Deleted)",
        &["e OK STORE completed"],
    )
    .await;
    // No EXPUNGE responses: CLOSE removes them without a word (RFC 3501 §6.4.2).
    s.cmd("f CLOSE", &["f OK CLOSE completed"]).await;
    s.cmd("g UNSELECT", &["g BAD No mailbox selected"]).await;
    s.cmd_contains("h SELECT INBOX", "* 1 EXISTS").await;
    s.cmd(
        "i FETCH 1 (UID FLAGS)",
        &["* 1 FETCH (UID 3 FLAGS ())", "i OK FETCH completed"],
    )
    .await;
}

#[tokio::test]
async fn close_of_a_read_only_mailbox_expunges_nothing() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    a.cmd(
        "a STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    let mut b = logged_in(&t).await;
    b.cmd_contains("b EXAMINE INBOX", "b OK [READ-ONLY] EXAMINE completed")
        .await;
    b.cmd("c CLOSE", &["c OK CLOSE completed"]).await;
    a.cmd("d NOOP", &["d OK NOOP completed"]).await;
    open(&mut b, "e", 2, 0, true).await;
}

#[tokio::test]
async fn recent_belongs_to_the_first_session_to_see_a_message() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = logged_in(&t).await;
    let mut b = logged_in(&t).await;
    open(&mut a, "a", 2, 2, false).await;
    open(&mut b, "b", 2, 0, false).await;
    t.deliver(ALICE, M3).await;
    // B hears of the new message first: it is B's.
    b.cmd(
        "c NOOP",
        &["* 3 EXISTS", "* 1 RECENT", "c OK NOOP completed"],
    )
    .await;
    a.cmd(
        "d NOOP",
        &["* 3 EXISTS", "* 2 RECENT", "d OK NOOP completed"],
    )
    .await;
    a.cmd(
        "e FETCH 1:* FLAGS",
        &[
            "* 1 FETCH (FLAGS (\\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))",
            "* 3 FETCH (FLAGS ())",
            "e OK FETCH completed",
        ],
    )
    .await;
    b.cmd(
        "f FETCH 1:* FLAGS",
        &[
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "* 3 FETCH (FLAGS (\\Recent))",
            "f OK FETCH completed",
        ],
    )
    .await;
    b.cmd_contains("g SEARCH RECENT", "* SEARCH 3").await;
    a.cmd_contains("h SEARCH NEW", "* SEARCH 1 2").await;
}

#[tokio::test]
async fn a_mailbox_deleted_under_another_session() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    a.cmd_contains("a1 COPY 1:2 Archive", "a1 OK [COPYUID *] COPY completed")
        .await;
    let mut b = logged_in(&t).await;
    b.cmd_contains("b1 SELECT Archive", "* 2 EXISTS").await;
    a.cmd("a2 DELETE Archive", &["a2 OK DELETE completed"])
        .await;
    // RFC 2180 §3 lets the server refuse the DELETE, end the other sessions with
    // BYE, or go on with the mailbox empty; this one allowed it, so B must hear
    // either a BYE or that both messages are gone.
    let got = b.cmd_lines("b2 NOOP").await;
    if got.iter().any(|l| l.starts_with("* BYE")) {
        return;
    }
    assert_eq!(
        got,
        ["* 2 EXPUNGE", "* 1 EXPUNGE", "b2 OK NOOP completed"],
        "B hears nothing of the deleted mailbox"
    );
    let got = b.cmd_lines("b3 STORE 1 +FLAGS (\\Seen)").await;
    assert!(
        !got.iter().any(|l| l.contains("[SERVERBUG]")),
        "not a server bug: {got:?}"
    );
}

#[tokio::test]
async fn a_store_on_a_mailbox_deleted_under_it_is_nonexistent_then_bye() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    a.cmd_contains("a1 COPY 1:2 Archive", "a1 OK [COPYUID *] COPY completed")
        .await;
    let mut b = logged_in(&t).await;
    b.cmd_contains("b1 SELECT Archive", "* 2 EXISTS").await;
    a.cmd("a2 DELETE Archive", &["a2 OK DELETE completed"])
        .await;
    // The store answers NotFound: no SERVERBUG (RFC 5530), and the session ends.
    b.cmd(
        "b2 STORE 1 +FLAGS (\\Seen)",
        &[
            "* BYE Selected mailbox was deleted, have to disconnect",
            "b2 NO [NONEXISTENT] The mailbox no longer exists",
        ],
    )
    .await;
    b.closed().await;
}
