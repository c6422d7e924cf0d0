//! The outbound SMTP client (RFC 5321): one connection to one mail server, carrying one
//! or more mail transactions and reporting a result for every recipient.
//!
//! Where it sits: the delivery router resolves a destination ([`crate::dns`]), picks a
//! TLS configuration ([`crate::tls`]), calls [`Connection::connect`] for an address and
//! [`Connection::send`] for each message bound there, and turns the
//! [`RecipientResult`]s into queue updates and delivery status notifications.
//!
//! We write the client ourselves rather than use mail-send because we need a result
//! per recipient under pipelining (RFC 2920), BDAT (RFC 3030) and the DSN parameters
//! (RFC 3461), and control over what is refused before sending (SMTPUTF8, SIZE,
//! 8BITMIME). Replies are parsed here too (a few lines in [`reply`]) so that every line
//! of a multi-line reply loses its enhanced status code and bare LF is tolerated.
//!
//! The parts, in the order a session uses them: [`config`] (what the caller asks for),
//! `wire` (bytes, deadlines, TLS upgrade), `session` (greeting, EHLO, STARTTLS, AUTH),
//! [`extensions`] (what EHLO advertised), [`transaction`] (checks and MAIL/RCPT lines),
//! `send` (the transaction on the wire) and [`outcome`] (what comes back).
//! [`transcript`] is an optional hook that sees the whole dialogue (`postie send
//! --debug`).

mod auth;
mod body;
pub mod config;
pub mod extensions;
pub mod outcome;
pub mod reply;
mod send;
mod session;
pub mod transaction;
pub mod transcript;
mod wire;

use std::fmt;
use std::net::SocketAddr;

use tracing::debug;

pub use config::{ClientConfig, Timeouts, TlsMode};
pub use extensions::Extensions;
pub use outcome::{ClientError, RecipientResult};
pub use reply::ServerReply;
pub use transaction::Transaction;
pub use transcript::{Direction, Transcript};

use wire::Wire;

/// An open SMTP session with one server, after greeting, EHLO, TLS and AUTH.
pub struct Connection {
    wire: Wire,
    extensions: Extensions,
    timeouts: Timeouts,
    /// False once the connection broke, timed out or the server said 421.
    reusable: bool,
    /// A transaction was left unfinished on the server: RSET before the next.
    needs_reset: bool,
}

impl Connection {
    /// True when another transaction may be sent on this connection.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// What the server advertised in its (last) EHLO reply.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// The server advertised DSN, so it passes the NOTIFY/RET/ENVID/ORCPT requests on;
    /// when not, a caller that was asked for NOTIFY=SUCCESS reports "relayed"
    /// (RFC 3461 §5.2.2).
    pub fn dsn_passed_on(&self) -> bool {
        self.extensions.dsn
    }

    /// The session is encrypted.
    pub fn is_tls(&self) -> bool {
        self.wire.is_tls()
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.wire.peer()
    }

    /// QUIT (RFC 5321 §4.1.1.10), a short wait for the 221, close. Errors are ignored.
    pub async fn quit(mut self) {
        let limit = self.timeouts.quit;
        if self.reusable
            && self
                .wire
                .send_commands(&["QUIT".to_string()], limit, "QUIT")
                .await
                .is_ok()
        {
            let reply = self.wire.read_reply(limit, "reply to QUIT").await;
            debug!(peer = %self.peer(), ok = reply.is_ok(), "QUIT");
        }
        self.wire.close(limit).await;
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer())
            .field("tls", &self.is_tls())
            .field("extensions", &self.extensions)
            .field("reusable", &self.reusable)
            .finish()
    }
}
