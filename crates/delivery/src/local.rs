//! Local delivery: files a queued message into a local account's INBOX.
//!
//! Adds the per-recipient trace lines `Return-Path:` (RFC 5321 §4.4) and
//! `Delivered-To:` in front of the stored body; the store keeps them beside the shared
//! body rather than copying it per recipient. Filing and marking the recipient done are
//! one atomic store call, so a crash between them cannot file a message twice.
//!
//! An account over its quota is a temporary failure ("4.2.2 Mailbox full", RFC 3463),
//! retried like any other; should it last until the message expires, the recipient
//! fails with 5.2.2 and the sender gets a bounce saying so.

use queue::Attempt;
use store::{Account, QueuedMessage, Store, StoreError};

/// The lines put in front of the body for one recipient; `Delivered-To:` names the
/// account as it was created, whatever spelling the client used in RCPT. In a message
/// that came without SMTPUTF8 its domain is written in A-labels, so an account created
/// as `li@例子.中国` puts no UTF-8 into a message that has none (RFC 6531 §3.2).
pub fn trace_prefix(envelope: &message::Envelope, account: &message::Address) -> Vec<u8> {
    let delivered_to = if envelope.smtputf8 {
        account.to_string()
    } else {
        account.to_ascii_domain()
    };
    format!(
        "Return-Path: {}\r\nDelivered-To: {}\r\n",
        envelope.sender_path(),
        delivered_to
    )
    .into_bytes()
}

/// Delivers recipient `index` of `message` into `account`'s INBOX.
pub async fn deliver(
    store: &dyn Store,
    message: &QueuedMessage,
    index: usize,
    account: &Account,
) -> Attempt {
    let recipient = &message.envelope.recipients[index];
    let prefix = trace_prefix(&message.envelope, &account.address);
    match store
        .deliver_to_mailbox(message.id, index, account.id, &prefix)
        .await
    {
        Ok(Some(uid)) => {
            tracing::debug!(queue_id = %message.id, %recipient, uid, "filed into INBOX");
            // Other nodes' IDLE sessions hear of it now rather than at their next poll.
            if let Err(e) = store
                .change_announce(store::Change::Mailboxes(account.id))
                .await
            {
                tracing::debug!(error = %e, "could not announce a delivery");
            }
            Attempt::Recorded
        }
        Ok(None) => Attempt::Recorded, // filed by an earlier attempt
        Err(StoreError::OverQuota(why)) => {
            tracing::info!(queue_id = %message.id, %recipient, %why, "mailbox full");
            Attempt::TemporaryUntilExpiry {
                reason: "4.2.2 Mailbox full: the recipient is over quota".into(),
                on_expiry: "5.2.2 Mailbox full: the recipient is over quota".into(),
            }
        }
        Err(StoreError::Damaged(why)) => {
            Attempt::Permanent(format!("5.3.0 damaged message: {why}"))
        }
        Err(e) => Attempt::Temporary(format!("4.3.0 storage error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use message::{Address, BodyType, Envelope};

    fn envelope(smtputf8: bool) -> Envelope {
        Envelope {
            sender: Some(Address::parse("s@example.net").unwrap()),
            recipients: vec![Address::parse("li@xn--fsqu00a.xn--fiqs8s").unwrap()],
            body_type: BodyType::SevenBit,
            smtputf8,
            require_tls: false,
            dsn: Default::default(),
        }
    }

    #[test]
    fn delivered_to_keeps_utf8_out_of_a_message_without_smtputf8() {
        let account = Address::parse("Li@例子.中国").unwrap();
        let plain = String::from_utf8(trace_prefix(&envelope(false), &account)).unwrap();
        assert_eq!(
            plain,
            "Return-Path: <s@example.net>\r\nDelivered-To: Li@xn--fsqu00a.xn--fiqs8s\r\n"
        );
        let utf8 = String::from_utf8(trace_prefix(&envelope(true), &account)).unwrap();
        assert!(utf8.ends_with("Delivered-To: Li@例子.中国\r\n"), "{utf8}");
    }
}
