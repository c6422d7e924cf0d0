//! The change feed between nodes: `NOTIFY postie_changes` to announce, a dedicated
//! connection with `LISTEN postie_changes` to hear (PostgreSQL's asynchronous
//! notifications; they are delivered when the announcing transaction, here a lone
//! statement, commits, to every session listening on the channel).
//!
//! Where it sits: [`super::PgStore`] implements `Store::change_announce` and
//! `Store::change_listen` with [`Feed`]. The server announces after each change it
//! publishes in-process and, from what it hears, wakes IDLE sessions and the queue
//! runner.
//!
//! The payload is `NODE m ACCOUNT` or `NODE q`, NODE a random id of this store
//! instance, so a node skips its own notices (it has told its own sessions already).
//! A notice carries no data: the hearer re-reads the store. If the listening connection
//! drops, the task reconnects with a growing pause (1 s to 30 s); notices sent in the
//! gap are lost, which the sessions' periodic polls make good (latency, not a wrong
//! view).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::db_err;
use crate::{AccountId, Change, ChangeSink, Result};

/// The channel every node listens on.
pub(crate) const CHANNEL: &str = "postie_changes";

/// Opens a dedicated (unpooled) connection and returns its client and the payloads
/// of the notifications it receives (the receiver closes when the connection ends).
pub(crate) type Dial = Arc<
    dyn Fn() -> Pin<
            Box<
                dyn Future<
                        Output = Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<String>)>,
                    > + Send,
            >,
        > + Send
        + Sync,
>;

/// A [`Dial`] for `config` over `tls`.
pub(crate) fn dial<T>(config: tokio_postgres::Config, tls: T) -> Dial
where
    T: MakeTlsConnect<tokio_postgres::Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<tokio_postgres::Socket>>::Future: Send,
{
    Arc::new(move || {
        let (config, tls) = (config.clone(), tls.clone());
        Box::pin(async move {
            let (client, mut connection) = config.connect(tls).await.map_err(db_err)?;
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                loop {
                    match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        Some(Ok(AsyncMessage::Notification(n))) => {
                            if tx.send(n.payload().to_string()).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "change feed connection failed");
                            return;
                        }
                        None => return,
                    }
                }
            });
            Ok((client, rx))
        })
    })
}

/// This store instance's side of the feed.
pub(crate) struct Feed {
    /// Random id in every notice this instance sends.
    node: String,
    dial: Dial,
    /// The listening task, stopped when the store is dropped.
    listener: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(task) = self.listener.lock().ok().and_then(|mut l| l.take()) {
            task.abort();
        }
    }
}

/// The payload announcing `change` from `node`.
fn payload(node: &str, change: Change) -> String {
    match change {
        Change::Mailboxes(account) => format!("{node} m {}", account.0),
        Change::Queue => format!("{node} q"),
    }
}

/// The change a payload announces and the node it came from; `None` for anything
/// else (a notice on our channel from something that is not Postie).
fn parse(payload: &str) -> Option<(&str, Change)> {
    let mut parts = payload.split(' ');
    let node = parts.next()?;
    let change = match (parts.next()?, parts.next()) {
        ("m", Some(account)) => Change::Mailboxes(AccountId(account.parse().ok()?)),
        ("q", None) => Change::Queue,
        _ => return None,
    };
    parts.next().is_none().then_some((node, change))
}

impl Feed {
    pub(crate) fn new(dial: Dial) -> Feed {
        Feed {
            node: format!("{:016x}", rand::random::<u64>()),
            dial,
            listener: std::sync::Mutex::new(None),
        }
    }

    /// Sends the notice of `change` on a pooled connection.
    pub(crate) async fn announce(
        &self,
        client: &deadpool_postgres::Client,
        change: Change,
    ) -> Result<()> {
        let stmt = client
            .prepare_cached("SELECT pg_notify($1, $2)")
            .await
            .map_err(db_err)?;
        client
            .execute(&stmt, &[&CHANNEL, &payload(&self.node, change)])
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Starts the listening task (once; later calls replace the sink's task).
    pub(crate) fn listen(&self, sink: ChangeSink) -> bool {
        let (dial, me) = (self.dial.clone(), self.node.clone());
        let task = tokio::spawn(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                match dial().await {
                    Ok((client, mut notices)) => {
                        match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                            Ok(()) => {
                                tracing::debug!("listening for other nodes' changes");
                                pause = Duration::from_secs(1);
                                while let Some(text) = notices.recv().await {
                                    match parse(&text) {
                                        Some((node, _)) if node == me => {}
                                        Some((_, change)) => sink(change),
                                        None => {
                                            tracing::debug!(payload = %text, "unknown change notice")
                                        }
                                    }
                                }
                                tracing::warn!("change feed connection ended; reconnecting");
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot LISTEN for changes"),
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect the change feed"),
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        });
        if let Ok(mut slot) = self.listener.lock()
            && let Some(old) = slot.replace(task.abort_handle())
        {
            old.abort();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_strangers_are_ignored() {
        for change in [Change::Mailboxes(AccountId(42)), Change::Queue] {
            let text = payload("abc", change);
            assert_eq!(parse(&text), Some(("abc", change)));
        }
        for junk in [
            "",
            "abc",
            "abc m",
            "abc m x",
            "abc q 1",
            "abc z",
            "abc m 1 2",
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }
}

#[cfg(test)]
mod across_nodes {
    use crate::postgres::{PgOptions, PgStore};
    use crate::{AccountId, Change, Store};
    use std::sync::Arc;
    use std::time::Duration;

    /// Waits (with a deadline) for the next change `rx` hears.
    async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Change>) -> Option<Change> {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn another_node_hears_a_change_and_the_announcer_does_not() {
        let Some(a) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let b = PgStore::connect(&PgOptions::from_url(a.url_for_tests()))
            .await
            .expect("second node");
        let (a_tx, mut a_rx) = tokio::sync::mpsc::unbounded_channel();
        let (b_tx, mut b_rx) = tokio::sync::mpsc::unbounded_channel();
        assert!(a.change_listen(Arc::new(move |c| {
            let _ = a_tx.send(c);
        })));
        assert!(b.change_listen(Arc::new(move |c| {
            let _ = b_tx.send(c);
        })));
        // LISTEN is in force once a notice from B reaches A (B re-announces until then).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            b.change_announce(Change::Queue).await.expect("announce");
            if let Ok(Some(c)) = tokio::time::timeout(Duration::from_millis(200), a_rx.recv()).await
            {
                assert_eq!(c, Change::Queue);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "A never heard B");
        }
        while a_rx.try_recv().is_ok() {}
        a.change_announce(Change::Mailboxes(AccountId(7)))
            .await
            .expect("announce");
        // B hears it (skipping the Queue notices it sent itself, which it never hears).
        assert_eq!(next(&mut b_rx).await, Some(Change::Mailboxes(AccountId(7))));
        // A does not hear its own notice: B's next one is the first thing it gets.
        b.change_announce(Change::Mailboxes(AccountId(8)))
            .await
            .expect("announce");
        assert_eq!(next(&mut a_rx).await, Some(Change::Mailboxes(AccountId(8))));
    }
}
