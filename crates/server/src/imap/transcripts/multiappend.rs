//! MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469). One APPEND with two messages
//! adds both or neither, each with its own flags, and answers one APPENDUID with
//! the set of the new UIDs (RFC 4315 §3); the selected mailbox hears of both. A
//! CATENATE APPEND builds a message from an IMAP URL of an existing message (RFC
//! 5092, relative: `/INBOX/;UID=1`) and a TEXT literal; a URL that resolves to
//! nothing is `NO [BADURL ...]`, and nothing is added.

use super::{M1, M2, M3, selected, with_inbox};
use crate::imap::transcript::{ALICE, Client, Transcript};

async fn logged_in(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s
}

#[tokio::test]
async fn two_messages_in_one_append_and_one_appenduid() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    let mut command = format!("a APPEND INBOX {{{}+}}\r\n", M2.len()).into_bytes();
    command.extend_from_slice(M2);
    command.extend_from_slice(format!(" (\\Seen) {{{}+}}\r\n", M3.len()).as_bytes());
    command.extend_from_slice(M3);
    command.extend_from_slice(b"\r\n");
    s.send_raw(&command).await;
    s.finish(
        "a",
        &[
            "* 3 EXISTS",
            "* 3 RECENT",
            "a OK [APPENDUID * 2:3] APPEND completed",
        ],
    )
    .await;
    s.cmd(
        "b FETCH 2:3 (UID FLAGS RFC822.SIZE)",
        &[
            &format!(
                "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE {})",
                M2.len()
            ),
            &format!(
                "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) RFC822.SIZE {})",
                M3.len()
            ),
            "b OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn multiappend_with_synchronising_literals() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.send_raw(format!("a APPEND Drafts {{{}}}\r\n", M1.len()).as_bytes())
        .await;
    s.continuation().await;
    s.send_raw(M1).await;
    s.send_raw(format!(" {{{}}}\r\n", M2.len()).as_bytes())
        .await;
    s.continuation().await;
    s.send_raw(M2).await;
    s.send_raw(b"\r\n").await;
    s.finish("a", &["a OK [APPENDUID * 1:2] APPEND completed"])
        .await;
    s.cmd(
        "b STATUS Drafts (MESSAGES UIDNEXT)",
        &[
            "* STATUS \"Drafts\" (MESSAGES 2 UIDNEXT 3)",
            "b OK STATUS completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn catenate_joins_a_url_and_text() {
    let t = with_inbox(&[M1]).await;
    let mut s = logged_in(&t).await;
    s.send_raw(b"a APPEND Drafts CATENATE (URL \"/INBOX/;UID=1\" TEXT {7+}\r\nadded\r\n)\r\n")
        .await;
    s.finish("a", &["a OK [APPENDUID * 1] APPEND completed"])
        .await;
    s.cmd_contains("b EXAMINE Drafts", "* 1 EXISTS").await;
    s.cmd(
        "c FETCH 1 BODY[]",
        &[
            "* 1 FETCH (BODY[] {51}",
            "From: a@example.org",
            "Subject: one",
            "",
            "Hello",
            "added",
            ")",
            "c OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn catenate_with_a_url_to_nothing_is_badurl() {
    let t = with_inbox(&[M1]).await;
    let mut s = logged_in(&t).await;
    s.send_raw(b"a APPEND Drafts CATENATE (URL \"/INBOX/;UID=9\")\r\n")
        .await;
    s.finish("a", &["a NO [BADURL /INBOX/;UID=9] *"]).await;
    s.cmd(
        "b STATUS Drafts (MESSAGES)",
        &["* STATUS \"Drafts\" (MESSAGES 0)", "b OK STATUS completed"],
    )
    .await;
}
