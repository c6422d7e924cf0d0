//! Where the body of the message being received goes: the [`BodySpool`] the session
//! appends DATA and BDAT octets to.
//!
//! The session never holds a whole message itself: the driver decides where the octets
//! live by putting a [`SpoolFactory`] in the [`super::Policy`]. The server's factory
//! (`server::spool`) keeps a small message in memory and moves a large one to an
//! unnamed temp file in the data directory, so a thousand slow clients each half-way
//! through a 25 MiB message cost disk, not RAM. Tests and fuzzing use
//! [`SpoolFactory::memory`].
//!
//! Going through a trait keeps the session free of I/O of its own (DESIGN §2): an
//! append that fails (disk full) is reported back as an error, and the session refuses
//! the message with `451 4.3.0`, never a lost or partial message.

use std::fmt;
use std::io;
use std::sync::Arc;

/// The octets of one message in progress.
pub trait BodySpool: Send {
    /// Appends octets.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Octets appended so far.
    fn len(&self) -> u64;
    /// Nothing appended yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every octet, read back into memory. The driver calls this once the message is
    /// complete, inside its budget of messages being processed at once.
    fn into_bytes(self: Box<Self>) -> io::Result<Vec<u8>>;
}

/// A spool in memory: everything in one `Vec`.
#[derive(Debug, Default)]
pub struct MemorySpool(Vec<u8>);

impl BodySpool for MemorySpool {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn into_bytes(self: Box<Self>) -> io::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Makes a fresh [`BodySpool`] for each message.
#[derive(Clone)]
pub struct SpoolFactory(Arc<dyn Fn() -> Box<dyn BodySpool> + Send + Sync>);

impl SpoolFactory {
    /// A factory of [`MemorySpool`]s.
    pub fn memory() -> Self {
        SpoolFactory::new(|| Box::new(MemorySpool::default()))
    }

    /// A factory calling `make`.
    pub fn new(make: impl Fn() -> Box<dyn BodySpool> + Send + Sync + 'static) -> Self {
        SpoolFactory(Arc::new(make))
    }

    /// A fresh, empty spool.
    pub fn make(&self) -> Box<dyn BodySpool> {
        (self.0)()
    }
}

impl fmt::Debug for SpoolFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpoolFactory")
    }
}

/// A message body held by a spool, as handed to the driver in
/// [`super::Accepted::body`].
pub struct Body(Box<dyn BodySpool>);

impl Body {
    /// Wraps a spool.
    pub fn new(spool: Box<dyn BodySpool>) -> Self {
        Body(spool)
    }

    /// Octets in the body.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// The body is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every octet, read back (see [`BodySpool::into_bytes`]).
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        self.0.into_bytes()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} octets)", self.len())
    }
}
