//! SMTP authentication towards a smarthost (RFC 4954) with the PLAIN (RFC 4616) or,
//! when PLAIN is not offered, the LOGIN mechanism.
//!
//! Where it sits: the last step of [`super::session`], after TLS; the caller has already
//! checked that the session is encrypted (or that TLS was disabled on purpose).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tracing::debug;

use super::extensions::Extensions;
use super::outcome::ClientError;
use super::reply::ServerReply;
use super::session::StepError;
use super::wire::Wire;

/// Authenticates as `user`; a `535` (or any 5xx) is a permanent error, a 4xx a
/// temporary one.
pub(super) async fn authenticate(
    wire: &mut Wire,
    ext: &Extensions,
    user: &str,
    password: &str,
    limit: Duration,
) -> Result<(), StepError> {
    let peer = wire.peer();
    let reply = if ext.offers_auth("PLAIN") {
        plain(wire, user, password, limit).await?
    } else if ext.offers_auth("LOGIN") {
        login(wire, user, password, limit).await?
    } else {
        return Err(StepError::Refused(ClientError::temporary(format!(
            "4.7.4 {peer} offers neither AUTH PLAIN nor AUTH LOGIN"
        ))));
    };
    if reply.code == 235 {
        debug!(%peer, user, "authenticated");
        Ok(())
    } else {
        Err(StepError::Refused(ClientError::refused(
            format!("authentication as {user} with {peer} failed"),
            reply,
        )))
    }
}

/// `AUTH PLAIN` with the initial response (RFC 4954 §4): `\0user\0password`.
async fn plain(
    wire: &mut Wire,
    user: &str,
    password: &str,
    limit: Duration,
) -> Result<ServerReply, StepError> {
    let token = BASE64.encode(format!("\0{user}\0{password}"));
    wire.send_secret(
        &format!("AUTH PLAIN {token}"),
        "AUTH PLAIN <credentials>",
        limit,
        "AUTH",
    )
    .await?;
    let reply = wire.read_reply(limit, "reply to AUTH").await?;
    if reply.code != 334 {
        return Ok(reply.to_server_reply());
    }
    // The server ignored the initial response and asks for it (RFC 4954 §4).
    wire.send_secret(&token, "<credentials>", limit, "AUTH")
        .await?;
    Ok(wire
        .read_reply(limit, "reply to AUTH")
        .await?
        .to_server_reply())
}

/// `AUTH LOGIN`: user name and password, each after a 334 challenge.
async fn login(
    wire: &mut Wire,
    user: &str,
    password: &str,
    limit: Duration,
) -> Result<ServerReply, StepError> {
    wire.send_commands(&["AUTH LOGIN".to_string()], limit, "AUTH")
        .await?;
    for secret in [user, password] {
        let reply = wire.read_reply(limit, "reply to AUTH").await?;
        if reply.code != 334 {
            return Ok(reply.to_server_reply());
        }
        wire.send_secret(&BASE64.encode(secret), "<credentials>", limit, "AUTH")
            .await?;
    }
    Ok(wire
        .read_reply(limit, "reply to AUTH")
        .await?
        .to_server_reply())
}
