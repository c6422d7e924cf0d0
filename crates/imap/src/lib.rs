//! The IMAP4rev1 protocol layer (RFC 3501, RFC 9051): everything about IMAP that
//! needs no socket and no storage backend.
//!
//! Where it sits: the server's IMAP driver reads bytes from the connection, lets
//! [`imap-next`](imap_next) frame them into commands (literals, continuation requests,
//! IDLE, AUTHENTICATE) and hands each to the [`session`], which answers it through the
//! storage interface (`store-api`'s `Store`) and the small [`session::services`]
//! trait the server implements. [`selected`] keeps a selected mailbox's sequence numbers, UIDs and pending
//! updates (pure code); [`fetch`] renders ENVELOPE, BODYSTRUCTURE and `BODY[section]`
//! from a message parsed with mail-parser; [`summary`] is what a message's parse leaves
//! for later (ENVELOPE, BODYSTRUCTURE, SEARCH and SORT keys), computed once when it is
//! filed and kept by the store; [`mutf7`] is the modified UTF-7 mailbox-name
//! codec (RFC 3501 §5.1.3); [`acl`] the access rights and shared-mailbox names
//! (RFC 4314, RFC 2342); [`framing`] frames and limits the client's bytes before
//! imap-next sees them; [`wildcard`] matches LIST patterns in linear time.

pub mod acl;
pub mod fetch;
pub mod framing;
pub mod mutf7;
pub mod selected;
pub mod sequence;
pub mod session;
pub mod summary;
pub mod thread;
pub mod wildcard;
