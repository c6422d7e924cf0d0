//! An optional hook that sees the whole SMTP dialogue of one connection, line by line,
//! in both directions, for a user-facing transcript (`postie send --debug`).
//!
//! Where it sits: `wire` calls the hook for every line it writes or reads, and for
//! a few notes of its own (connected, TLS established). The relay never installs one;
//! only [`super::Connection::connect_traced`] does.
//!
//! Security: secrets never reach the hook. AUTH lines and their continuation responses
//! (RFC 4954 §4) arrive already masked, as `AUTH PLAIN <credentials>`.

use std::sync::Arc;

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A line we sent to the server (a command, or a line of message data).
    ClientToServer,
    /// A line the server sent us (a reply line).
    ServerToClient,
    /// Not part of the dialogue: what happened underneath (connected, TLS started).
    Note,
}

/// The hook: called with each line, without its CRLF.
pub type Transcript = Arc<dyn Fn(Direction, &str) + Send + Sync>;
