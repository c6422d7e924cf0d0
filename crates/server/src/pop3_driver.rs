//! The POP3 driver: owns one client connection, feeds its bytes to a
//! [`proto::pop3::Session`], and answers its queries from the store: the login
//! ([`crate::login::login`], then the exclusive maildrop lock and the INBOX listing),
//! message reads, and the deletions committed at QUIT (RFC 1939 §6: only then, and
//! atomically).
//!
//! The maildrop lock (RFC 1939 §8: one session per maildrop; `-ERR [IN-USE]`, RFC 2449
//! §8.1.2, when another holds it) is a lease in the store (`Store::maildrop_lock`), so
//! it holds across every node on one database: the holder is `hostname:pid:random:N`,
//! unique per session; the lease lasts [`LEASE`] and is renewed every [`RENEW_EVERY`]
//! while the session lives, and is unlocked when the session closes (before the
//! goodbye is written, so a client reconnecting at once finds the maildrop free) or,
//! failing that, when the driver is dropped. A crashed node's leases expire.
//! A session whose lease was taken over (the store unreachable for longer than the
//! lease) is ended as at shutdown, committing nothing.
//!
//! UIDL values are `%08X%08X` of the message's IMAP UID and its mailbox's UIDVALIDITY,
//! so they never change while the message exists and name the same message IMAP does.

use crate::listen::Shared;
use proto::pop3::{
    Answer, Input, LoginResult, MessageInfo, Output, Pop3Policy, Query, Session, Waiting,
};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{Account, MailboxId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a maildrop lock lasts unless renewed: how long a crashed node's sessions
/// keep their maildrops locked.
const LEASE: Duration = Duration::from_secs(600);
/// How often a live session renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(120);

/// The maildrop a logged-in session works on.
struct Maildrop {
    mailbox: MailboxId,
    /// IMAP UIDs, index-aligned with the listing the session was given.
    uids: Vec<u32>,
    /// This session's name as the lock's holder.
    holder: String,
    /// When the lease was last taken or renewed.
    renewed: Instant,
}

/// The current time in unix seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A holder name for a new session's maildrop lock: `hostname:pid:random:N`, unique
/// per session among every node and process on the database (the random part keeps
/// two hosts or containers with one name and pid apart).
fn holder_name(hostname: &str) -> String {
    static PROCESS: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let process = PROCESS.get_or_init(|| {
        format!(
            "{hostname}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    });
    format!("{process}:{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

struct Driver<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    maildrop: Option<Maildrop>,
}

/// Serves one accepted POP3 connection to its end; `implicit_tls` for the pop3s listener.
pub(crate) async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    shared: &Shared,
) -> std::io::Result<()> {
    let config = &shared.config;
    let policy = Pop3Policy {
        hostname: config.hostname.clone(),
        tls_active: implicit_tls,
        // Capture mode: STLS only with `capture.starttls`, plaintext logins always.
        stls_available: shared.capture.is_none() || config.capture.starttls,
        plaintext_auth: shared.capture.is_some() || config.auth.allow_plaintext.permits(peer.ip()),
        max_auth_failures: config.pop3.max_auth_failures,
        max_errors: config.pop3.max_errors,
        expire: config.pop3.expire_days,
    };
    let mut session = Session::new(policy);
    // Capture mode takes any password; SCRAM needs the real one's keys.
    session.set_scram(shared.capture.is_none());
    let mut driver = Driver {
        shared,
        peer,
        maildrop: None,
    };
    let result = driver.run(&mut session, socket, implicit_tls).await;
    driver.release().await;
    result
}

impl Driver<'_> {
    /// [`serve`]'s connection handling, up to the end of the connection.
    async fn run(
        &mut self,
        session: &mut Session,
        socket: TcpStream,
        implicit_tls: bool,
    ) -> std::io::Result<()> {
        let shared = self.shared;
        let driver = self;
        if implicit_tls {
            // RFC 8314 §3: the handshake comes before the greeting.
            let mut tls =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
            session.set_tls_exporter(crate::scram::tls_exporter(tls.get_ref().1));
            tls.write_all(&session.greeting()).await?;
            driver.pump(session, &mut tls).await?;
            return Ok(());
        }
        let mut socket = socket;
        socket.write_all(&session.greeting()).await?;
        if driver.pump(session, &mut socket).await? {
            let mut tls =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
            session.set_tls_exporter(crate::scram::tls_exporter(tls.get_ref().1));
            // Nothing read before the handshake is fed (RFC 2595 §4).
            let outputs = session.feed(Input::TlsStarted);
            if !driver.carry_out(session, outputs, &mut tls).await? {
                driver.pump(session, &mut tls).await?;
            }
        }
        Ok(())
    }

    /// Renews the maildrop lease; false when it is no longer this session's.
    async fn renew(&mut self) -> bool {
        let Some(drop) = &mut self.maildrop else {
            return true;
        };
        let now = now_unix();
        let until = now.saturating_add(LEASE.as_secs() as i64);
        match self
            .shared
            .store
            .maildrop_lock(drop.mailbox, &drop.holder, now, until)
            .await
        {
            Ok(true) => {
                drop.renewed = Instant::now();
                true
            }
            Ok(false) => {
                tracing::warn!(holder = %drop.holder, "POP3 maildrop lock was taken over");
                false
            }
            Err(store::StoreError::NotFound(_)) => {
                // The mailbox was deleted (over IMAP or by removing the account):
                // there is nothing left to guard.
                drop.renewed = Instant::now();
                true
            }
            Err(e) => {
                // Try again soon; the lease outlives a few failed renewals.
                tracing::warn!(error = %e, "cannot renew the POP3 maildrop lock");
                drop.renewed = Instant::now()
                    .checked_sub(RENEW_EVERY / 2)
                    .unwrap_or_else(Instant::now);
                true
            }
        }
    }

    /// Unlocks the maildrop, if this session holds it.
    async fn release(&mut self) {
        if let Some(drop) = self.maildrop.take()
            && let Err(e) = self
                .shared
                .store
                .maildrop_unlock(drop.mailbox, &drop.holder)
                .await
        {
            tracing::warn!(error = %e, "cannot unlock the POP3 maildrop; its lease will expire");
        }
    }

    /// Runs the session on `stream`; true when it asked for STLS.
    ///
    /// The command deadline (`pop3.idle_timeout_secs`, the RFC 1939 §3 autologout):
    /// each command line must arrive whole within it; the deadline moves only when
    /// the session has taken a complete line ([`Session::lines_received`]), so a
    /// client dripping a byte at a time is closed like a silent one.
    async fn pump<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        stream: &mut S,
    ) -> std::io::Result<bool> {
        let timeout = Duration::from_secs(self.shared.config.pop3.idle_timeout_secs);
        let mut deadline = Instant::now() + timeout;
        let mut lines = session.lines_received();
        let mut stop = self.shared.stop.clone();
        let mut told_to_stop = false;
        let mut buf = vec![0u8; 8 * 1024];
        loop {
            if !told_to_stop && *stop.borrow() {
                told_to_stop = true;
                let outputs = session.feed(Input::Shutdown);
                if let Some(tls) = self.finish(session, outputs, stream).await? {
                    return Ok(tls);
                }
            }
            if session.waiting() == Waiting::Closed {
                return Ok(false);
            }
            let renew_at = self.maildrop.as_ref().map(|d| d.renewed + RENEW_EVERY);
            let outputs = tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) => return Ok(false), // dropped: nothing is committed
                    Ok(n) => session.feed(Input::Bytes(&buf[..n])),
                    Err(e) => return Err(e),
                },
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::debug!(partial = session.buffered() > 0, "POP3 command deadline");
                    session.feed(Input::Timeout)
                }
                _ = tokio::time::sleep_until(renew_at.unwrap_or(deadline)), if renew_at.is_some() => {
                    if self.renew().await {
                        continue;
                    }
                    // Another session has the maildrop now: end this one, committing
                    // nothing.
                    told_to_stop = true;
                    session.feed(Input::Shutdown)
                }
                changed = stop.changed(), if !told_to_stop => {
                    if changed.is_ok() && !*stop.borrow() {
                        continue;
                    }
                    told_to_stop = true;
                    session.feed(Input::Shutdown)
                }
            };
            let finished =
                tokio::time::timeout(timeout, self.finish(session, outputs, stream)).await;
            // The next line is due `timeout` after this one was taken in and
            // answered.
            if session.lines_received() != lines {
                lines = session.lines_received();
                deadline = Instant::now() + timeout;
            }
            match finished {
                Ok(result) => {
                    if let Some(tls) = result? {
                        return Ok(tls);
                    }
                }
                Err(_) => {
                    // The client does not read what it asked for.
                    tracing::debug!("POP3 client did not read its responses in time");
                    return Ok(false);
                }
            }
        }
    }

    /// Carries out outputs; `Some(true)` to start TLS, `Some(false)` when closed.
    async fn finish<S: AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        outputs: Vec<Output>,
        stream: &mut S,
    ) -> std::io::Result<Option<bool>> {
        let starttls = self.carry_out(session, outputs, stream).await?;
        if starttls {
            return Ok(Some(true));
        }
        if session.waiting() == Waiting::Closed {
            let _ = stream.shutdown().await;
            return Ok(Some(false));
        }
        Ok(None)
    }

    /// Does what the session asked, feeding answers back, and writes the responses in
    /// one go (RFC 2449 §6.6 pipelining). Returns true when STLS was asked for.
    async fn carry_out<S: AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        outputs: Vec<Output>,
        stream: &mut S,
    ) -> std::io::Result<bool> {
        let mut pending: std::collections::VecDeque<Output> = outputs.into();
        let mut write = Vec::new();
        let mut starttls = false;
        while let Some(output) = pending.pop_front() {
            match output {
                Output::Send(bytes) => {
                    write.extend_from_slice(&bytes);
                    if write.len() >= 64 * 1024 {
                        stream.write_all(&write).await?;
                        write.clear();
                    }
                }
                Output::Query(query) => {
                    let answer = self.answer(query).await;
                    pending.extend(session.feed(Input::Answer(answer)));
                }
                Output::StartTls => starttls = true,
                // Unlocked before the goodbye is sent, so the client may log in
                // again at once.
                Output::Close => self.release().await,
            }
        }
        if !write.is_empty() {
            stream.write_all(&write).await?;
        }
        stream.flush().await?;
        Ok(starttls)
    }

    async fn answer(&mut self, query: Query) -> Answer {
        let store = &self.shared.store;
        match query {
            Query::Login { username, password } => {
                Answer::Login(self.login(&username, password).await)
            }
            Query::ScramKeys { username } => {
                let ip = self.peer.ip();
                match crate::scram::keys(self.shared, ip, "pop3", &username).await {
                    Ok(keys) => Answer::ScramKeys(keys),
                    Err(outcome) => Answer::Login(self.login_result(outcome).await),
                }
            }
            Query::ScramLogin {
                username,
                matched,
                account_exists,
            } => {
                let ip = self.peer.ip();
                let outcome = crate::scram::finish(
                    self.shared,
                    ip,
                    "pop3",
                    &username,
                    matched,
                    account_exists,
                )
                .await;
                Answer::Login(self.login_result(outcome).await)
            }
            Query::Retrieve { index } => {
                let Some(drop) = &self.maildrop else {
                    return Answer::Failed;
                };
                let Some(&uid) = drop.uids.get(index) else {
                    return Answer::Failed;
                };
                match store.message_read(drop.mailbox, uid).await {
                    Ok(bytes) => Answer::Message(bytes),
                    // Expunged over IMAP meanwhile (IMAP may work on the maildrop
                    // during a POP3 session): no damage, just gone.
                    Err(store::StoreError::NotFound(_)) => Answer::Failed,
                    Err(e) => {
                        tracing::error!(error = %e, uid, "cannot read a message for RETR");
                        Answer::Failed
                    }
                }
            }
            Query::Commit { deleted } => {
                let Some(drop) = &self.maildrop else {
                    return Answer::Failed;
                };
                let uids: Vec<u32> = deleted
                    .iter()
                    .filter_map(|&i| drop.uids.get(i).copied())
                    .collect();
                match store.message_remove(drop.mailbox, &uids).await {
                    Ok(()) => {
                        tracing::info!(deleted = uids.len(), "POP3 update committed");
                        Answer::Committed
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "POP3 update failed");
                        Answer::Failed
                    }
                }
            }
        }
    }

    async fn login(&mut self, username: &str, password: String) -> LoginResult {
        let outcome =
            crate::login::login(self.shared, self.peer.ip(), "pop3", username, password).await;
        self.login_result(outcome).await
    }

    /// The session's result for a login outcome (password or SCRAM): on success the
    /// maildrop is locked and listed.
    async fn login_result(&mut self, outcome: crate::login::Outcome) -> LoginResult {
        use crate::login::Outcome;
        match outcome {
            Outcome::Ok(account) => self.open_maildrop(&account).await,
            Outcome::Wrong => LoginResult::BadCredentials,
            Outcome::Locked => LoginResult::Locked,
            Outcome::TempFail => LoginResult::TempFail,
        }
    }

    async fn open_maildrop(&mut self, account: &Account) -> LoginResult {
        let store = &self.shared.store;
        let Ok(mailboxes) = store.mailbox_list(account.id).await else {
            return LoginResult::TempFail;
        };
        let Some(inbox) = mailboxes.into_iter().find(|m| m.name == "INBOX") else {
            return LoginResult::TempFail;
        };
        // RFC 1939 §8: one session per maildrop, on any node; IMAP may read
        // concurrently.
        let holder = holder_name(&self.shared.config.hostname);
        let now = now_unix();
        let until = now.saturating_add(LEASE.as_secs() as i64);
        match store.maildrop_lock(inbox.id, &holder, now, until).await {
            Ok(true) => {}
            Ok(false) => return LoginResult::InUse,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the POP3 maildrop lock");
                return LoginResult::TempFail;
            }
        }
        let renewed = Instant::now();
        let Ok(messages) = store.message_list(inbox.id).await else {
            if let Err(e) = store.maildrop_unlock(inbox.id, &holder).await {
                tracing::warn!(error = %e, "cannot unlock the POP3 maildrop");
            }
            return LoginResult::TempFail;
        };
        let listing = messages
            .iter()
            .map(|m| MessageInfo {
                size: m.size,
                uid: uidl(m.uid, inbox.uid_validity),
            })
            .collect();
        self.maildrop = Some(Maildrop {
            mailbox: inbox.id,
            uids: messages.iter().map(|m| m.uid).collect(),
            holder,
            renewed,
        });
        tracing::info!(user = %account.address, messages = messages.len(), "POP3 login");
        LoginResult::Ok(listing)
    }
}

impl Drop for Driver<'_> {
    /// A connection that ended without [`Driver::release`] (its task cancelled) still
    /// unlocks its maildrop, in the background; if even that cannot run, the lease
    /// expires.
    fn drop(&mut self) {
        if let Some(drop) = self.maildrop.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = self.shared.store.clone();
            runtime.spawn(async move {
                let _ = store.maildrop_unlock(drop.mailbox, &drop.holder).await;
            });
        }
    }
}

/// The UIDL of a message: its UID and its mailbox's UIDVALIDITY, as 16 hex digits.
pub(crate) fn uidl(uid: u32, uid_validity: u32) -> String {
    format!("{uid:08X}{uid_validity:08X}")
}
