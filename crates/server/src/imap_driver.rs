//! The IMAP driver: owns one client connection, lets imap-next's server state machine
//! frame its bytes into commands (literals with `+` continuations and LITERAL+, the
//! AUTHENTICATE exchange, IDLE ... DONE), and hands each command to an
//! [`imap::Session`](crate::imap::Session), whose responses it writes.
//!
//! Where it sits: started by [`crate::listen`] for the `imap` (STARTTLS, RFC 3501
//! §6.2.1) and `imaps` (implicit TLS, RFC 8314) listeners. It also owns the timers and
//! signals: the autologout timer (`imap.idle_timeout_secs`, RFC 9051 §5.4: `* BYE`),
//! the server's stop channel (`* BYE` then close), and during IDLE (RFC 2177) the
//! change notifications of [`crate::imap::changes`] plus a one-second poll of the
//! store, after which the session writes its untagged updates at once.
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

use crate::imap::Session;
use crate::imap::auth::SaslStep;
use crate::imap::compress::State as Compression;
use crate::imap::deflate::Deflate;
use crate::listen::Shared;
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
    let mut session = Session::new(shared, peer, implicit_tls);
    if implicit_tls {
        // RFC 8314 §3: the handshake comes before the greeting.
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
        run_compressible(&mut session, &mut tls, true).await?;
        return Ok(());
    }
    let mut socket = socket;
    if run_compressible(&mut session, &mut socket, true).await? == Flow::StartTls {
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.accept(socket)).await??;
        session.tls = true;
        session.starttls = false;
        tracing::debug!("STARTTLS done");
        run_compressible(&mut session, &mut tls, false).await?;
    }
    Ok(())
}

/// Runs the session on `stream`, and on over DEFLATE if it asks for COMPRESS
/// (RFC 4978); returns how the run on the original stream ended otherwise.
async fn run_compressible<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<'_>,
    stream: &mut S,
    greet: bool,
) -> std::io::Result<Flow> {
    let flow = run(session, stream, greet).await?;
    if flow != Flow::Compress {
        return Ok(flow);
    }
    session.compression = Compression::On;
    tracing::debug!("COMPRESS=DEFLATE on");
    let mut deflate = Deflate::new(stream);
    // STARTTLS is refused after login, so this run can only end closed.
    run(session, &mut deflate, false).await
}

/// A fresh imap-next server state machine with our limits; its own greeting is
/// swallowed (the session writes one with the capability list).
fn new_server(shared: &Shared) -> Server {
    let mut options = Options::default();
    options.crlf_relaxed = true;
    options.max_literal_size = shared.config.imap.max_literal_size;
    // One literal plus a generous command line around it.
    options.max_command_size = shared
        .config
        .imap
        .max_literal_size
        .saturating_add(64 * 1024);
    let _ = options.set_literal_accept_text("Ready for literal data".into());
    let _ = options.set_literal_reject_text("Literal too large (APPENDLIMIT)".into());
    let greeting = Greeting::ok(None, "Postie ready").expect("valid greeting");
    let mut server = Server::new(options, greeting);
    // The greeting's bytes, then its GreetingSent event.
    while let Err(Interrupt::Io(Io::Output(_))) = server.next() {}
    server
}

/// Runs the session on `stream` until it closes or asks for TLS.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session<'_>,
    stream: &mut S,
    greet: bool,
) -> std::io::Result<Flow> {
    let shared = session.shared;
    let mut server = new_server(shared);
    if greet {
        let caps = session.capabilities();
        session.untagged(&format!("OK [CAPABILITY {caps}] Postie ready"));
    }
    let idle_timeout = Duration::from_secs(shared.config.imap.idle_timeout_secs);
    let mut deadline = Instant::now() + idle_timeout;
    let mut stop = shared.stop.clone();
    let mut told_to_stop = false;
    let mut changes = shared.mail_changes.subscribe();
    let mut poll = tokio::time::interval(IDLE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut auth_tag: Option<Tag<'static>> = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !told_to_stop && *stop.borrow() {
            told_to_stop = true;
            session.untagged("BYE Server shutting down");
            session.close = true;
        }
        let switching = |s: &Session<'_>| s.starttls || s.compression == Compression::Starting;
        // Everything the bytes so far make possible.
        while !session.close && !switching(session) {
            match server.next() {
                Ok(event) => handle(session, &mut server, event, &mut auth_tag).await,
                Err(Interrupt::Io(Io::Output(bytes))) => session.out.extend_from_slice(&bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) => break,
                Err(Interrupt::Error(e)) => {
                    // ESEARCH and LIST-EXTENDED are parsed from the raw line.
                    if !session.extended_command(&e).await {
                        framing_error(session, e);
                    }
                }
            }
        }
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
            stream.write_all(&session.out).await?;
            stream.flush().await?;
            session.out.clear();
        }
        if session.close {
            let _ = stream.shutdown().await;
            return Ok(Flow::Closed);
        }
        if session.starttls {
            return Ok(Flow::StartTls);
        }
        if session.compression == Compression::Starting {
            return Ok(Flow::Compress);
        }
        let idling = session.idling.is_some();
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => return Ok(Flow::Closed),
                Ok(n) => {
                    deadline = Instant::now() + idle_timeout;
                    server.enqueue_input(&buf[..n]);
                }
                Err(e) => return Err(e),
            },
            _ = tokio::time::sleep_until(deadline) => {
                tracing::debug!("autologout");
                session.untagged("BYE Autologout; idle for too long");
                session.close = true;
            }
            changed = stop.changed(), if !told_to_stop => {
                if changed.is_err() || *stop.borrow() {
                    told_to_stop = true;
                    session.untagged("BYE Server shutting down");
                    session.close = true;
                }
            }
            heard = changes.recv(), if idling => {
                let ours = match heard {
                    Ok(account) => account == session.account_id().0,
                    Err(_) => true, // lagged: re-read anyway
                };
                if ours {
                    session.send_updates(true).await;
                }
            }
            _ = poll.tick(), if idling => session.send_updates(true).await,
        }
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
                        crate::imap::Status::Ok("IDLE terminated".into()),
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
    let end = bytes.iter().position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(&bytes[..end]).ok()?;
    Tag::try_from(tag).ok().map(|t| t.inner().to_owned())
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
