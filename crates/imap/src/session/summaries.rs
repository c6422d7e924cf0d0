//! Reading message summaries ([`crate::summary`]) for FETCH, SEARCH and SORT, a batch of
//! messages at a time, and computing the ones the store lacks or cannot give.
//!
//! Where it sits: FETCH ENVELOPE/BODYSTRUCTURE/BODY, SEARCH's header keys and SORT
//! call [`load`] with the UIDs they are about to answer for: one store call reads the
//! stored summaries; a message filed without one (by an older Postie, or by the
//! queue's retries) has its message read and parsed once, here. Each summary is then
//! decoded once, where it is used ([`Batch::get`]); one that does not decode (another
//! version, damaged bytes: checked like network input) is recomputed from the message
//! through [`Repairs::fix`]. What was computed is written back ([`load`] and
//! [`Repairs::flush`], one store call each), so the next command finds it. A message
//! that is gone meanwhile is left out; a failure to write back is logged and the
//! command goes on with what it computed.

use crate::summary::{Summary, SummaryError};
use store_api::{MailboxId, Store, StoreError};

/// How many messages one batch covers: bounds the memory a command holds at once.
pub const BATCH: usize = 2_000;

/// The stored summaries of a batch of messages.
pub struct Batch {
    /// By ascending UID.
    items: Vec<(u32, Vec<u8>)>,
}

impl Batch {
    /// The summary of `uid`: `None` when the message is not in the batch (gone),
    /// an error when the stored bytes do not decode (see [`Repairs::fix`]).
    pub fn entry(&self, uid: u32) -> Option<Result<Summary<'_>, SummaryError>> {
        let i = self.items.binary_search_by_key(&uid, |(u, _)| *u).ok()?;
        Some(Summary::decode(&self.items[i].1))
    }

    /// The summary of `uid` when the batch has one that decodes (a caller that can
    /// do without the others).
    pub fn get(&self, uid: u32) -> Option<Summary<'_>> {
        self.entry(uid).and_then(Result::ok)
    }
}

/// The summaries of `uids` in `mailbox`, missing ones computed (see the module docs).
/// Errors other than a message being gone are the store's.
pub async fn load(
    store: &dyn Store,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Batch, StoreError> {
    let stored = store.message_summaries(mailbox, uids).await?;
    let mut items = Vec::with_capacity(stored.len());
    let mut computed = Vec::new();
    for (uid, bytes) in stored {
        match bytes {
            Some(bytes) => items.push((uid, bytes)),
            None => {
                if let Some(fresh) = compute(store, mailbox, uid).await? {
                    computed.push((uid, fresh.clone()));
                    items.push((uid, fresh));
                }
            }
        }
    }
    write_back(store, mailbox, &computed).await;
    Ok(Batch { items })
}

/// Summaries recomputed because the stored ones did not decode, to write back.
#[derive(Default)]
pub struct Repairs {
    items: Vec<(u32, Vec<u8>)>,
}

impl Repairs {
    /// Recomputes the summary of `uid`, whose stored one failed with `e`: the new
    /// bytes (kept for [`Repairs::flush`]), or `None` when the message is gone.
    pub async fn fix(
        &mut self,
        store: &dyn Store,
        mailbox: MailboxId,
        uid: u32,
        e: &SummaryError,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match e {
            SummaryError::Version(_) => {
                tracing::debug!(mailbox = mailbox.0, uid, error = %e, "recomputing summary")
            }
            SummaryError::Damaged(_) => {
                tracing::warn!(mailbox = mailbox.0, uid, error = %e, "damaged summary, recomputing")
            }
        }
        let fresh = compute(store, mailbox, uid).await?;
        if let Some(bytes) = &fresh {
            self.items.push((uid, bytes.clone()));
        }
        Ok(fresh)
    }

    /// Writes the recomputed summaries back.
    pub async fn flush(&mut self, store: &dyn Store, mailbox: MailboxId) {
        write_back(store, mailbox, &std::mem::take(&mut self.items)).await;
    }
}

/// The summary of message `uid` from its bytes; `None` when it is gone.
async fn compute(
    store: &dyn Store,
    mailbox: MailboxId,
    uid: u32,
) -> Result<Option<Vec<u8>>, StoreError> {
    match store.message_read(mailbox, uid).await {
        Ok(raw) => Ok(Some(super::cpu::maybe_heavy(
            raw.len() > super::cpu::HEAVY_BYTES,
            || Summary::compute(&raw).encode(),
        ))),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores computed summaries; a failure only costs the next command a parse.
async fn write_back(store: &dyn Store, mailbox: MailboxId, items: &[(u32, Vec<u8>)]) {
    if items.is_empty() {
        return;
    }
    if let Err(e) = store.message_summaries_set(mailbox, items).await {
        tracing::warn!(error = %e, count = items.len(), "could not store computed summaries");
    }
}
