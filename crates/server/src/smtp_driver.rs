//! The SMTP driver: owns one client connection, feeds its bytes to a
//! [`proto::smtp::server::Session`], carries out what the session asks (replies,
//! STARTTLS, lookups, queueing), and runs the RFC 5321 §4.5.3.2 timeouts.
//!
//! A finished message goes through the one door into the queue that local submission
//! uses too ([`delivery::accept`]: pipeline, filing for local recipients, queueing for
//! the rest); what is SMTP's stays here (replies, spooling, the processing budget, the
//! CPU work of large messages kept off the async workers, logging). It is acknowledged
//! with "250 2.0.0 Ok: queued as ID" only after the store returned, i.e. after it is on
//! stable storage.
//!
//! Limits a stranger meets here (docs/security.md):
//! - deadlines, not idle timers: a whole command line must arrive within
//!   `smtp.command_timeout_secs` of the previous reply, and each 64 KiB block of message
//!   data within `smtp.data_timeout_secs`, so a client trickling bytes cannot hold a slot;
//! - message data past `smtp.spool_threshold` goes to a temp file ([`crate::spool`]);
//!   finished messages are read back, parsed and processed at most
//!   `PROCESSING_AT_ONCE` at a time, the parsing on blocking threads;
//! - errors (bad commands, unknown recipients, relay attempts) are delayed past
//!   `smtp.soft_error_limit` (a tarpit), end the connection at `smtp.max_errors`, and
//!   are counted per client address (`smtp.max_errors_per_ip`, [`crate::smtp_errors`]).

use crate::listen::Shared;
use crate::smtp_policy::Checks;
use delivery::accept::{Client, Door, Source};
use delivery::route::Route;
use proto::Reply;
use proto::smtp::server::{
    Accepted, Answer, Input, ListenerKind, Output, Policy, Query, RecipientVerdict, Session,
    Waiting,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The read buffer of a connection waiting for commands: a command line is at most 512
/// octets (RFC 5321 §4.5.3.1.4), so one read takes several pipelined ones.
const SMALL_READ: usize = 1024;

/// The read buffer while message data flows (DATA, BDAT) or a read filled the small
/// one.
const LARGE_READ: usize = 16 * 1024;

/// Messages up to this size are checked (MIME depth) on the async worker: parsing
/// 64 KiB takes well under a millisecond, less than a blocking-pool round trip.
const INLINE_WORK_BYTES: u64 = 64 * 1024;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Message data must arrive at least this much per `smtp.data_timeout_secs`: the
/// "block" of RFC 5321 §4.5.3.2.5, as a deadline.
const DATA_BLOCK: u64 = 64 * 1024;
/// The longest tarpit delay before one error reply.
const MAX_ERROR_DELAY: Duration = Duration::from_secs(10);

/// What a pass over one stream ended with.
enum Flow {
    /// The session is over.
    Done,
    /// The session asked for STARTTLS; the plain stream comes back for the handshake.
    StartTls,
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    kind: ListenerKind,
    shared: &Shared,
) -> std::io::Result<()> {
    let smtp = &shared.config.smtp;
    let policy = Policy {
        hostname: shared.config.hostname.clone(),
        // Capture mode: AUTH optional on the implicit-TLS listener too (`--tls`).
        listener: if shared.capture.is_some() {
            ListenerKind::Mx
        } else {
            kind
        },
        tls_active: kind == ListenerKind::Submissions,
        // Capture mode: STARTTLS only with `capture.starttls`, AUTH on plain
        // connections too.
        starttls_available: shared.capture.is_none() || shared.config.capture.starttls,
        plaintext_auth: shared.capture.is_some()
            || shared.config.auth.allow_plaintext.permits(peer.ip()),
        max_message_size: smtp.max_message_size,
        max_recipients: smtp.max_recipients,
        max_auth_failures: smtp.max_auth_failures,
        max_errors: smtp.max_errors,
        max_junk_commands: smtp.junk_command_limit,
        vrfy_enabled: smtp.vrfy == config::VrfyPolicy::Ambiguous,
        expn_enabled: smtp.expn == config::ExpnPolicy::Ambiguous,
        spool: shared.spool.factory(),
    };
    if kind == ListenerKind::Mx
        && shared.capture.is_none()
        && shared
            .smtp_errors
            .blocked(peer.ip(), std::time::Instant::now())
    {
        // Too many errors from this address lately (smtp.max_errors_per_ip): 421 instead
        // of the greeting (RFC 5321 §3.1). Submission is never refused this way.
        tracing::info!("too many errors from this address, refused");
        let mut socket = socket;
        let _ = socket.write_all(&Reply::too_many_errors().to_wire()).await;
        return Ok(());
    }
    let mut session = Session::new(policy);
    // Capture mode takes any password; SCRAM needs the real one's keys.
    session.set_scram(shared.capture.is_none());
    let checks = Box::pin(Checks::start(shared, peer, kind, &mut session)).await;
    let mut driver = Driver {
        shared,
        peer,
        kind,
        checks,
        errors_counted: 0,
        replies: 0,
    };
    if kind == ListenerKind::Submissions {
        // RFC 8314 §3: implicit TLS, the handshake comes before the greeting.
        return Box::pin(driver.serve_tls(&mut session, socket, true)).await;
    }
    let mut socket = socket;
    socket.write_all(&session.greeting().to_wire()).await?;
    if let Flow::StartTls = driver.pump(&mut session, &mut socket).await? {
        return Box::pin(driver.serve_tls(&mut session, socket, false)).await;
    }
    Ok(())
}

struct Driver<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    kind: ListenerKind,
    /// Logins, sender check, hourly limits, DNS blocklists.
    checks: Checks,
    /// The session's errors already added to `shared.smtp_errors`.
    errors_counted: u32,
    /// Batches of replies written so far: a command was answered.
    replies: u64,
}

impl Driver<'_> {
    /// The TLS part of a connection: the handshake, then the session over TLS, with the
    /// greeting first when `implicit` (RFC 8314 §3), else after STARTTLS (RFC 3207).
    /// Boxed by the caller: the TLS state is sizeable, and a plain connection's future
    /// should not hold room for it.
    async fn serve_tls(
        &mut self,
        session: &mut Session,
        socket: TcpStream,
        implicit: bool,
    ) -> std::io::Result<()> {
        let accept = self.shared.tls.accept(socket);
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await??;
        session.set_tls_exporter(crate::scram::tls_exporter(tls.get_ref().1));
        if implicit {
            tls.write_all(&session.greeting().to_wire()).await?;
        } else {
            // Nothing read before the handshake survives it (RFC 3207 §6).
            let out = session.feed(Input::TlsStarted);
            debug_assert!(out.is_empty());
        }
        self.pump(session, &mut tls).await?;
        Ok(())
    }

    /// Reads, feeds, answers and writes until the session closes or asks for TLS.
    async fn pump<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        stream: &mut S,
    ) -> std::io::Result<Flow> {
        let smtp = &self.shared.config.smtp;
        let command_timeout = Duration::from_secs(smtp.command_timeout_secs);
        let data_timeout = Duration::from_secs(smtp.data_timeout_secs);
        let mut stop = self.shared.stop.clone();
        let mut told_to_stop = *stop.borrow();
        // An idle connection holds only the small buffer (inside this future); the
        // large one exists while message data flows or commands come in bursts, and is
        // given back when the session waits for commands again.
        let mut small = [0u8; SMALL_READ];
        let mut large: Vec<u8> = Vec::new();
        let mut filled = false;
        let mut write = Vec::new();
        if told_to_stop {
            let outputs = session.feed(Input::Shutdown);
            if let Some(flow) = self.carry_out(session, outputs, stream, &mut write).await? {
                return Ok(flow);
            }
        }
        // Deadlines, not idle timers (RFC 5321 §4.5.3.2): the clock restarts when a
        // command is answered, or during DATA/BDAT when another DATA_BLOCK octets came;
        // bytes trickling in do not move it.
        let mut deadline = Instant::now() + command_timeout;
        let mut replies_seen = self.replies;
        let mut block_start = 0u64;
        loop {
            if session.waiting() == Waiting::Closed {
                return Ok(Flow::Done);
            }
            let buf: &mut [u8] = if filled || session.waiting() == Waiting::Data {
                if large.is_empty() {
                    large = vec![0u8; LARGE_READ];
                }
                &mut large
            } else {
                if !large.is_empty() {
                    large = Vec::new();
                }
                &mut small
            };
            let outputs = tokio::select! {
                read = tokio::time::timeout_at(deadline, stream.read(&mut *buf)) => match read {
                    Err(_) => session.feed(Input::Timeout),
                    Ok(Ok(0)) => return Ok(Flow::Done), // client went away: an unfinished message is dropped
                    Ok(Ok(n)) => {
                        filled = n == buf.len();
                        session.feed(Input::Bytes(&buf[..n]))
                    }
                    Ok(Err(e)) => return Err(e),
                },
                changed = stop.changed(), if !told_to_stop => {
                    if changed.is_ok() && !*stop.borrow() {
                        continue;
                    }
                    told_to_stop = true;
                    session.feed(Input::Shutdown)
                }
            };
            if let Some(flow) = self.carry_out(session, outputs, stream, &mut write).await? {
                return Ok(flow);
            }
            let received = session.data_received();
            let data = session.waiting() == Waiting::Data;
            if self.replies != replies_seen {
                replies_seen = self.replies;
                block_start = received;
                deadline = Instant::now() + if data { data_timeout } else { command_timeout };
            } else if data && received.saturating_sub(block_start) >= DATA_BLOCK {
                block_start = received;
                deadline = Instant::now() + data_timeout;
            }
        }
    }

    /// The tarpit: how long to hold back replies when the session's errors went from
    /// `before` to `after` (`smtp.soft_error_limit`, `smtp.error_delay_ms`).
    fn error_delay(&self, before: u32, after: u32) -> Duration {
        let smtp = &self.shared.config.smtp;
        // No tarpit in capture mode.
        if self.shared.capture.is_some() || after <= before || after <= smtp.soft_error_limit {
            return Duration::ZERO;
        }
        let past = u64::from(after - smtp.soft_error_limit);
        Duration::from_millis(smtp.error_delay_ms.saturating_mul(past)).min(MAX_ERROR_DELAY)
    }

    /// Does what the session asked, feeding answers back; writes the replies at the end
    /// (so pipelined replies go out together, RFC 2920 §3.1).
    async fn carry_out<S: AsyncWrite + Unpin>(
        &mut self,
        session: &mut Session,
        outputs: Vec<Output>,
        stream: &mut S,
        write: &mut Vec<u8>,
    ) -> std::io::Result<Option<Flow>> {
        let errors_before = session.errors();
        let mut queue: VecDeque<Output> = outputs.into();
        let mut flow = None;
        while let Some(output) = queue.pop_front() {
            match output {
                Output::Reply(reply) => reply.write_to(write),
                Output::Query(query) => {
                    // Logins, senders and blocklisted clients are the abuse checks'
                    // (`smtp_policy`); recipients are routed here, then rate-limited.
                    let login = session.authenticated_as().map(str::to_owned);
                    let login = login.as_deref();
                    // Boxed, like the message below: an idle connection's future
                    // then holds no room for these rarer, deeper ones.
                    let answer = match Box::pin(self.checks.answer(self.shared, login, query)).await
                    {
                        Ok(answer) => answer,
                        Err(query) => {
                            let routed = Box::pin(self.answer(query)).await;
                            Box::pin(self.checks.after_recipient(self.shared, login, routed)).await
                        }
                    };
                    queue.extend(session.feed(Input::Answer(answer)));
                }
                Output::Message(accepted) => {
                    let reply = Box::pin(self.take_message(*accepted)).await;
                    queue.extend(session.feed(Input::Answer(Answer::MessageResult(reply))));
                }
                Output::StartTls => flow = Some(Flow::StartTls),
                Output::Close => flow = Some(Flow::Done),
            }
        }
        let errors = session.errors();
        if self.kind == ListenerKind::Mx
            && self.shared.capture.is_none()
            && errors > self.errors_counted
        {
            let now = std::time::Instant::now();
            let errors_from_ip = &self.shared.smtp_errors;
            errors_from_ip.add(self.peer.ip(), errors - self.errors_counted, now);
            self.errors_counted = errors;
            if flow.is_none() && errors_from_ip.blocked(self.peer.ip(), now) {
                Reply::too_many_errors().write_to(write);
                flow = Some(Flow::Done);
            }
        }
        if !write.is_empty() {
            let delay = self.error_delay(errors_before, errors);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            stream.write_all(write).await?;
            stream.flush().await?;
            write.clear();
            if write.capacity() > 4096 {
                // A burst of pipelined replies: not kept for an idle connection.
                *write = Vec::new();
            }
            self.replies += 1;
        }
        if matches!(flow, Some(Flow::Done)) {
            let _ = stream.shutdown().await;
        }
        Ok(flow)
    }

    async fn answer(&self, query: Query) -> Answer {
        let store = &self.shared.store;
        match query {
            // Capture mode takes any recipient: it is never relayed.
            Query::Recipient(_) if self.shared.capture.is_some() => {
                Answer::Recipient(RecipientVerdict::Local)
            }
            Query::Recipient(address) => {
                Answer::Recipient(match self.shared.resolver.route(&address).await {
                    // An account over its quota is refused for now (452 4.2.2), as
                    // Postfix with Dovecot's quota policy does; mail that fits later
                    // is still filed (or queued and retried) when it comes.
                    Ok(Route::Local(account)) => match store.quota_full(account.id).await {
                        Ok(false) => RecipientVerdict::Local,
                        Ok(true) => RecipientVerdict::MailboxFull,
                        Err(e) => {
                            tracing::error!(error = %e, "quota lookup failed");
                            RecipientVerdict::TempFail
                        }
                    },
                    Ok(Route::Unknown) => RecipientVerdict::Unknown,
                    Ok(Route::Remote) => RecipientVerdict::Remote,
                    Err(e) => {
                        tracing::error!(error = %e, "recipient lookup failed");
                        RecipientVerdict::TempFail
                    }
                })
            }
            // Answered by `self.checks` before this is called (see `carry_out`).
            Query::Login { .. }
            | Query::ScramKeys { .. }
            | Query::ScramLogin { .. }
            | Query::Sender(_) => Answer::Refuse(Reply::local_error()),
        }
    }

    /// A finished message: read back from its spool, checked and queued, within the
    /// budget of messages processed at once when it is large; the CPU work on a
    /// blocking thread. Returns the reply for the end of DATA/BDAT.
    async fn take_message(&self, mut accepted: Accepted) -> Reply {
        let spool = std::mem::replace(
            &mut accepted.body,
            proto::smtp::server::Body::new(Box::<proto::smtp::server::MemorySpool>::default()),
        );
        let _permit = if spool.len() > self.shared.config.smtp.spool_threshold {
            match self.shared.processing.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return Reply::local_error(),
            }
        } else {
            None
        };
        // A small message is in memory and parsed in microseconds: checked right
        // here, since a trip to the blocking pool would cost more than the work.
        let small = self.small_in_memory(spool.len());
        let check = move || {
            let body = spool.into_bytes()?;
            let structure = pipeline::check_structure(&body);
            Ok::<_, std::io::Error>((body, structure))
        };
        let read = if small {
            Ok(check())
        } else {
            tokio::task::spawn_blocking(check).await
        };
        let body = match read {
            Ok(Ok((_, Err(why)))) => {
                tracing::info!(reason = %why, "refused: MIME structure");
                // RFC 3463 5.6.0: other or undefined media error.
                return Reply::new(554, (5, 6, 0), why);
            }
            Ok(Ok((body, Ok(())))) => body,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not read a spooled message back");
                return Reply::local_error();
            }
            Err(e) => {
                tracing::error!(error = %e, "message check failed");
                return Reply::local_error();
            }
        };
        // The sender check's end-of-DATA part (`From:`), before the pipeline.
        if let Some(refusal) = crate::smtp_policy::end_of_data(
            self.shared,
            accepted.authenticated_as.as_deref(),
            &body,
        )
        .await
        {
            return refusal;
        }
        if let Some(capture) = &self.shared.capture {
            return self.capture(capture, accepted, body).await;
        }
        self.enqueue(accepted, body).await
    }

    /// Whether a finished message of `len` octets is still in memory (not past
    /// `smtp.spool_threshold`) and small enough to check and summarize on the async
    /// worker ([`INLINE_WORK_BYTES`]).
    fn small_in_memory(&self, len: u64) -> bool {
        len <= self
            .shared
            .config
            .smtp
            .spool_threshold
            .min(INLINE_WORK_BYTES)
    }

    /// Capture mode: the message gets its trace field (no checks, no signing) and is
    /// filed once into its inbox ([`crate::capture`]), never queued; the 250 comes
    /// once it is on disk.
    async fn capture(
        &self,
        capture: &crate::capture::Capture,
        accepted: Accepted,
        body: Vec<u8>,
    ) -> Reply {
        let shared = self.shared;
        let door = Door {
            store: &shared.store,
            resolver: &shared.resolver,
            auth: None,
            hostname: &shared.config.hostname,
        };
        let client = Client {
            ip: self.peer.ip(),
            helo: &accepted.helo,
            protocol: accepted.protocol(),
        };
        let source = Source::Inbound(client);
        let prepared = door
            .prepare(
                &source,
                &accepted.envelope,
                &body,
                std::time::SystemTime::now(),
            )
            .await;
        drop(body);
        let prepared = match prepared {
            Ok(prepared) => prepared,
            // Without checks nothing refuses; answered as the normal path would.
            Err(rejected) => return Reply::new(550, (5, 7, 1), rejected.reason),
        };
        let login = accepted.authenticated_as.as_deref();
        match capture
            .file(login, &accepted.envelope, prepared.id, prepared.message)
            .await
        {
            Ok((account, uid)) => {
                tracing::info!(
                    queue_id = %prepared.id,
                    from = %accepted.envelope.sender_path(),
                    recipients = accepted.envelope.recipients.len(),
                    inbox = %account.address,
                    uid,
                    "captured"
                );
                crate::metrics::message_received(crate::metrics::smtp_listener(self.kind));
                shared.mail_changes.publish(account.id);
                Reply::new(250, (2, 0, 0), format!("Ok: queued as {}", prepared.id))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not capture a message");
                Reply::local_error()
            }
        }
    }

    /// Hands the message to the one door into the queue ([`delivery::accept`]): the
    /// pipeline, then filing for local recipients and queueing for the rest; answers
    /// with the reply for the end of DATA/BDAT.
    async fn enqueue(&self, accepted: Accepted, body: Vec<u8>) -> Reply {
        let shared = self.shared;
        let door = Door {
            store: &shared.store,
            resolver: &shared.resolver,
            auth: Some(&shared.mail_auth),
            hostname: &shared.config.hostname,
        };
        let client = Client {
            ip: self.peer.ip(),
            helo: &accepted.helo,
            protocol: accepted.protocol(),
        };
        // Authenticated mail (submission, or AUTH on port 25) is our users': signed,
        // never checked. Everything else is checked (SPF, DKIM, DMARC) before the reply.
        let source = if accepted.authenticated_as.is_some() {
            Source::Submission {
                client,
                submission_listener: self.kind.is_submission(),
            }
        } else {
            Source::Inbound(client)
        };
        let preparing = door.prepare(
            &source,
            &accepted.envelope,
            &body,
            std::time::SystemTime::now(),
        );
        // DKIM hashing (verifying or signing) and the copies the pipeline makes are CPU
        // work proportional to the message. For a large one (there are at most
        // PROCESSING_AT_ONCE), this worker thread hands its other sessions to the rest
        // of the runtime while it works (block_in_place), so it stalls nobody.
        let large = body.len() as u64 > shared.config.smtp.spool_threshold;
        let prepared = if large {
            crate::cpu::heavy_async(preparing).await
        } else {
            preparing.await
        };
        drop(body);
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(rejected) => {
                tracing::info!(
                    from = %accepted.envelope.sender_path(),
                    checks = rejected.checks.as_deref().unwrap_or(""),
                    "refused by DMARC policy"
                );
                // RFC 7489 §6.6.4 / §10.3: reject at the end of DATA.
                return Reply::new(550, (5, 7, 1), rejected.reason);
            }
        };
        // Local recipients are filed in the same step that queues the message, so
        // all-local mail is in its mailboxes when the 250 goes out and the queue runner
        // only sees what is left (remote recipients, lookups that failed).
        match door.file(&accepted.envelope, prepared).await {
            Ok(queued) => {
                tracing::info!(
                    queue_id = %queued.id,
                    from = %accepted.envelope.sender_path(),
                    recipients = accepted.envelope.recipients.len(),
                    filed = queued.filed.len(),
                    size = queued.size,
                    checks = queued.checks.as_deref().unwrap_or(""),
                    quarantine = queued.quarantine,
                    "queued"
                );
                crate::metrics::message_received(crate::metrics::smtp_listener(self.kind));
                // IMAP IDLE sessions of these accounts look at their INBOX now.
                for f in &queued.filed {
                    shared.mail_changes.publish(f.account);
                }
                if queued.all_filed {
                    shared.queue.finished_elsewhere();
                }
                if !queued.all_filed || queued.report_queued {
                    shared.queue.notify();
                }
                Reply::new(250, (2, 0, 0), format!("Ok: queued as {}", queued.id))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not queue a message");
                Reply::local_error()
            }
        }
    }
}
