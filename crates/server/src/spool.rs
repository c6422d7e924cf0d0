//! The server's [`BodySpool`]: message data arriving over SMTP stays in memory up to
//! `smtp.spool_threshold` octets, then moves to an unnamed temp file under
//! `data_dir/spool` (`O_TMPFILE` where the file system has it: the file has no name,
//! so nothing is left behind by a crash, and the kernel frees it when the session drops
//! it).
//!
//! Where it sits: [`crate::listen`] makes one [`Spooler`] at start and gives each
//! connection a copy with the threshold of its configuration snapshot
//! ([`Spooler::with_threshold`]), so `smtp.spool_threshold` takes effect on reload;
//! the SMTP driver puts its factory into each session's policy. The session appends every DATA or BDAT octet;
//! when the message is complete, the driver reads it back (`into_bytes`) on a blocking
//! thread, inside the `processing` budget of [`crate::listen::Shared`].
//!
//! Security stance: writes files in the data directory only, with mode 0600 (tempfile's
//! default); appends are plain buffered writes of at most one read's worth (16 KiB) to
//! the page cache, cheap enough for an async worker. A write error (disk full) is
//! returned to the session, which refuses the message with `451 4.3.0`.

use proto::smtp::server::{BodySpool, SpoolFactory};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Makes spools for one server.
#[derive(Debug, Clone)]
pub(crate) struct Spooler {
    dir: Arc<PathBuf>,
    threshold: u64,
}

impl Spooler {
    /// Creates `data_dir/spool` (mode 0700) if needed.
    pub fn new(data_dir: &Path, threshold: u64) -> io::Result<Self> {
        let dir = data_dir.join("spool");
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Spooler {
            dir: Arc::new(dir),
            threshold,
        })
    }

    /// The same spool directory with another threshold (a connection's, from its
    /// configuration snapshot).
    pub fn with_threshold(&self, threshold: u64) -> Self {
        Spooler {
            dir: self.dir.clone(),
            threshold,
        }
    }

    /// The factory sessions use.
    pub fn factory(&self) -> SpoolFactory {
        let spooler = self.clone();
        SpoolFactory::new(move || {
            Box::new(FileSpool {
                memory: Vec::new(),
                file: None,
                len: 0,
                spooler: spooler.clone(),
            })
        })
    }
}

/// The size of the pieces a body in memory is kept in.
const PIECE: usize = 16 * 1024;

/// Memory first, then a temp file.
struct FileSpool {
    /// The body while it is small, in pieces of [`PIECE`] octets: a body costs its size
    /// rounded up to a piece, where one growing `Vec` would reserve up to twice its size
    /// (bench/limits: 200 KiB of data cost 256 KiB).
    memory: Vec<Vec<u8>>,
    file: Option<io::BufWriter<File>>,
    len: u64,
    spooler: Spooler,
}

impl FileSpool {
    fn keep_in_memory(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let piece = match self.memory.last_mut() {
                Some(piece) if piece.len() < PIECE => piece,
                _ => {
                    self.memory.push(Vec::with_capacity(PIECE));
                    self.memory.last_mut().expect("just pushed")
                }
            };
            let take = (PIECE - piece.len()).min(bytes.len());
            piece.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
    }
}

impl BodySpool for FileSpool {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.len + bytes.len() as u64 > self.spooler.threshold {
            // 16 KiB: one read's worth, so a spooled connection costs little memory
            // (bench/limits) while the DATA reader's line-sized appends are batched.
            let mut file = io::BufWriter::with_capacity(
                16 * 1024,
                tempfile::tempfile_in(self.spooler.dir.as_path())?,
            );
            for piece in std::mem::take(&mut self.memory) {
                file.write_all(&piece)?;
            }
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(bytes)?,
            None => self.keep_in_memory(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn into_bytes(self: Box<Self>) -> io::Result<Vec<u8>> {
        let Some(file) = self.file else {
            return Ok(self.memory.concat());
        };
        let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        if bytes.len() as u64 != self.len {
            return Err(io::Error::other("the spool file lost data"));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_stay_in_memory_large_ones_go_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let spooler = Spooler::new(dir.path(), 10).unwrap();
        let factory = spooler.factory();

        let mut small = factory.make();
        small.append(b"0123456789").unwrap();
        assert_eq!(small.into_bytes().unwrap(), b"0123456789");

        // In memory a body costs its size rounded up to a piece, in any number of
        // appends of any size, and comes back whole.
        let spooler = Spooler::new(dir.path(), 300_000).unwrap();
        let mut spool = FileSpool {
            memory: Vec::new(),
            file: None,
            len: 0,
            spooler,
        };
        let mut want = Vec::new();
        for i in 0..2000usize {
            let line = vec![b'a' + (i % 26) as u8; i % 150];
            spool.append(&line).unwrap();
            want.extend_from_slice(&line);
        }
        assert!(spool.file.is_none());
        let reserved: usize = spool.memory.iter().map(Vec::capacity).sum();
        assert!(
            reserved < want.len() + PIECE,
            "{reserved} for {}",
            want.len()
        );
        assert_eq!(Box::new(spool).into_bytes().unwrap(), want);

        let mut large = factory.make();
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let line = format!("line {i}\r\n");
            large.append(line.as_bytes()).unwrap();
            want.extend_from_slice(line.as_bytes());
        }
        assert_eq!(large.len(), want.len() as u64);
        assert_eq!(large.into_bytes().unwrap(), want);
        // Unnamed files: nothing is left in the directory.
        assert_eq!(
            std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
            0
        );
    }

    #[test]
    fn another_threshold_uses_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let memory_only = Spooler::new(dir.path(), 1 << 20).unwrap();
        let to_disk = memory_only.with_threshold(4);
        assert_eq!(to_disk.dir, memory_only.dir);
        let mut spool = to_disk.factory().make();
        spool.append(b"more than four").unwrap();
        assert_eq!(spool.into_bytes().unwrap(), b"more than four");
        let mut spool = FileSpool {
            memory: Vec::new(),
            file: None,
            len: 0,
            spooler: to_disk,
        };
        spool.append(b"more than four").unwrap();
        assert!(spool.file.is_some(), "past the new threshold: on disk");
        let mut spool = FileSpool {
            memory: Vec::new(),
            file: None,
            len: 0,
            spooler: memory_only,
        };
        spool.append(b"more than four").unwrap();
        assert!(spool.file.is_none(), "the old one keeps its threshold");
    }

    #[test]
    fn the_spool_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Spooler::new(dir.path(), 10).unwrap();
        let mode = std::fs::metadata(dir.path().join("spool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
