//! COMPRESS (RFC 4978): the command, and whether the connection is compressed.
//!
//! Where it sits: [`super::Session::command`] dispatches COMPRESS here in the
//! authenticated and selected states (before login it gets the usual "Log in first",
//! so compression never covers the password exchange's TLS negotiation: STARTTLS is
//! only possible before login). An OK sets [`State::Starting`]; the driver
//! (the server's IMAP driver (`server/src/imap_driver.rs`)) writes the tagged OK uncompressed, stops reading commands,
//! and starts over on a `Deflate` (`server/src/imap/deflate.rs`) wrapper of the same stream, then
//! marks the session [`State::On`] (RFC 4978 §3: compression starts right after the
//! OK's CRLF, both ways). A second COMPRESS is `NO [COMPRESSIONACTIVE]` (RFC 4978 §3).
//! TLS-level compression, which the same code would also have to refuse, never
//! happens: rustls does not implement it.

use super::{Session, Status};
use imap_codec::imap_types::extensions::compress::CompressionAlgorithm;

/// The capability this file makes good on.
pub const CAPABILITY: &str = "COMPRESS=DEFLATE";

/// Whether the connection is compressed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum State {
    #[default]
    Off,
    /// COMPRESS was answered OK; the driver switches after writing the reply.
    Starting,
    /// Both directions are DEFLATE.
    On,
}

impl Session<'_> {
    /// `COMPRESS DEFLATE` (imap-codec parses no other mechanism: anything else is a
    /// syntax error, `BAD`, as RFC 4978 §3 asks).
    pub(super) fn compress(&mut self, algorithm: &CompressionAlgorithm) -> Status {
        if self.compression != State::Off {
            return Status::No("[COMPRESSIONACTIVE] DEFLATE is already active".into());
        }
        tracing::debug!(%algorithm, "COMPRESS");
        self.compression = State::Starting;
        Status::Ok("DEFLATE active".into())
    }
}
