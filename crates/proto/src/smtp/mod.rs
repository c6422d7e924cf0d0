//! SMTP (RFC 5321) state machines.

pub mod server;
