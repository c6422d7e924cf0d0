//! The entry point of the `imap_session` fuzz target (`fuzz/fuzz_targets/`): the real
//! IMAP driver and session ([`crate::imap_driver`], [`crate::imap`]) over the
//! in-memory store, fed a stranger's bytes through an in-memory stream. Only built
//! with the `fuzzing` feature.
//!
//! Each input gets a fresh store with two accounts, `alice@example.org` and
//! `bob@example.org` (password `secret`, hashed with the cheapest argon2 parameters so
//! a LOGIN costs microseconds), alice's INBOX holding one message and shared with bob
//! (RFC 4314 `lrswi`), so the fuzzer reaches the selected state, FETCH rendering and
//! the shared-mailbox paths as soon as it finds `a LOGIN alice@example.org secret`
//! (the dictionary gives it that). The input is written in chunks, the stream is then
//! closed, and the session must end by itself: a run that has not ended within a few
//! seconds is a hang. The certificate and built configuration are made once
//! ([`crate::listen::TestBase`]); everything with state is new per input (about
//! 0.15 ms per input in a release build, 0.1 ms of it the session).

use crate::listen::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The PHC string of `secret` with argon2id at m=8 KiB, t=1, p=1.
const CHEAP_SECRET: &str =
    "$argon2id$v=19$m=8,t=1,p=1$cG9zdGllLWZ1enotc2FsdA$pSlKuP0n7rM2UzPx2eJ4j4x8bHPWiG3sOm8jaenkPn0";

/// The message in alice's INBOX.
const MESSAGE: &[u8] = b"From: Carol <carol@example.net>\r\nTo: alice@example.org\r\n\
Subject: fuzz\r\nMessage-ID: <1@example.net>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n";

/// A server for fuzzing: one runtime and data directory for every input.
pub struct ImapFuzz {
    runtime: tokio::runtime::Runtime,
    /// The certificate and built configuration, made once.
    base: crate::listen::TestBase,
    _dir: tempfile::TempDir,
}

impl Default for ImapFuzz {
    fn default() -> Self {
        Self::new()
    }
}

impl ImapFuzz {
    /// The runtime (multi-threaded: heavy work uses `block_in_place`) and the
    /// configuration: logins without TLS, DNS only to a dead loopback port.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = config::Config::default().with_data_dir(dir.path().to_owned());
        config.dns.nameservers = vec!["127.0.0.1:9".parse().expect("address")];
        config.auth.allow_plaintext = config::PlaintextAuth::Always;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let base = crate::listen::TestBase::new(&config).expect("server parts");
        ImapFuzz {
            runtime,
            base,
            _dir: dir,
        }
    }

    /// Runs one session over `chunks` (written one after the other, then the stream
    /// is closed) and returns what the server wrote. Panics if the session does not
    /// end within 10 s after its input did.
    pub fn run<'a>(&self, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let chunks: Vec<Vec<u8>> = chunks.into_iter().map(<[u8]>::to_vec).collect();
        self.runtime.block_on(async {
            // The stop sender lives until the run is over: nobody says stop.
            let (shared, _stop) = self.shared().await;
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let peer: SocketAddr = "127.0.0.1:40000".parse().expect("peer");
            let session = tokio::spawn(async move {
                let _ = crate::imap_driver::serve_stream(server, peer, &shared).await;
            });
            let reader = tokio::spawn(async move {
                let mut out = Vec::new();
                for chunk in chunks {
                    if client.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = client.shutdown().await;
                let _ = client.read_to_end(&mut out).await;
                out
            });
            let ended = tokio::time::timeout(std::time::Duration::from_secs(10), session).await;
            assert!(
                ended.is_ok(),
                "the IMAP session did not end after its input did"
            );
            reader.await.unwrap_or_default()
        })
    }

    /// A fresh store (see the module docs) behind a fresh server state.
    async fn shared(&self) -> (Arc<Shared>, watch::Sender<bool>) {
        let store: Arc<dyn Store> = Arc::new(store::memory::MemoryStore::new());
        let domain = message::Domain::parse("example.org").expect("domain");
        store.domain_add(&domain).await.expect("domain added");
        let mut accounts = Vec::new();
        for user in ["alice@example.org", "bob@example.org"] {
            let address = message::Address::parse(user).expect("address");
            accounts.push(
                store
                    .account_add(&address, CHEAP_SECRET)
                    .await
                    .expect("account"),
            );
        }
        let inbox = store
            .mailbox_get(accounts[0], "INBOX")
            .await
            .expect("get")
            .expect("INBOX");
        store
            .message_append(inbox.id, MESSAGE, &["\\Seen".into()], 1_700_000_000)
            .await
            .expect("append");
        store
            .acl_set(inbox.id, store::Grantee::Account(accounts[1]), "lrswi")
            .await
            .expect("share");
        let (stop_tx, stop) = watch::channel(false);
        let shared = Shared::for_tests_from(&self.base, store, stop).expect("server state");
        (Arc::new(shared), stop_tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scripted_session_reaches_the_shared_mailbox() {
        let fuzz = ImapFuzz::new();
        let out = fuzz.run([
            &b"a LOGIN bob@example.org secret\r\nb SELECT \"Other Users/alice@example.org/INBOX\"\r\n"[..],
            b"c FETCH 1 (BODY[1] BODYSTRUCTURE)\r\nd MYRIGHTS INBOX\r\ne LOGOUT\r\n",
        ]);
        let text = String::from_utf8_lossy(&out);
        for want in [
            "a OK",
            "b OK [READ-WRITE]",
            "hello",
            "c OK",
            "* MYRIGHTS",
            "e OK",
        ] {
            assert!(text.contains(want), "{want:?} missing from {text}");
        }
        // Input that ends mid-command still ends the session.
        let out =
            fuzz.run([&b"a LOGIN alice@example.org secret\r\nb APPEND INBOX {10}\r\nabc"[..]]);
        assert!(String::from_utf8_lossy(&out).contains("a OK"));
    }
}
