//! Domain types shared by every part of Postie.
//!
//! Where it sits: at the bottom of the flow. The SMTP session (`proto`) produces an
//! [`Envelope`] and a body; the queue and the store keep them; delivery reads them back.
//! Nothing here does I/O: no sockets, no files, no clock except where a caller passes
//! the time in.
//!
//! Security stance: every parser here takes untrusted network input and returns a typed
//! error rather than panicking.

pub mod address;
pub mod capture;
pub mod domain;
pub mod dsn;
pub mod envelope;
pub mod headers;
pub mod queue_id;
pub mod stuffing;

pub use address::{Address, AddressError, Domain};
pub use dsn::{Dsn, Notify, RecipientDsn, Ret};
pub use envelope::{BodyType, Envelope};
pub use queue_id::QueueId;
