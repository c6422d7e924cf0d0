//! Mailbox management (RFC 3501 §6.3.3-§6.3.9): CREATE (with the superior names it
//! implies), DELETE, RENAME (inferior names move along; INBOX is special), LIST and
//! its `%` and `*` wildcards with CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154)
//! attributes, LIST "" "" for the delimiter, SUBSCRIBE/LSUB with a `%` that stops at
//! an unsubscribed parent (`\Noselect`, §6.3.9), and names in modified UTF-7
//! (§5.1.3): valid ones kept as sent, invalid or non-canonical ones refused.

use super::{M1, with_inbox};
use crate::imap::transcript::{ALICE, Client, Transcript};

/// The special-use mailboxes every account starts with, as LIST answers them.
const DEFAULT: [&str; 6] = [
    "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
    "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
    "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
    "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
    "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
    "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
];

async fn logged_in(t: &Transcript) -> Client {
    let mut s = t.session().await;
    s.login(ALICE).await;
    s
}

/// `DEFAULT` and `more` in the server's order (by name), then `ok`.
fn listing<'a>(more: &[&'a str], ok: &'a str) -> Vec<&'a str> {
    let mut lines: Vec<&str> = DEFAULT.to_vec();
    lines.extend(more);
    lines.sort_by_key(|l| l.rsplit(" \"/\" ").next().unwrap_or(""));
    lines.push(ok);
    lines
}

#[tokio::test]
async fn list_wildcards_and_the_delimiter() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd("a LIST \"\" %", &listing(&[], "a OK LIST completed"))
        .await;
    s.cmd(
        "b LIST \"\" \"\"",
        &["* LIST (\\Noselect) \"/\" \"\"", "b OK LIST completed"],
    )
    .await;
    s.cmd("c CREATE Work/2024", &["c OK CREATE completed"])
        .await;
    s.cmd(
        "d LIST \"\" *",
        &listing(
            &[
                "* LIST (\\HasChildren) \"/\" \"Work\"",
                "* LIST (\\HasNoChildren) \"/\" \"Work/2024\"",
            ],
            "d OK LIST completed",
        ),
    )
    .await;
    s.cmd(
        "e LIST \"\" Work/%",
        &[
            "* LIST (\\HasNoChildren) \"/\" \"Work/2024\"",
            "e OK LIST completed",
        ],
    )
    .await;
    s.cmd(
        "f LIST Work/ %",
        &[
            "* LIST (\\HasNoChildren) \"/\" \"Work/2024\"",
            "f OK LIST completed",
        ],
    )
    .await;
    s.cmd("g LIST \"\" Nothing*", &["g OK LIST completed"])
        .await;
}

#[tokio::test]
async fn create_and_delete() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd("a CREATE Projects", &["a OK CREATE completed"]).await;
    s.cmd("b CREATE Projects", &["b NO [ALREADYEXISTS] *"])
        .await;
    s.cmd(
        "c CREATE INBOX",
        &["c NO [ALREADYEXISTS] INBOX always exists"],
    )
    .await;
    s.cmd_contains("d SELECT Projects", "d OK [READ-WRITE] SELECT completed")
        .await;
    s.cmd("e DELETE Projects", &["e OK DELETE completed"]).await;
    s.cmd("f DELETE Projects", &["f NO [NONEXISTENT] No such mailbox"])
        .await;
    s.cmd("g DELETE INBOX", &["g NO [CANNOT] INBOX cannot be deleted"])
        .await;
    s.cmd("h LIST \"\" *", &listing(&[], "h OK LIST completed"))
        .await;
}

#[tokio::test]
async fn rename_moves_inferior_names_along() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd("a CREATE Old/Child", &["a OK CREATE completed"])
        .await;
    s.cmd("b RENAME Old New", &["b OK RENAME completed"]).await;
    s.cmd(
        "c LIST \"\" *",
        &listing(
            &[
                "* LIST (\\HasChildren) \"/\" \"New\"",
                "* LIST (\\HasNoChildren) \"/\" \"New/Child\"",
            ],
            "c OK LIST completed",
        ),
    )
    .await;
    s.cmd(
        "d RENAME Old Other",
        &["d NO [NONEXISTENT] No such mailbox"],
    )
    .await;
    s.cmd("e RENAME New Trash", &["e NO [ALREADYEXISTS] *"])
        .await;
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let t = with_inbox(&[M1]).await;
    let mut s = logged_in(&t).await;
    // RFC 3501 §6.3.5: INBOX's messages go to the new name, INBOX stays, empty.
    s.cmd("a RENAME INBOX Saved", &["a OK RENAME completed"])
        .await;
    s.cmd(
        "b STATUS INBOX (MESSAGES)",
        &["* STATUS \"INBOX\" (MESSAGES 0)", "b OK STATUS completed"],
    )
    .await;
    s.cmd(
        "c STATUS Saved (MESSAGES)",
        &["* STATUS \"Saved\" (MESSAGES 1)", "c OK STATUS completed"],
    )
    .await;
}

#[tokio::test]
async fn lsub_percent_shows_an_unsubscribed_parent_as_noselect() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd("a CREATE Lists/rust", &["a OK CREATE completed"])
        .await;
    s.cmd("b SUBSCRIBE Lists/rust", &["b OK SUBSCRIBE completed"])
        .await;
    let subscribed: Vec<String> = DEFAULT
        .iter()
        .map(|l| {
            let name = l.rsplit(' ').next().unwrap_or("");
            format!("* LSUB () \"/\" {name}")
        })
        .collect();
    let mut want: Vec<&str> = subscribed.iter().map(String::as_str).collect();
    want.insert(4, "* LSUB (\\Noselect) \"/\" \"Lists\"");
    want.push("c OK LSUB completed");
    s.cmd("c LSUB \"\" %", &want).await;
    s.cmd(
        "d LSUB \"\" Lists/*",
        &["* LSUB () \"/\" \"Lists/rust\"", "d OK LSUB completed"],
    )
    .await;
    s.cmd("e UNSUBSCRIBE Lists/rust", &["e OK UNSUBSCRIBE completed"])
        .await;
    s.cmd("f LSUB \"\" Lists*", &["f OK LSUB completed"]).await;
}

#[tokio::test]
async fn modified_utf7_names() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    // "☺!" in modified UTF-7.
    s.cmd("a CREATE &Jjo-!", &["a OK CREATE completed"]).await;
    s.cmd(
        "b LIST \"\" &Jjo-*",
        &[
            "* LIST (\\HasNoChildren) \"/\" \"&Jjo-!\"",
            "b OK LIST completed",
        ],
    )
    .await;
    // "a" as base64: printable ASCII must stand for itself (RFC 3501 §5.1.3).
    s.cmd_contains("c CREATE &AGE-", "c NO [CLIENTBUG] *").await;
    // An unterminated shift.
    s.cmd_contains("d CREATE &Jjo", "d NO *").await;
    // A pattern is a name too: an unterminated shift in it is refused the same way.
    s.cmd_contains("e LIST \"\" &*", "e NO [CLIENTBUG] *").await;
}

#[tokio::test]
async fn deleting_a_parent_leaves_a_noselect_name() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    s.cmd("a CREATE Parent/Child", &["a OK CREATE completed"])
        .await;
    // RFC 3501 §6.3.4: the inferior names stay, the parent becomes \Noselect.
    s.cmd("b DELETE Parent", &["b OK DELETE completed"]).await;
    s.cmd(
        "c LIST \"\" Parent*",
        &[
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Parent\"",
            "* LIST (\\HasNoChildren) \"/\" \"Parent/Child\"",
            "c OK LIST completed",
        ],
    )
    .await;
    // Deleting a \Noselect name with inferiors is an error.
    s.cmd_contains("d DELETE Parent", "d NO *").await;
    s.cmd_contains("e SELECT Parent", "e NO *").await;
}

#[tokio::test]
async fn create_with_a_trailing_delimiter_and_rename_into_new_levels() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t).await;
    // RFC 3501 §6.3.3: the trailing delimiter declares the intent, the name is
    // created without it.
    s.cmd("a CREATE Box/", &["a OK CREATE completed"]).await;
    s.cmd(
        "b LIST \"\" Box*",
        &[
            "* LIST (\\HasNoChildren) \"/\" \"Box\"",
            "b OK LIST completed",
        ],
    )
    .await;
    // RFC 3501 §6.3.5: the superior names a RENAME needs are created.
    s.cmd("c RENAME Box x/y/z", &["c OK RENAME completed"])
        .await;
    s.cmd(
        "d LIST \"\" x*",
        &[
            "* LIST (\\HasChildren) \"/\" \"x\"",
            "* LIST (\\HasChildren) \"/\" \"x/y\"",
            "* LIST (\\HasNoChildren) \"/\" \"x/y/z\"",
            "d OK LIST completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn inbox_is_case_insensitive() {
    let t = with_inbox(&[M1]).await;
    let mut s = logged_in(&t).await;
    s.cmd(
        "a LIST \"\" inbox",
        &[
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
            "a OK LIST completed",
        ],
    )
    .await;
    s.cmd_contains("b SELECT inbox", "* 1 EXISTS").await;
}

#[tokio::test]
async fn mailboxes_past_the_account_limit_are_refused_whole() {
    // Six default mailboxes; room for four more.
    let t = Transcript::with_config(|c| c.imap.max_mailboxes = 10).await;
    let mut s = logged_in(&t).await;
    for (n, name) in ["a", "b", "c"].iter().enumerate() {
        s.cmd(
            &format!("c{n} CREATE {name}"),
            &[&format!("c{n} OK CREATE completed")],
        )
        .await;
    }
    // x/y needs two names (x and x/y): one place is left, so nothing is made; so
    // does RENAME a p/q/r (p and p/q).
    s.cmd(
        "d1 CREATE x/y",
        &["d1 NO [LIMIT] An account may have at most 10 mailboxes"],
    )
    .await;
    s.cmd(
        "d2 RENAME a p/q/r",
        &["d2 NO [LIMIT] An account may have at most 10 mailboxes"],
    )
    .await;
    s.cmd("d3 LIST \"\" x*", &["d3 OK LIST completed"]).await;
    s.cmd("d4 CREATE d", &["d4 OK CREATE completed"]).await;
    s.cmd(
        "d5 CREATE e",
        &["d5 NO [LIMIT] An account may have at most 10 mailboxes"],
    )
    .await;
    // Deleting one makes room again.
    s.cmd("d6 DELETE d", &["d6 OK DELETE completed"]).await;
    s.cmd("d7 CREATE e", &["d7 OK CREATE completed"]).await;
}
