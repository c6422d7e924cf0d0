//! CONDSTORE (RFC 7162 §3.1): the first CONDSTORE-enabling command of a session
//! with a mailbox selected (FETCH MODSEQ, ENABLE) answers `* OK [HIGHESTMODSEQ n]`
//! before anything else, and only that once; from then on every FETCH response a
//! change causes names UID and MODSEQ; SELECT (CONDSTORE); FETCH CHANGEDSINCE; STORE
//! UNCHANGEDSINCE with `[MODIFIED ...]` in sequence numbers or UIDs; SEARCH MODSEQ.
//! Delivering M1, M2, M3 gives them the mod-sequences 2, 3, 4.

use super::{M1, M2, M3, selected, with_inbox};
use crate::imap::transcript::ALICE;

#[tokio::test]
async fn the_first_enabling_fetch_reports_highestmodseq() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1 (FLAGS MODSEQ)",
        &[
            "* OK [HIGHESTMODSEQ 3] Highest",
            "* 1 FETCH (FLAGS (\\Recent) MODSEQ (2))",
            "a OK FETCH completed",
        ],
    )
    .await;
    // Once only.
    s.cmd(
        "b FETCH 1:* MODSEQ",
        &[
            "* 1 FETCH (MODSEQ (2))",
            "* 2 FETCH (MODSEQ (3))",
            "b OK FETCH completed",
        ],
    )
    .await;
    // STORE's answers now carry UID and MODSEQ.
    s.cmd(
        "c STORE 1 +FLAGS (\\Seen)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (4))",
            "c OK STORE completed",
        ],
    )
    .await;
    // A FETCH of neither UID nor MODSEQ that sets no flag is left as it was.
    s.cmd(
        "d FETCH 2 FLAGS",
        &["* 2 FETCH (FLAGS (\\Recent))", "d OK FETCH completed"],
    )
    .await;
}

#[tokio::test]
async fn enable_and_select_condstore() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = t.session().await;
    s.login(ALICE).await;
    s.cmd(
        "a ENABLE CONDSTORE",
        &["* ENABLED CONDSTORE", "a OK ENABLE completed"],
    )
    .await;
    s.cmd_contains(
        "b SELECT INBOX",
        "* OK [HIGHESTMODSEQ 3] Highest mailbox mod-sequence",
    )
    .await;
    // Enabled before SELECT: no separate HIGHESTMODSEQ now.
    s.cmd(
        "c FETCH 2 MODSEQ",
        &["* 2 FETCH (MODSEQ (3))", "c OK FETCH completed"],
    )
    .await;
    let mut other = t.session().await;
    other.login(ALICE).await;
    other
        .cmd_contains(
            "d SELECT INBOX (CONDSTORE)",
            "* OK [HIGHESTMODSEQ 3] Highest mailbox mod-sequence",
        )
        .await;
    other
        .cmd(
            "e STORE 2 +FLAGS (\\Flagged)",
            &[
                "* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (4))",
                "e OK STORE completed",
            ],
        )
        .await;
    // The other session hears of it with UID and MODSEQ too.
    s.cmd(
        "f NOOP",
        &[
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (4))",
            "f OK NOOP completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn enable_with_a_mailbox_selected_reports_highestmodseq() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a ENABLE CONDSTORE",
        &[
            "* OK [HIGHESTMODSEQ 2] Highest",
            "* ENABLED CONDSTORE",
            "a OK ENABLE completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn changedsince_and_search_modseq() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    b.cmd(
        "b1 STORE 2 +FLAGS.SILENT (\\Flagged)",
        &["b1 OK STORE completed"],
    )
    .await;
    a.cmd(
        "a1 FETCH 1:* (FLAGS) (CHANGEDSINCE 4)",
        &[
            "* OK [HIGHESTMODSEQ *] Highest",
            "* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (5))",
            "a1 OK FETCH completed",
        ],
    )
    .await;
    a.cmd(
        "a2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3)",
        &[
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (5))",
            "* 3 FETCH (UID 3 FLAGS (\\Recent) MODSEQ (4))",
            "a2 OK FETCH completed",
        ],
    )
    .await;
    a.cmd(
        "a3 SEARCH MODSEQ 4",
        &["* SEARCH 2 3 (MODSEQ 5)", "a3 OK SEARCH completed"],
    )
    .await;
    a.cmd(
        "a4 SEARCH MODSEQ 6",
        &["* SEARCH", "a4 OK SEARCH completed"],
    )
    .await;
}

#[tokio::test]
async fn unchangedsince_stores_what_did_not_change_and_names_the_rest() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    b.cmd(
        "b1 STORE 2 +FLAGS.SILENT (\\Flagged)",
        &["b1 OK STORE completed"],
    )
    .await;
    // STORE UNCHANGEDSINCE enables CONDSTORE too: the HIGHESTMODSEQ A knew of
    // first, then the stored messages, the change A had not heard of, and the
    // number of the message that failed the test.
    a.cmd(
        "a1 STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS (\\Seen)",
        &[
            "* OK [HIGHESTMODSEQ 4] Highest",
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (6))",
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (5))",
            "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) MODSEQ (7))",
            "a1 OK [MODIFIED 2] Conditional STORE failed",
        ],
    )
    .await;
    // With CONDSTORE on, even .SILENT answers the new MODSEQ.
    a.cmd(
        "a2 STORE 1 +FLAGS.SILENT (\\Deleted)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Deleted \\Seen \\Recent) MODSEQ (8))",
            "a2 OK STORE completed",
        ],
    )
    .await;
    a.cmd("a3 EXPUNGE", &["* 1 EXPUNGE", "a3 OK EXPUNGE completed"])
        .await;
    // UID STORE names UIDs in MODIFIED.
    a.cmd(
        "a4 UID STORE 2:3 (UNCHANGEDSINCE 5) -FLAGS (\\Flagged)",
        &[
            "* 1 FETCH (UID 2 FLAGS (\\Recent) MODSEQ (10))",
            "a4 OK [MODIFIED 3] Conditional STORE failed",
        ],
    )
    .await;
    // UNCHANGEDSINCE 0 always fails.
    a.cmd(
        "a5 STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Answered)",
        &["a5 OK [MODIFIED 1] Conditional STORE failed"],
    )
    .await;
}
