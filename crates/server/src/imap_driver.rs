//! The IMAP driver: owns one client connection, lets imap-next's server state machine
//! frame its bytes into commands (literals with `+` continuations and LITERAL+, the
//! AUTHENTICATE exchange, IDLE ... DONE), and hands each command to an
//! [`imap::session::Session`], whose responses it writes.
//!
//! Every byte read passes [`imap::framing::Gate`] first: it frames lines and
//! literals, holds each command to its limits (8 KiB before login; `imap.max_line_length`
//! and `imap.max_literal_size` after) and to the nesting limit, and refuses what
//! breaks them before imap-next buffers or parses it (`BAD [TOOBIG]`, and `* BYE` when
//! the input can no longer be framed, such as a non-synchronising literal too large).
//!
//! Where it sits: started by [`crate::listen`] for the `imap` (STARTTLS, RFC 3501
//! §6.2.1) and `imaps` (implicit TLS, RFC 8314) listeners. It also owns the timers and
//! signals: the command deadline (`imap.idle_timeout_secs`, RFC 9051 §5.4 autologout:
//! `* BYE`; each line and literal must be whole within it, a drip does not extend it),
//! the server's stop channel (`* BYE` then close), and during IDLE (RFC 2177) the
//! change notifications of [`crate::imap::changes`] plus a one-second poll of the
//! store, after which the session writes its untagged updates at once. The same
//! wake-ups serve NOTIFY (RFC 5465 §5, `imap::session::notify`) whenever one is in
//! force and no command is in progress: the server then speaks between commands.
//!
//! Output order: the session writes plain responses into its buffer; the few
//! responses imap-next must track (continuation requests, AUTHENTICATE's and IDLE's
//! ends) are enqueued in imap-next and come out of [`State::next`] in order, into the
//! same buffer. Nothing read before a STARTTLS handshake is kept (RFC 3501 §6.2.1,
//! the STARTTLS command-injection rule): a fresh state machine starts after it.
//!
//! COMPRESS=DEFLATE (RFC 4978) switches streams the same way: after the tagged OK
//! goes out uncompressed, the session runs on again over a
//! [`Deflate`](crate::imap::deflate::Deflate) wrapper of the same (plain or TLS)
//! stream, with a fresh state machine (the client sends nothing after COMPRESS until
//! it has the OK, RFC 4978 §3).

use crate::imap::deflate::Deflate;
use crate::listen::Shared;
use imap::framing::{Gate, Limits, Refusal, Step};
use imap::session::Session;
use imap::session::auth::SaslStep;
use imap::session::compress::State as Compression;
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::{
    Code, CodeOther, CommandContinuationRequest, Greeting, Status, StatusBody, StatusKind, Tagged,
};
use imap_next::server::{Error as ServerError, Event, Options, Server};
use imap_next::{Interrupt, Io, State};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// After refusing input it cannot frame, how long the server still reads (and
/// drops) what the client had in flight before it closes, so the client gets the
/// `BAD`/`BYE` instead of a reset (a lingering close).
const LINGER: Duration = Duration::from_secs(2);
/// The most a lingering close reads.
const LINGER_BYTES: usize = 1024 * 1024;
/// How often an idling session re-reads the store when no notification came
/// (deliveries by the queue runner or another process).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How a run on one stream ended.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Closed,
    StartTls,
    /// COMPRESS was answered OK: go on over DEFLATE.
    Compress,
}

/// Serves one accepted IMAP connection to its end; `implicit_tls` for imaps.
pub(crate) async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    shared: &Shared,
) -> std::io::Result<()> {
    imap::session::cpu::set_runner(crate::cpu::run_imap_work);
    let mut session = Session::new(shared, peer, implicit_tls);
    // Capture mode takes any password; SCRAM needs the real one's keys.
    session.scram = shared.capture.is_none();
    if implicit_tls {
        // RFC 8314 §3: the handshake comes before the greeting.
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
        session.tls_exporter = crate::scram::tls_exporter(tls.get_ref().1);
        run_compressible(&mut session, shared, &mut tls, true).await?;
        return Ok(());
    }
    let mut socket = socket;
    if run_compressible(&mut session, shared, &mut socket, true).await? == Flow::StartTls {
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
        session.tls = true;
        session.tls_exporter = crate::scram::tls_exporter(tls.get_ref().1);
        session.starttls = false;
        tracing::debug!("STARTTLS done");
        run_compressible(&mut session, shared, &mut tls, false).await?;
    }
    Ok(())
}

/// Serves one IMAP connection over any stream, without TLS (STARTTLS ends it): the
/// same framing, literals, IDLE and COMPRESS as a socket. For tests that talk to the
/// driver over an in-memory stream (the IMAP transcripts).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut session = Session::new(shared, peer, false);
    run_compressible(&mut session, shared, &mut stream, true).await?;
    Ok(())
}

/// Runs the session on `stream`, and on over DEFLATE if it asks for COMPRESS
/// (RFC 4978); returns how the run on the original stream ended otherwise.
async fn run_compressible<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<'_>,
    shared: &Shared,
    stream: &mut S,
    greet: bool,
) -> std::io::Result<Flow> {
    let flow = run(session, shared, stream, greet).await?;
    if flow != Flow::Compress {
        return Ok(flow);
    }
    session.compression = Compression::On;
    tracing::debug!("COMPRESS=DEFLATE on");
    let mut deflate = Deflate::new(stream);
    // STARTTLS is refused after login, so this run can only end closed.
    run(session, shared, &mut deflate, false).await
}

/// A fresh imap-next server state machine; its own greeting is swallowed (the
/// session writes one with the capability list). Its limits are the loosest a
/// command can meet: the [`Gate`] in front of it holds each command to the limits of
/// the moment (before or after login) and refuses larger ones before imap-next
/// buffers them, so imap-next's own refusals never fire.
fn new_server(shared: &Shared) -> Server {
    let imap = &shared.config.imap;
    let mut options = Options::default();
    options.crlf_relaxed = true;
    options.max_literal_size = imap.max_literal_size;
    // One literal plus one line, and a little slack (imap-next wants it larger).
    options.max_command_size = u32::try_from(
        Limits::authenticated(imap.max_line_length, imap.max_literal_size)
            .command
            .saturating_add(1024),
    )
    .unwrap_or(u32::MAX);
    let _ = options.set_literal_accept_text("Ready for literal data".into());
    let _ = options.set_literal_reject_text("Literal too large (APPENDLIMIT)".into());
    let greeting = Greeting::ok(None, "Postie ready").expect("valid greeting");
    let mut server = Server::new(options, greeting);
    // The greeting's bytes, then its GreetingSent event.
    while let Err(Interrupt::Io(Io::Output(_))) = server.next() {}
    server
}

/// The gate's limits for the session as it is now: tight before login.
fn limits(session: &Session<'_>, shared: &Shared) -> Limits {
    let imap = &shared.config.imap;
    if session.account.is_some() {
        Limits::authenticated(imap.max_line_length, imap.max_literal_size)
    } else {
        Limits::unauthenticated()
    }
}

/// Whether the session is about to change streams (STARTTLS, COMPRESS).
fn switching(session: &Session<'_>) -> bool {
    session.starttls || session.compression == Compression::Starting
}

/// Runs every command imap-next can frame from the bytes it has.
async fn pump(session: &mut Session<'_>, server: &mut Server, auth_tag: &mut Option<Tag<'static>>) {
    while !session.close && !switching(session) {
        match server.next() {
            Ok(event) => handle(session, server, event, auth_tag).await,
            Err(Interrupt::Io(Io::Output(bytes))) => session.out.extend_from_slice(&bytes),
            Err(Interrupt::Io(Io::NeedMoreInput)) => break,
            Err(Interrupt::Error(e)) => {
                // NOTIFY, ESEARCH and LIST-EXTENDED are parsed from the raw line.
                if !session.extended_command(&e).await {
                    framing_error(session, e);
                }
            }
        }
    }
}

/// Runs the session on `stream` until it closes or asks for TLS.
///
/// Deadlines (RFC 9051 §5.4 autologout, and issue 12's "a drip cannot hold a slot"):
/// each command line and each literal must arrive whole within
/// `imap.idle_timeout_secs` of the previous one; bytes that complete nothing do not
/// move the deadline. During IDLE the same deadline is the autologout. Writes get
/// the same time.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<'_>,
    shared: &Shared,
    stream: &mut S,
    greet: bool,
) -> std::io::Result<Flow> {
    let mut server = new_server(shared);
    let mut gate = Gate::new(limits(session, shared));
    if greet {
        let caps = session.capabilities();
        session.untagged(&format!("OK [CAPABILITY {caps}] Postie ready"));
    }
    let timeout = Duration::from_secs(shared.config.imap.idle_timeout_secs);
    let mut deadline = Instant::now() + timeout;
    let mut stop = shared.stop.clone();
    let mut told_to_stop = false;
    let mut changes = shared.mail_changes.subscribe();
    let mut poll = tokio::time::interval(IDLE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut auth_tag: Option<Tag<'static>> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut input_len = 0;
    // The gate refused input it cannot frame: close with a lingering read.
    let mut refused = false;
    loop {
        if !told_to_stop && *stop.borrow() {
            told_to_stop = true;
            session.untagged("BYE Server shutting down");
            session.close = true;
        }
        // What was read, through the gate, a line or literal at a time; commands
        // run as soon as imap-next has them whole, so the limits of the moment
        // (before or after a LOGIN on the line before) apply to each.
        let mut input = &buf[..input_len];
        while !session.close && !switching(session) {
            let (used, step) = gate.next(input);
            input = &input[used..];
            match step {
                Step::NeedMore => break,
                // The next line or literal is due `timeout` after this one was
                // taken in and its command (if complete) has run.
                Step::Line(line) => {
                    server.enqueue_input(&line);
                    pump(session, &mut server, &mut auth_tag).await;
                    gate.set_limits(limits(session, shared));
                    deadline = Instant::now() + timeout;
                }
                Step::Literal { bytes, last } => {
                    server.enqueue_input(bytes);
                    if last {
                        pump(session, &mut server, &mut auth_tag).await;
                        deadline = Instant::now() + timeout;
                    }
                }
                Step::Refuse(refusal) => {
                    refused |= refusal.close;
                    refuse(session, refusal);
                }
            }
        }
        input_len = 0;
        // Responses imap-next still holds (an AUTHENTICATE's tagged reply); any
        // commands after a LOGOUT, STARTTLS or COMPRESS are dropped.
        if session.close || switching(session) {
            loop {
                match server.next() {
                    Err(Interrupt::Io(Io::Output(bytes))) => session.out.extend_from_slice(&bytes),
                    Ok(Event::ResponseSent { .. } | Event::GreetingSent { .. }) => {}
                    _ => break,
                }
            }
        }
        if !session.out.is_empty() {
            let written = tokio::time::timeout(timeout, async {
                stream.write_all(&session.out).await?;
                stream.flush().await
            })
            .await;
            match written {
                Ok(result) => result?,
                Err(_) => {
                    tracing::debug!("client did not read its responses in time");
                    return Ok(Flow::Closed);
                }
            }
            session.out.clear();
        }
        if session.close {
            let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.shutdown()).await;
            if refused {
                linger(stream, &mut buf).await;
            }
            return Ok(Flow::Closed);
        }
        if session.starttls {
            return Ok(Flow::StartTls);
        }
        if session.compression == Compression::Starting {
            return Ok(Flow::Compress);
        }
        let idling = session.idling.is_some();
        // RFC 5465 §5: with a NOTIFY in force the server may speak whenever no
        // command is in progress (not in the middle of a line or literal).
        let notifying = session.notify.active() && !gate.in_command() && session.sasl.is_none();
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => return Ok(Flow::Closed),
                Ok(n) => input_len = n,
                Err(e) => return Err(e),
            },
            _ = tokio::time::sleep_until(deadline) => {
                if gate.in_command() {
                    tracing::debug!("command not complete in time");
                    session.untagged("BYE Command not complete in time");
                } else {
                    tracing::debug!("autologout");
                    session.untagged("BYE Autologout; idle for too long");
                }
                session.close = true;
            }
            changed = stop.changed(), if !told_to_stop => {
                if changed.is_err() || *stop.borrow() {
                    told_to_stop = true;
                    session.untagged("BYE Server shutting down");
                    session.close = true;
                }
            }
            heard = changes.recv(), if idling || notifying => {
                let ours = match heard {
                    Ok(account) => session.hears(account),
                    Err(_) => true, // lagged: re-read anyway
                };
                if ours {
                    wake(session, idling, notifying).await;
                }
            }
            _ = poll.tick(), if idling || notifying => wake(session, idling, notifying).await,
        }
    }
}

/// A change was heard (or the poll came round) while the client is not in a
/// command: the IDLE's updates, and what the NOTIFY in force asks for (RFC 5465 §5;
/// the selected mailbox's updates once only).
async fn wake(session: &mut Session<'_>, idling: bool, notifying: bool) {
    if idling {
        session.send_updates(true).await;
    }
    if notifying {
        session.notify_poll(!idling).await;
    }
}

/// Reads and drops what the client still sends, for at most [`LINGER`] and
/// [`LINGER_BYTES`] or until it closes: closing with unread input would reset the
/// connection, and the client could lose the answer it is owed.
async fn linger<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) {
    let until = Instant::now() + LINGER;
    let mut left = LINGER_BYTES;
    while left > 0 {
        match tokio::time::timeout_at(until, stream.read(buf)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => return,
        }
    }
}

/// A command the gate refused: `BAD` (RFC 3501 §7.1.3, with `TOOBIG` where it is
/// about size, RFC 9051 §7.1), then `* BYE` and close when the rest of the input
/// cannot be framed (RFC 7888 §4: a non-synchronising literal too large).
fn refuse(session: &mut Session<'_>, refusal: Refusal) {
    tracing::debug!(
        text = refusal.text,
        close = refusal.close,
        "IMAP command refused"
    );
    match &refusal.tag {
        Some(tag) => session.line(&format!("{tag} BAD {}", refusal.text)),
        None => session.untagged(&format!("BAD {}", refusal.text)),
    }
    if refusal.close {
        session.untagged("BYE Input too large or too deep");
        session.close = true;
    }
}

/// One event from imap-next.
async fn handle(
    session: &mut Session<'_>,
    server: &mut Server,
    event: Event,
    auth_tag: &mut Option<Tag<'static>>,
) {
    match event {
        Event::GreetingSent { .. } | Event::ResponseSent { .. } => {}
        Event::CommandReceived { command } => session.command(command).await,
        Event::CommandAuthenticateReceived {
            command_authenticate,
        } => {
            let tag = command_authenticate.tag;
            let initial = command_authenticate
                .initial_response
                .map(|r| r.declassify().to_vec());
            let step = session
                .authenticate(tag.clone(), &command_authenticate.mechanism, initial)
                .await;
            *auth_tag = Some(tag);
            sasl_reply(server, step, auth_tag);
        }
        Event::AuthenticateDataReceived { authenticate_data } => {
            let step = session.authenticate_data(authenticate_data).await;
            sasl_reply(server, step, auth_tag);
        }
        Event::IdleCommandReceived { tag } => {
            if session.account.is_none() {
                let _ = server.idle_reject(status(tag, "BAD", None, "Log in first"));
                return;
            }
            // Whatever is pending goes out before the continuation.
            session.send_updates(true).await;
            session.idling = Some(tag);
            let cont = CommandContinuationRequest::basic(None, "idling").expect("valid text");
            let _ = server.idle_accept(cont);
        }
        Event::IdleDoneReceived => {
            if let Some(tag) = session.idling.take() {
                let tag = tag.inner().to_owned();
                session
                    .finish(
                        &tag,
                        imap::session::Status::Ok("IDLE terminated".into()),
                        true,
                    )
                    .await;
            }
        }
    }
}

/// Hands an AUTHENTICATE step back to imap-next.
fn sasl_reply(server: &mut Server, step: SaslStep, auth_tag: &mut Option<Tag<'static>>) {
    match step {
        SaslStep::Challenge(data) => {
            let _ = server.authenticate_continue(CommandContinuationRequest::base64(data));
        }
        SaslStep::Done(kind, code, text) => {
            let Some(tag) = auth_tag.take() else { return };
            let _ = server.authenticate_finish(status(tag, kind, code, &text));
        }
    }
}

/// A tagged status for imap-next to send; `code` is the response code's text.
fn status(tag: Tag<'static>, kind: &str, code: Option<String>, text: &str) -> Status<'static> {
    let kind = match kind {
        "OK" => StatusKind::Ok,
        "NO" => StatusKind::No,
        _ => StatusKind::Bad,
    };
    let code = code.map(|c| Code::Other(CodeOther::unvalidated(c.into_bytes())));
    let text = imap_next::imap_types::core::Text::try_from(text.to_owned())
        .unwrap_or_else(|_| imap_next::imap_types::core::Text::try_from("Done").expect("text"));
    Status::Tagged(Tagged {
        tag,
        body: StatusBody { kind, code, text },
    })
}

/// A command imap-next could not frame or parse: `BAD` with the tag if one can be
/// read from the discarded bytes (RFC 3501 §7.1.3), else untagged.
fn framing_error(session: &mut Session<'_>, error: ServerError) {
    let (bytes, text) = match &error {
        ServerError::MalformedMessage { discarded_bytes }
        | ServerError::ExpectedCrlfGotLf { discarded_bytes } => {
            (discarded_bytes.declassify().to_vec(), "Syntax error")
        }
        ServerError::CommandTooLong { discarded_bytes } => (
            discarded_bytes.declassify().to_vec(),
            "[TOOBIG] Command too long",
        ),
        // imap-next has already answered it with the tagged BAD.
        ServerError::LiteralTooLong { .. } => return,
    };
    tracing::debug!(error = %error, "bad IMAP input");
    match command_tag(&bytes) {
        Some(tag) => session.line(&format!("{tag} BAD {text}")),
        None => session.untagged(&format!("BAD {text}")),
    }
}

/// The tag at the start of a (malformed) command line, if it is a valid tag.
fn command_tag(bytes: &[u8]) -> Option<String> {
    imap::framing::tag_of(bytes)
}

#[cfg(test)]
mod tests {
    use super::command_tag;

    #[test]
    fn tags_are_read_from_malformed_lines() {
        assert_eq!(command_tag(b"a1 FROB x\r\n").as_deref(), Some("a1"));
        assert_eq!(command_tag(b"+bad x\r\n"), None);
        assert_eq!(command_tag(b"\r\n"), None);
    }
}
