//! The server's IMAP pieces besides the driver ([`crate::imap_driver`]): the change
//! notices IDLE and NOTIFY wait on ([`changes`]), the DEFLATE stream of COMPRESS
//! ([`deflate`]), and the transcript tests of the session and driver together.
//!
//! The session itself (every command, the selected-mailbox state, ACL, ...) is
//! `imap::session` in `crates/imap`; it reaches the server only through
//! `imap::session::services::Services`, which [`crate::imap_services`] implements.

pub(crate) mod changes;
pub(crate) mod deflate;
#[cfg(test)]
mod transcript;
#[cfg(test)]
mod transcripts;
