//! Sans-I/O protocol state machines.
//!
//! Where it sits: between the network drivers in `server` (which own sockets, TLS,
//! timers and the store) and the rest of the flow. A session is fed bytes and answers,
//! and returns what the driver must do: write a reply, start TLS, answer a query, take a
//! finished message, close. Nothing here touches a socket, a file or a clock, so every
//! rule is tested as a transcript (see `smtp::server::tests`).
//!
//! Security stance: all input is untrusted; every limit (line length, message size,
//! recipients, failed logins, bad commands) is enforced here and named in the policy.

pub mod pop3;
pub mod reply;
pub mod sasl;
pub mod smtp;

#[cfg(test)]
mod testing;

pub use reply::Reply;
