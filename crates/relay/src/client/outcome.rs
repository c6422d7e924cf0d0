//! What the client reports back: a result per recipient of a transaction, or an error
//! for the connection as a whole.
//!
//! Where it sits: returned by [`super::Connection::connect`] and
//! [`super::Connection::send`] to the delivery router, which turns them into queue
//! updates and delivery status notifications.

use std::fmt;

use super::reply::ServerReply;
use super::wire::WireError;

/// The outcome for one recipient of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientResult {
    /// The server took responsibility (RFC 5321 §6.1); the reply is the one to the end
    /// of data.
    Accepted(ServerReply),
    /// Try again later (4xx, or the connection failed before the outcome was known).
    Temporary(ServerReply),
    /// Refused for good (5xx, or the message cannot be sent to this server as it is).
    Permanent(ServerReply),
}

impl RecipientResult {
    /// The outcome a reply code means: 2xx accepted, 5xx permanent, anything else
    /// temporary.
    pub fn from_reply(reply: ServerReply) -> Self {
        match reply.class() {
            2 => RecipientResult::Accepted(reply),
            5 => RecipientResult::Permanent(reply),
            _ => RecipientResult::Temporary(reply),
        }
    }

    /// The reply behind the outcome.
    pub fn reply(&self) -> &ServerReply {
        match self {
            RecipientResult::Accepted(r)
            | RecipientResult::Temporary(r)
            | RecipientResult::Permanent(r) => r,
        }
    }

    /// True for [`RecipientResult::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, RecipientResult::Accepted(_))
    }
}

/// A failure of the connection as a whole: nothing was decided for any recipient, so
/// the caller may try another host (when `permanent` is false) or give up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// The server refused for good (e.g. `554` greeting, `535` to AUTH). For MX
    /// delivery a permanent connection error still means "try the next host".
    pub permanent: bool,
    /// What happened, starting with an enhanced status code (RFC 3463), naming the peer.
    pub message: String,
    /// The server's reply, when the error is one.
    pub reply: Option<ServerReply>,
}

impl ClientError {
    pub(crate) fn temporary(message: impl Into<String>) -> Self {
        ClientError {
            permanent: false,
            message: message.into(),
            reply: None,
        }
    }

    /// An error made of a refusal: permanent when the reply is 5xx.
    pub(crate) fn refused(context: impl fmt::Display, reply: ServerReply) -> Self {
        ClientError {
            permanent: reply.is_permanent(),
            message: format!("{context}: {reply}"),
            reply: Some(reply),
        }
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        ClientError::temporary(e.to_string())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}
