//! Delivery status notifications: the reports Postie sends back to a message's sender
//! when delivery to some recipient failed, is delayed, or (on request) succeeded.
//!
//! Where it sits: after delivery. The queue runner learns each recipient's outcome from
//! the local delivery agent or the outbound relay, asks [`wanted`] whether the sender
//! asked to hear about it (RFC 3461 §6.2, the `NOTIFY=` recorded in
//! [`message::dsn::RecipientDsn`]), fills in a [`Report`] and queues what [`render()`]
//! returns with a null reverse-path, so that a report is never itself reported on.
//!
//! The output is an RFC 6522 `multipart/report` carrying an RFC 3464 delivery-status
//! part, or for internationalised mail the RFC 6533 `global` variants. Nothing here does
//! I/O or reads the clock: the caller passes times in as unix seconds.

mod action;
mod address;
mod field;
mod human;
mod render;
mod report;
mod returned;
mod status;

pub use action::{Action, wanted};
pub use render::render;
pub use report::{RecipientReport, Report, needs_smtputf8, subject};
