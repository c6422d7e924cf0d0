//! THREAD and UID THREAD (RFC 5256 §3, §4): the ORDEREDSUBJECT and REFERENCES
//! algorithms (capabilities `THREAD=ORDEREDSUBJECT`, `THREAD=REFERENCES`).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state with the
//! command as imap-codec parsed it. The search keys select messages as SEARCH does
//! ([`super::search`]); each selected message's stored summary (Subject, Date,
//! Message-ID, References, In-Reply-To; read a batch at a time by
//! [`super::summaries`], so message files are not re-read) is handed, with its
//! INTERNALDATE as the fallback sent date (RFC 5256 §2.2), to the pure algorithms in
//! [`crate::thread`], whose tree is written as `* THREAD ...` (sequence numbers, or UIDs
//! for UID THREAD).
//!
//! Errors: an algorithm we do not offer is a `BAD` (RFC 5256 §3: the client may only
//! use advertised ones); a charset other than UTF-8 / US-ASCII is
//! `NO [BADCHARSET (UTF-8 US-ASCII)]`, as for SEARCH; a store failure is
//! `NO [SERVERBUG]`.

use super::summaries::{self, BATCH};
use super::{Session, Status, cpu, store_failed};
use crate::thread::{Algorithm, Message};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use imap_codec::imap_types::search::SearchKey;
use std::sync::Arc;

/// Our algorithm for imap-codec's, if we implement it.
fn algorithm(parsed: &ThreadingAlgorithm<'_>) -> Option<Algorithm> {
    match parsed {
        ThreadingAlgorithm::OrderedSubject => Some(Algorithm::OrderedSubject),
        ThreadingAlgorithm::References => Some(Algorithm::References),
        ThreadingAlgorithm::Other(other) => Algorithm::from_name(other.as_ref()),
    }
}

/// The untagged response for rendered threads (RFC 5256 §4 `thread-data`).
fn response(rendered: &str) -> String {
    if rendered.is_empty() {
        "THREAD".to_owned()
    } else {
        format!("THREAD {rendered}")
    }
}

impl Session<'_> {
    /// `[UID] THREAD algorithm charset keys`.
    pub(super) async fn thread(
        &mut self,
        algorithm_name: &ThreadingAlgorithm<'static>,
        charset: Charset<'static>,
        keys: &[SearchKey<'static>],
        uid: bool,
    ) -> Status {
        let Some(algorithm) = algorithm(algorithm_name) else {
            return Status::Bad(
                "[CLIENTBUG] Unknown threading algorithm; use REFERENCES or ORDEREDSUBJECT".into(),
            );
        };
        let hits = match self.search_hits(Some(charset), keys).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        let mailbox = open.mailbox.id;
        // search_hits brought the snapshot up to date.
        let latest = Arc::clone(open.view.latest());
        let store = self.shared.store();
        // In sequence order, as the algorithms expect (ties and duplicate IDs).
        let mut messages = Vec::with_capacity(hits.len());
        for chunk in hits.chunks(BATCH) {
            let uids: Vec<u32> = chunk.iter().map(|&(_, uid)| uid).collect();
            let batch = match summaries::load(store.as_ref(), mailbox, &uids).await {
                Ok(batch) => batch,
                Err(e) => return store_failed("THREAD", &e),
            };
            for &(seq, id) in chunk {
                let Some(m) = latest.get(id) else {
                    continue; // expunged meanwhile
                };
                let shown = if uid { id } else { seq };
                messages.push(match batch.get(id) {
                    Some(summary) => Message::from_summary(shown, &summary, m.received_at),
                    // Gone from the store meanwhile: threaded by its date alone.
                    None => Message {
                        id: shown,
                        sent: m.received_at,
                        ..Message::default()
                    },
                });
            }
            cpu::breathe().await;
        }
        let text = cpu::maybe_heavy(messages.len() > cpu::HEAVY_MESSAGES, || {
            response(&crate::thread::thread(algorithm, &messages).render())
        });
        self.untagged(&text);
        Status::Ok("THREAD completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::CommandCodec;
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;

    /// The algorithm imap-codec parses out of a command line, as we map it.
    fn parsed(line: &str) -> Option<Algorithm> {
        let (_, command) = CommandCodec::default()
            .decode(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line:?} does not parse: {e:?}"));
        match command.body {
            CommandBody::Thread { algorithm: a, .. } => algorithm(&a),
            other => panic!("not THREAD: {other:?}"),
        }
    }

    #[test]
    fn algorithms_are_mapped() {
        assert_eq!(
            parsed("a THREAD REFERENCES UTF-8 ALL\r\n"),
            Some(Algorithm::References)
        );
        assert_eq!(
            parsed("a UID THREAD orderedsubject US-ASCII SINCE 5-MAR-2000\r\n"),
            Some(Algorithm::OrderedSubject)
        );
        assert_eq!(parsed("a THREAD FROB UTF-8 ALL\r\n"), None);
    }

    #[test]
    fn responses_follow_thread_data() {
        assert_eq!(response(""), "THREAD");
        assert_eq!(response("(1)(2 3)"), "THREAD (1)(2 3)");
    }
}
