//! IMAP4rev2 (RFC 9051) once a session has said `ENABLE IMAP4rev2`: SELECT sends
//! no RECENT and no `[UNSEEN n]` but a LIST of the mailbox (§6.3.2), SEARCH is
//! answered with ESEARCH (§6.4.4, an empty one when nothing matches), `\Recent` is
//! gone from FLAGS (§2.3.2), APPEND sends no RECENT; a message with a NUL octet
//! appended as a literal8 (`~{n}`, RFC 3516 §4.4) is stored as sent, and BINARY[]
//! returns it as a literal8 (and sets `\Seen`, as BODY[] would).

use super::{M1, M2, with_inbox};
use crate::imap::transcript::{ALICE, Client, Transcript};

/// 12 octets, a NUL in the body.
const WITH_NUL: &[u8] = b"A: b\r\n\r\n\x00z\r\n";

async fn rev2(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s.cmd(
        "e ENABLE IMAP4rev2",
        &["* ENABLED IMAP4rev2", "e OK ENABLE completed"],
    )
    .await;
    s
}

#[tokio::test]
async fn select_has_no_recent_or_unseen_but_a_list() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = rev2(&t).await;
    s.cmd(
        "a SELECT INBOX",
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* 2 EXISTS",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] *",
            "* OK [UIDVALIDITY *] *",
            "* OK [UIDNEXT 3] *",
            "* OK [HIGHESTMODSEQ 3] *",
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
            "a OK [READ-WRITE] SELECT completed",
        ],
    )
    .await;
    s.cmd_contains(
        "b EXAMINE INBOX",
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
    )
    .await;
}

#[tokio::test]
async fn search_answers_esearch_and_flags_have_no_recent() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = rev2(&t).await;
    s.cmd_contains("a SELECT INBOX", "a OK [READ-WRITE] *")
        .await;
    s.cmd(
        "b SEARCH ALL",
        &["* ESEARCH (TAG \"b\") ALL 1:2", "b OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "c UID SEARCH UNSEEN",
        &["* ESEARCH (TAG \"c\") UID ALL 1:2", "c OK SEARCH completed"],
    )
    .await;
    // Nothing matches: the tag alone.
    s.cmd(
        "d SEARCH SEEN",
        &["* ESEARCH (TAG \"d\")", "d OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "e FETCH 1:* FLAGS",
        &[
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "e OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "f STORE 1 +FLAGS (\\Seen)",
        &["* 1 FETCH (*FLAGS (\\Seen))", "f OK STORE completed"],
    )
    .await;
}

#[tokio::test]
async fn a_literal8_with_a_nul_is_stored_as_sent() {
    let t = with_inbox(&[M1]).await;
    let mut s = rev2(&t).await;
    s.cmd_contains("a SELECT INBOX", "a OK [READ-WRITE] *")
        .await;
    // The APPEND's EXISTS, and no RECENT.
    s.cmd_literal(
        &format!("b APPEND INBOX ~{{{}}}", WITH_NUL.len()),
        WITH_NUL,
        &["* 2 EXISTS", "b OK [APPENDUID * 2] APPEND completed"],
    )
    .await;
    s.cmd(
        "c FETCH 2 (RFC822.SIZE BINARY.SIZE[])",
        &[
            "* 2 FETCH (RFC822.SIZE 12 BINARY.SIZE[] 12)",
            "c OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "d FETCH 2 BINARY[]",
        &[
            "* 2 FETCH (BINARY[] ~{12}",
            "A: b",
            "",
            "\0z",
            " FLAGS (\\Seen))",
            "d OK FETCH completed",
        ],
    )
    .await;
}
