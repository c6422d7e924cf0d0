//! Opening a session: TCP connect, the greeting, EHLO (HELO as fallback), STARTTLS as
//! the [`TlsMode`] says, EHLO again, and AUTH when credentials are configured.
//!
//! Where it sits: [`Connection::connect`] is the entry point the delivery router calls
//! for one resolved address; after it, [`Connection::send`] runs transactions.

use std::net::SocketAddr;

use rustls_pki_types::ServerName;
use tracing::{debug, info, warn};

use super::Connection;
use super::auth;
use super::config::{ClientConfig, TlsMode};
use super::extensions::Extensions;
use super::outcome::ClientError;
use super::transcript::Transcript;
use super::wire::{Wire, WireError};

/// Why a step of the session failed.
pub(super) enum StepError {
    /// The stream broke, timed out or carried garbage.
    Wire(WireError),
    /// The server answered, but not as needed (or we declined to go on); the stream is
    /// still usable for a polite QUIT.
    Refused(ClientError),
}

impl From<WireError> for StepError {
    fn from(e: WireError) -> Self {
        StepError::Wire(e)
    }
}

/// How establishing a session failed.
enum Failure {
    /// The TLS handshake failed; the stream is gone.
    Handshake(ClientError),
    /// Any other failure.
    Other(ClientError),
}

impl Connection {
    /// TCP connect to `addr`, greeting, EHLO (HELO fallback on 5xx to EHLO), STARTTLS
    /// per mode (`server_name` for SNI/verification; with
    /// [`TlsMode::Opportunistic`], if the handshake fails, reconnect once without TLS),
    /// EHLO again, AUTH if credentials.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        config: &ClientConfig,
    ) -> Result<Connection, ClientError> {
        connect_with(addr, server_name, config, None).await
    }

    /// Like [`Connection::connect`], and every line of the dialogue (both directions,
    /// AUTH masked, message data included) also goes to `transcript`.
    pub async fn connect_traced(
        addr: SocketAddr,
        server_name: &str,
        config: &ClientConfig,
        transcript: Transcript,
    ) -> Result<Connection, ClientError> {
        connect_with(addr, server_name, config, Some(transcript)).await
    }
}

/// [`Connection::connect`] with an optional transcript hook.
async fn connect_with(
    addr: SocketAddr,
    server_name: &str,
    config: &ClientConfig,
    transcript: Option<Transcript>,
) -> Result<Connection, ClientError> {
    match establish(addr, server_name, config, true, transcript.clone()).await {
        Ok(connection) => Ok(connection),
        Err(Failure::Handshake(e)) if config.tls == TlsMode::Opportunistic => {
            // RFC 7435 §4: opportunistic security falls back to clear text rather
            // than not communicating at all.
            warn!(peer = %addr, error = %e, "TLS failed; reconnecting without TLS");
            match establish(addr, server_name, config, false, transcript).await {
                Ok(connection) => Ok(connection),
                Err(Failure::Handshake(e) | Failure::Other(e)) => Err(e),
            }
        }
        Err(Failure::Handshake(e) | Failure::Other(e)) => Err(e),
    }
}

/// One attempt; `try_starttls` is false on the clear-text retry.
async fn establish(
    addr: SocketAddr,
    server_name: &str,
    config: &ClientConfig,
    try_starttls: bool,
    transcript: Option<Transcript>,
) -> Result<Connection, Failure> {
    let t = &config.timeouts;
    let mut wire = Wire::connect(addr, t.connect)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    if let Some(transcript) = transcript {
        wire.set_transcript(transcript);
    }
    if config.tls == TlsMode::Implicit {
        // RFC 8314 §3.3: the handshake comes before the greeting.
        let name = tls_name(server_name, addr);
        wire = wire
            .start_tls(config.tls_config.clone(), name, t.greeting)
            .await
            .map_err(|e| Failure::Other(e.into()))?;
    }
    let mut extensions = match open(&mut wire, config).await {
        Ok(ext) => ext,
        Err(e) => return Err(abandon(wire, e, config).await),
    };

    let starttls = match wants_starttls(config.tls, try_starttls, &extensions, addr) {
        Ok(wanted) => wanted,
        Err(e) => return Err(abandon(wire, StepError::Refused(e), config).await),
    };
    if starttls {
        match starttls_command(&mut wire, config).await {
            Ok(true) => {
                let name = tls_name(server_name, addr);
                wire = wire
                    .start_tls(config.tls_config.clone(), name, t.ehlo)
                    .await
                    .map_err(|e| Failure::Handshake(e.into()))?;
                // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
                extensions = match ehlo(&mut wire, config, false).await {
                    Ok(ext) => ext,
                    Err(e) => return Err(abandon(wire, e, config).await),
                };
            }
            Ok(false) => {}
            Err(e) => return Err(abandon(wire, e, config).await),
        }
    }

    if let Some((user, password)) = &config.credentials {
        let allowed = wire.is_tls() || config.tls == TlsMode::Disabled;
        let result = if allowed {
            auth::authenticate(&mut wire, &extensions, user, password, t.ehlo).await
        } else {
            Err(StepError::Refused(ClientError::temporary(format!(
                "4.7.4 not sending credentials to {addr} without TLS"
            ))))
        };
        if let Err(e) = result {
            return Err(abandon(wire, e, config).await);
        }
    }

    info!(
        peer = %addr,
        tls = wire.is_tls(),
        authenticated = config.credentials.is_some(),
        "SMTP session established"
    );
    Ok(Connection {
        wire,
        extensions,
        timeouts: config.timeouts,
        reusable: true,
        needs_reset: false,
    })
}

/// Greeting and the first EHLO.
async fn open(wire: &mut Wire, config: &ClientConfig) -> Result<Extensions, StepError> {
    let peer = wire.peer();
    let greeting = wire
        .read_reply(config.timeouts.greeting, "greeting")
        .await?
        .to_server_reply();
    if greeting.code != 220 {
        // RFC 5321 §3.1: 554 means "no SMTP service here"; anything else but 220 is
        // not a usable greeting either.
        return Err(StepError::Refused(ClientError::refused(
            format!("greeting from {peer}"),
            greeting,
        )));
    }
    ehlo(wire, config, true).await
}

/// EHLO; with `helo_fallback`, HELO when EHLO gets a 5xx (RFC 5321 §3.2), giving a
/// session without extensions.
async fn ehlo(
    wire: &mut Wire,
    config: &ClientConfig,
    helo_fallback: bool,
) -> Result<Extensions, StepError> {
    let peer = wire.peer();
    let limit = config.timeouts.ehlo;
    let command = format!("EHLO {}", config.helo_name);
    wire.send_commands(&[command], limit, "EHLO").await?;
    let raw = wire.read_reply(limit, "reply to EHLO").await?;
    if raw.code / 100 == 2 {
        return Ok(Extensions::from_ehlo(&raw.lines));
    }
    let reply = raw.to_server_reply();
    if !(helo_fallback && reply.is_permanent()) {
        return Err(StepError::Refused(ClientError::refused(
            format!("EHLO refused by {peer}"),
            reply,
        )));
    }
    debug!(%peer, %reply, "EHLO refused; trying HELO");
    let command = format!("HELO {}", config.helo_name);
    wire.send_commands(&[command], limit, "HELO").await?;
    let reply = wire
        .read_reply(limit, "reply to HELO")
        .await?
        .to_server_reply();
    if reply.is_positive() {
        Ok(Extensions::default())
    } else {
        Err(StepError::Refused(ClientError::refused(
            format!("HELO refused by {peer}"),
            reply,
        )))
    }
}

/// Whether to send STARTTLS; an error when TLS is required but not offered.
fn wants_starttls(
    mode: TlsMode,
    try_starttls: bool,
    ext: &Extensions,
    peer: SocketAddr,
) -> Result<bool, ClientError> {
    match mode {
        TlsMode::Opportunistic => Ok(try_starttls && ext.starttls),
        TlsMode::WhenOffered => Ok(ext.starttls),
        TlsMode::Required if ext.starttls => Ok(true),
        TlsMode::Required => Err(ClientError::temporary(format!(
            "4.7.4 TLS is required, but was not offered by {peer}"
        ))),
        TlsMode::Implicit | TlsMode::Disabled => Ok(false),
    }
}

/// Sends STARTTLS (RFC 3207 §4); true when the server is ready for the handshake.
/// A refusal is an error when TLS is required, or offered and so expected
/// ([`TlsMode::WhenOffered`]); otherwise the session goes on in clear text (RFC 7435).
async fn starttls_command(wire: &mut Wire, config: &ClientConfig) -> Result<bool, StepError> {
    let peer = wire.peer();
    let limit = config.timeouts.ehlo;
    wire.send_commands(&["STARTTLS".to_string()], limit, "STARTTLS")
        .await?;
    let reply = wire
        .read_reply(limit, "reply to STARTTLS")
        .await?
        .to_server_reply();
    if reply.code == 220 {
        return Ok(true);
    }
    if matches!(config.tls, TlsMode::Required | TlsMode::WhenOffered) || reply.is_closing() {
        let mut e = ClientError::refused(format!("4.7.5 STARTTLS refused by {peer}"), reply);
        e.permanent = false;
        return Err(StepError::Refused(e));
    }
    warn!(%peer, %reply, "STARTTLS refused; going on without TLS");
    Ok(false)
}

/// Ends a failed attempt: a polite QUIT when the stream still works, then close.
async fn abandon(mut wire: Wire, error: StepError, config: &ClientConfig) -> Failure {
    let error = match error {
        StepError::Wire(e) => e.into(),
        StepError::Refused(e) => {
            let limit = config.timeouts.quit;
            if wire
                .send_commands(&["QUIT".to_string()], limit, "QUIT")
                .await
                .is_ok()
            {
                let _ = wire.read_reply(limit.min(short()), "reply to QUIT").await;
            }
            e
        }
    };
    wire.close(config.timeouts.quit.min(short())).await;
    Failure::Other(error)
}

/// How long to linger for a QUIT reply when abandoning a session.
fn short() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}

/// The name for SNI and certificate checks: the host name without a trailing dot, or
/// the address when the name is not a valid DNS name.
fn tls_name(server_name: &str, addr: SocketAddr) -> ServerName<'static> {
    let name = server_name.trim_end_matches('.');
    ServerName::try_from(name.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()))
}
