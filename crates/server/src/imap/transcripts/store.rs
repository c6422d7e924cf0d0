//! STORE and UID STORE (RFC 3501 §6.4.6): FLAGS, +FLAGS and -FLAGS with their
//! untagged FETCH answers, `.SILENT` without them, a new keyword announced first
//! with `* FLAGS` and `* OK [PERMANENTFLAGS ...]` (§7.2.6), and what another session
//! with the mailbox open hears of the change on its next command.

use super::{M1, M2, selected, with_inbox};

#[tokio::test]
async fn add_remove_and_replace_flags() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1:2 +FLAGS (\\Flagged \\Seen)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Seen \\Recent))",
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Seen \\Recent))",
            "a OK STORE completed",
        ],
    )
    .await;
    s.cmd(
        "b STORE 2 -FLAGS (\\Seen)",
        &[
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))",
            "b OK STORE completed",
        ],
    )
    .await;
    s.cmd(
        "c STORE 1 FLAGS (\\Answered)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))",
            "c OK STORE completed",
        ],
    )
    .await;
    s.cmd(
        "d UID STORE 2 FLAGS ()",
        &["* 2 FETCH (UID 2 FLAGS (\\Recent))", "d OK STORE completed"],
    )
    .await;
}

#[tokio::test]
async fn silent_stores_answer_only_the_tagged_ok() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1 +FLAGS.SILENT (\\Seen)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd(
        "b UID STORE 1:2 FLAGS.SILENT (\\Draft)",
        &["b OK STORE completed"],
    )
    .await;
    s.cmd(
        "c STORE 2 -FLAGS.SILENT (\\Draft)",
        &["c OK STORE completed"],
    )
    .await;
    s.cmd(
        "d FETCH 1:2 FLAGS",
        &[
            "* 1 FETCH (FLAGS (\\Draft \\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))",
            "d OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_new_keyword_is_announced_before_its_fetch() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1 +FLAGS ($Important)",
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)] Flags permitted",
            "* 1 FETCH (UID 1 FLAGS (\\Recent $Important))",
            "a OK STORE completed",
        ],
    )
    .await;
    // Known now: no second announcement.
    s.cmd(
        "b STORE 1 FLAGS ($Important)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Recent $Important))",
            "b OK STORE completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn another_session_hears_of_flag_changes() {
    let t = with_inbox(&[M1, M2]).await;
    let mut a = selected(&t).await;
    let mut b = selected(&t).await;
    a.cmd(
        "a STORE 2 +FLAGS.SILENT (\\Flagged)",
        &["a OK STORE completed"],
    )
    .await;
    b.cmd(
        "b NOOP",
        &["* 2 FETCH (UID 2 FLAGS (\\Flagged))", "b OK NOOP completed"],
    )
    .await;
    // .SILENT holds back the message's FETCH, not the mailbox's new keyword.
    a.cmd(
        "c STORE 1 +FLAGS.SILENT (Work)",
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Work)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Work \\*)] Flags permitted",
            "c OK STORE completed",
        ],
    )
    .await;
    b.cmd(
        "d NOOP",
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Work)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Work \\*)] Flags permitted",
            "* 1 FETCH (UID 1 FLAGS (Work))",
            "d OK NOOP completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn recent_is_not_the_clients_to_change() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    // RFC 3501 §2.3.2: \Recent "can not be altered by the client".
    s.cmd(
        "a STORE 1 -FLAGS (\\Recent)",
        &["* 1 FETCH (UID 1 FLAGS (\\Recent))", "a OK STORE completed"],
    )
    .await;
    // A system flag nobody defined is not a keyword either.
    s.cmd_contains("b STORE 1 +FLAGS (\\Bogus)", "b NO [CANNOT] *")
        .await;
}
