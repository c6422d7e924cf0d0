//! `postie mail list|read`: look at delivered mail in an account's mailboxes.
//!
//! Where it sits: an admin command on the store directly (with or without the server
//! running), read-only: listing reads each message's header for From and Subject,
//! and neither command changes flags or anything else IMAP would notice.

use crate::cli::MailCommand;
use crate::output::{Format, Table, clip, print_list, rfc3339, short_date};
use anyhow::{Context, bail};
use serde::Serialize;
use std::io::Write;
use store::{MailboxId, Store};

/// Runs one `postie mail` command.
pub async fn run(store: &dyn Store, command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::List {
            address,
            mailbox: name,
            format,
        } => {
            let (id, label) = mailbox(store, &address, &name).await?;
            list(store, id, &label, format.format()).await
        }
        MailCommand::Read {
            address,
            uid,
            mailbox: name,
        } => {
            let (id, label) = mailbox(store, &address, &name).await?;
            let bytes = match store.message_read(id, uid).await {
                Err(store::StoreError::NotFound(_)) => bail!("no message {uid} in {label}"),
                other => other?,
            };
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// One row of `mail list --json`.
#[derive(Debug, Serialize)]
struct Row {
    uid: u32,
    size: u64,
    queue_id: String,
    received: String,
    from: Option<String>,
    subject: Option<String>,
    /// Unix seconds, for the table.
    #[serde(skip)]
    received_at: i64,
}

/// Lists the mailbox `id` (`label` names it in messages, e.g. `INBOX of alice@…`).
async fn list(store: &dyn Store, id: MailboxId, label: &str, format: Format) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for m in store.message_list(id).await? {
        // Expunged between the listing and now: leave it out.
        let Ok(raw) = store.message_read(id, m.uid).await else {
            continue;
        };
        let (from, subject) = from_and_subject(&raw);
        rows.push(Row {
            uid: m.uid,
            size: m.size,
            queue_id: m.queue_id.to_string(),
            received: rfc3339(m.received_at),
            from,
            subject,
            received_at: m.received_at,
        });
    }
    print_list(format, &rows, &format!("no messages in {label}"), |rows| {
        let mut table = Table::new(&["UID", "SIZE", "QUEUE ID", "RECEIVED", "FROM", "SUBJECT"]);
        for r in rows {
            table.row(vec![
                r.uid.to_string(),
                r.size.to_string(),
                r.queue_id.clone(),
                short_date(r.received_at),
                clip(r.from.as_deref().unwrap_or("-"), 40),
                clip(r.subject.as_deref().unwrap_or(""), 60),
            ]);
        }
        table
    })
}

/// The first From address and the decoded Subject of a stored message, reading its
/// header only; control characters become spaces so one message is one line.
fn from_and_subject(raw: &[u8]) -> (Option<String>, Option<String>) {
    let header = message::headers::header_block(raw);
    let Some(parsed) = mail_parser::MessageParser::new().parse_headers(header) else {
        return (None, None);
    };
    let tidy = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let from = parsed
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .map(tidy);
    let subject = parsed.subject().map(tidy);
    (from, subject)
}

/// The mailbox `name` of the account `address`, and how to name it to a person:
/// `"INBOX" of alice@example.org`.
async fn mailbox(
    store: &dyn Store,
    address: &str,
    name: &str,
) -> anyhow::Result<(MailboxId, String)> {
    let address = crate::admin_cli::parse_address(address)?;
    let Some(account) = store.account_get(&address).await? else {
        bail!("no account {address}");
    };
    let found = store
        .mailbox_list(account.id)
        .await?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .with_context(|| format!("{address} has no mailbox {name:?}"))?;
    Ok((found.id, format!("{:?} of {address}", found.name)))
}

#[cfg(test)]
mod tests {
    use super::from_and_subject;

    #[test]
    fn from_and_subject_come_from_the_header() {
        let raw = b"Return-Path: <x@y>\r\nFrom: Alice <alice@example.org>\r\n\
                    Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nSubject: not this\r\n";
        assert_eq!(
            from_and_subject(raw),
            (
                Some("alice@example.org".to_owned()),
                Some("café".to_owned())
            )
        );
        assert_eq!(from_and_subject(b"\r\nbody only\r\n"), (None, None));
        let folded = b"Subject: one\r\n\ttwo\r\n\r\n";
        assert_eq!(from_and_subject(folded).1.as_deref(), Some("one two"));
    }
}
