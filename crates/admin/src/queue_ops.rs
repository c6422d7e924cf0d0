//! The delivery queue: look at one entry, retry now (flush), hold, release, delete
//! (optionally telling the sender with a bounce).
//!
//! Where it sits: the admin operations behind `postie queue …` and the web face's
//! queue pages. They change the store directly, so they work whether the server runs
//! or not; a running server's queue runner sees a change at its next look at the
//! queue (within a second), or at once when [`wake_runners`] reaches it. Listing and
//! showing (the words) stay with each face.

use crate::{AdminError, Result};
use message::{Domain, QueueId};
use queue::notify::{Event, Notifier};
use std::sync::Arc;
use store::{QueuedMessage, RecipientStatus, Store};

/// The hosts a recipient's last attempt tried, with each one's error, as the relay
/// lists them under a reason's summary line: the CLI's `queue list --json` and the
/// API's queue views show them as a list.
pub use queue::notify::tried_hosts;

/// `text` as a queue id, or `Invalid` quoting it.
pub fn parse_id(text: &str) -> Result<QueueId> {
    QueueId::parse(text).ok_or_else(|| AdminError::Invalid(format!("{text:?} is not a queue id")))
}

/// The queue entry `id`; `NotFound` (`no message … in the queue`) when there is none.
pub async fn get(store: &dyn Store, id: QueueId) -> Result<QueuedMessage> {
    match store.queue_get(id).await? {
        Some(entry) => Ok(entry),
        None => Err(AdminError::NotFound(format!(
            "no message {id} in the queue"
        ))),
    }
}

/// What a flush or release did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flushed {
    /// How many recipients were made due now.
    pub due: usize,
    /// Why the queue runners could not be told at once, when they could not (they
    /// find the work at their next look anyway).
    pub wake_error: Option<String>,
}

/// Makes pending recipients due now: those of entry `id` (`NotFound` when there is no
/// such entry), else those in `domain`, else all; then wakes the queue runners.
pub async fn flush(
    store: &dyn Store,
    id: Option<QueueId>,
    domain: Option<&str>,
) -> Result<Flushed> {
    let domain = domain
        .map(|d| Domain::parse(d).map_err(|e| AdminError::Invalid(format!("{d:?}: {e}"))))
        .transpose()?;
    if let Some(id) = id {
        get(store, id).await?;
    }
    let due = store
        .queue_flush(id, domain.as_ref(), queue::now_unix())
        .await?;
    Ok(Flushed {
        due,
        wake_error: wake_runners(store).await.err().map(|e| e.to_string()),
    })
}

/// Holds the entry `id`: it stays in the queue and is not tried until released.
pub async fn hold(store: &dyn Store, id: QueueId) -> Result<()> {
    Ok(store.queue_hold(id, true).await?)
}

/// Releases the held entry `id` and makes it due now.
pub async fn release(store: &dyn Store, id: QueueId) -> Result<Flushed> {
    store.queue_hold(id, false).await?;
    let due = store.queue_flush(Some(id), None, queue::now_unix()).await?;
    Ok(Flushed {
        due,
        wake_error: wake_runners(store).await.err().map(|e| e.to_string()),
    })
}

/// Deletes the entry `id`. With `bounce`, first queues a failure report to its sender
/// for the recipients still pending, and returns that report's id (`None` when the
/// sender asked for no report or there is no sender, or without `bounce`).
pub async fn delete(
    store: Arc<dyn Store>,
    config: &config::Config,
    id: QueueId,
    bounce: bool,
) -> Result<Option<QueueId>> {
    let entry = get(store.as_ref(), id).await?;
    let report = if bounce {
        bounce_pending(store.clone(), &entry, &config.hostname).await?
    } else {
        None
    };
    store.queue_delete(entry.id).await?;
    Ok(report)
}

/// Tells the queue runners of every node sharing the store that work is due now
/// (PostgreSQL: a change notice; the embedded store's runner finds it at its next
/// periodic look). Best effort: a runner that misses it still polls.
pub async fn wake_runners(store: &dyn Store) -> Result<()> {
    Ok(store.change_announce(store::Change::Queue).await?)
}

/// Queues a failure report for the recipients of `entry` still pending.
async fn bounce_pending(
    store: Arc<dyn Store>,
    entry: &QueuedMessage,
    hostname: &str,
) -> Result<Option<QueueId>> {
    let events: Vec<Event> = entry
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.status, RecipientStatus::Pending { .. }))
        .map(|(i, _)| Event {
            recipient: i,
            action: dsn::Action::Failed,
            reason: Some("5.0.0 deleted from the queue by the administrator".into()),
        })
        .collect();
    Ok(Notifier::new(store, hostname)
        .send(entry, &events, queue::now_unix(), None)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use message::{Address, Envelope};

    async fn queued(store: &dyn Store, sender: Option<&str>) -> QueueId {
        let envelope = Envelope {
            sender: sender.map(|s| Address::parse(s).unwrap()),
            recipients: vec![Address::parse("rcpt@example.net").unwrap()],
            body_type: Default::default(),
            smtputf8: false,
            require_tls: false,
            dsn: Default::default(),
        };
        let body = b"From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n";
        let id = QueueId::generate(u64::try_from(queue::now_unix()).unwrap() * 1000);
        store.enqueue(id, &envelope, body).await.expect("enqueue");
        id
    }

    #[tokio::test]
    async fn hold_release_flush_delete() {
        let store = crate::test_store().await;
        let id = queued(store.as_ref(), Some("a@example.org")).await;
        assert_eq!(get(store.as_ref(), id).await.expect("get").id, id);

        hold(store.as_ref(), id).await.expect("hold");
        assert!(get(store.as_ref(), id).await.unwrap().held);
        release(store.as_ref(), id).await.expect("release");
        assert!(!get(store.as_ref(), id).await.unwrap().held);

        let flushed = flush(store.as_ref(), Some(id), None).await.expect("flush");
        assert_eq!(flushed.wake_error, None);
        assert_eq!(flushed.due, 1);
        let all = flush(store.as_ref(), None, Some("example.net"))
            .await
            .expect("flush");
        assert_eq!(all.due, 1);

        let report = delete(store.clone(), &config::Config::default(), id, true)
            .await
            .expect("delete");
        let report = report.expect("a bounce to the sender");
        assert_ne!(report, id);
        assert!(get(store.as_ref(), id).await.is_err());
        assert!(
            get(store.as_ref(), report).await.is_ok(),
            "the bounce is queued"
        );

        let quiet = queued(store.as_ref(), None).await;
        let none = delete(store.clone(), &config::Config::default(), quiet, true)
            .await
            .expect("delete");
        assert_eq!(none, None, "no bounce to the null sender");
    }

    #[tokio::test]
    async fn refusals() {
        let store = crate::test_store().await;
        assert_eq!(
            parse_id("nope").unwrap_err(),
            AdminError::Invalid("\"nope\" is not a queue id".into())
        );
        let id = queued(store.as_ref(), None).await;
        store.queue_delete(id).await.unwrap();
        assert_eq!(
            get(store.as_ref(), id).await.unwrap_err(),
            AdminError::NotFound(format!("no message {id} in the queue"))
        );
        assert!(matches!(
            flush(store.as_ref(), Some(id), None).await,
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            delete(store.clone(), &config::Config::default(), id, false).await,
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            flush(store.as_ref(), None, Some("bad domain")).await,
            Err(AdminError::Invalid(_))
        ));
    }
}
