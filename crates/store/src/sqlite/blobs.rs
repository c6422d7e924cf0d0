//! Message bodies as files: `blobs/xx/<id>` under the data directory, where `<id>` is 32
//! lower-case hex digits and `xx` its first two. New ids take `xx` from the current
//! minute (and 120 random bits after it), so the files of one batch share a folder that
//! is synced once; over 256 minutes the folders take turns.
//!
//! Where it sits: under [`super::SqliteStore`]. `enqueue` writes a body too large to go
//! inline here without syncing it ([`Blobs::write_unsynced`]); the writer thread makes
//! every such file of a batch durable (each file's data, then each folder once) before
//! the transaction that names them commits (`super::writer`). Mailbox messages
//! delivered from that queue entry share the same file, so a body is stored once
//! however many local recipients it has. A file is deleted only after the commit that
//! removed the last row naming it.
//!
//! Invariants: a file is written once (`create_new`) and never modified. Reads check the
//! length against the one recorded in the database; a missing or wrong-sized file is
//! [`StoreError::Damaged`], as is an id that is not 32 hex digits (a damaged row must
//! never become a path outside this folder).
//!
//! Security stance: writes and deletes files only inside `blobs/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{Result, StoreError};

/// Length of a blob id in hex digits.
const ID_LEN: usize = 32;

/// The folder of body files.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    root: PathBuf,
}

/// A fresh blob id: the folder from the current minute, then 120 random bits (hex).
pub(crate) fn new_id() -> String {
    let minute = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0);
    id_at(minute, rand::random::<u128>())
}

/// The id [`new_id`] makes in `minute` (since the epoch) from `random`'s top 120 bits.
fn id_at(minute: u64, random: u128) -> String {
    format!("{:02x}{:030x}", minute % 256, random >> 8)
}

/// True when `id` has the shape [`new_id`] makes.
pub(crate) fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Maps an I/O error to the store's error, naming what was being done.
fn io_err(what: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

/// Fsyncs a directory so a file created or removed in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("cannot fsync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A folder builder that makes folders for the owner only (0700 on Unix, whatever the
/// umask): message bodies are private mail.
fn private_dir_builder() -> fs::DirBuilder {
    #[allow(unused_mut)]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// A body file written by [`Blobs::write_unsynced`] whose data and name are not yet on
/// stable storage.
#[derive(Debug)]
pub(crate) struct Unsynced {
    file: File,
    path: PathBuf,
    dir: PathBuf,
}

impl Unsynced {
    /// Makes the file's data durable (fdatasync: for a new file that includes its size).
    pub(crate) fn sync_data(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| io_err("cannot fsync", &self.path, e))
    }

    /// The folder whose fsync makes the file's name durable.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Asks the kernel to start writing `file`'s dirty pages now, without waiting: a hint
/// (errors are ignored; the fsync that follows reports them).
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range only reads its integer arguments; the descriptor is
        // open for as long as `file` is borrowed.
        let _ =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

impl Blobs {
    /// Uses (and creates, durably) `root` as the blob folder.
    pub(crate) fn open(root: PathBuf) -> Result<Self> {
        if !root.is_dir() {
            private_dir_builder()
                .recursive(true)
                .create(&root)
                .map_err(|e| io_err("cannot create", &root, e))?;
            if let Some(parent) = root.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(Blobs { root })
    }

    /// The file that holds blob `id`; `Damaged` when the id is malformed.
    pub(crate) fn path(&self, id: &str) -> Result<PathBuf> {
        if !valid_id(id) {
            return Err(StoreError::Damaged(format!("malformed body id {id:?}")));
        }
        Ok(self.root.join(&id[..2]).join(id))
    }

    /// Writes a new blob and makes it durable: the file's data (fsync) and its name
    /// (fsync of the folder, and of `blobs/` when the subfolder was just made). Blocking.
    #[cfg(test)]
    pub(crate) fn write(&self, id: &str, data: &[u8]) -> Result<()> {
        let file = self.write_unsynced(id, data)?;
        file.sync_data()?;
        sync_dir(file.dir())
    }

    /// Writes a new blob but leaves its data and its name to be synced by the caller
    /// ([`Unsynced::sync_data`], then [`sync_dir`] of [`Unsynced::dir`]), so that one
    /// batch of files costs one pass of syncs. A subfolder made here is synced into
    /// `blobs/` at once (256 of them at most, ever). Writeback of the data starts now
    /// (on Linux), so the later sync mostly waits for I/O already under way. Blocking.
    pub(crate) fn write_unsynced(&self, id: &str, data: &[u8]) -> Result<Unsynced> {
        let path = self.path(id)?;
        let dir = self.root.join(&id[..2]);
        if !dir.is_dir() {
            match private_dir_builder().create(&dir) {
                Ok(()) => sync_dir(&self.root)?,
                // Another writer made it at the same moment.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err("cannot create", &dir, e)),
            }
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| io_err("cannot create", &path, e))?;
        file.write_all(data)
            .map_err(|e| io_err("cannot write", &path, e))?;
        start_writeback(&file);
        Ok(Unsynced { file, path, dir })
    }

    /// Reads blob `id`, which must be `expected_len` bytes long. Blocking. (The store
    /// reads through [`Blobs::read_into`]; this is the tests' shorthand.)
    #[cfg(test)]
    pub(crate) fn read(&self, id: &str, expected_len: u64) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.read_into(id, expected_len, &mut data)?;
        Ok(data)
    }

    /// Reads blob `id`, which must be `expected_len` bytes long, appending it to `out`
    /// (which keeps what it had, such as a message's prefix headers) so the caller needs
    /// no second copy. Blocking.
    pub(crate) fn read_into(&self, id: &str, expected_len: u64, out: &mut Vec<u8>) -> Result<()> {
        use std::io::Read;
        let path = self.path(id)?;
        let before = out.len();
        let read = fs::File::open(&path).and_then(|mut f| {
            // The file's length is checked before anything is reserved or read: a
            // damaged row's length must be `Damaged`, not an allocation of that many
            // bytes (which aborts the process when it fails).
            let on_disk = f.metadata()?.len();
            if on_disk != expected_len {
                return Ok(on_disk);
            }
            out.reserve(usize::try_from(expected_len).unwrap_or(0));
            f.read_to_end(out).map(|n| n as u64)
        });
        let data_len = match read {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Not logged here: the caller tells damage from a message expunged
                // while it was being read (issue 12, finding 11) and logs the former.
                return Err(StoreError::Damaged(format!("body {id} is missing")));
            }
            Err(e) => return Err(io_err("cannot read", &path, e)),
        };
        if data_len != expected_len {
            out.truncate(before);
            tracing::error!(
                blob = id,
                expected = expected_len,
                found = data_len,
                "message body file has the wrong length"
            );
            return Err(StoreError::Damaged(format!(
                "body {id} is {data_len} bytes, expected {expected_len}"
            )));
        }
        Ok(())
    }

    /// Deletes blob `id`; a file already gone is fine. Failures are logged, not returned:
    /// a file left behind is an orphan that [`Blobs::orphans`] finds later. Blocking.
    pub(crate) fn remove(&self, id: &str) {
        let path = match self.path(id) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(blob = id, error = %e, "not deleting a blob with a bad id");
                return;
            }
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(blob = id, error = %e, "cannot delete body file"),
        }
    }

    /// The ids of every blob file last modified at least `min_age` ago. Names that are
    /// not blob ids are logged and skipped. Blocking.
    pub(crate) fn older_than(&self, min_age: Duration) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut found = Vec::new();
        let top = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) => return Err(io_err("cannot list", &self.root, e)),
        };
        for sub in top {
            let sub = sub.map_err(|e| io_err("cannot list", &self.root, e))?;
            let sub_path = sub.path();
            if !sub_path.is_dir() {
                tracing::warn!(path = %sub_path.display(), "stray file in blobs folder");
                continue;
            }
            let entries =
                fs::read_dir(&sub_path).map_err(|e| io_err("cannot list", &sub_path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io_err("cannot list", &sub_path, e))?;
                let name = entry.file_name();
                let Some(id) = name.to_str().filter(|n| valid_id(n)) else {
                    tracing::warn!(path = %entry.path().display(), "stray file in blobs folder");
                    continue;
                };
                let modified = entry.metadata().and_then(|m| m.modified());
                let old_enough = match modified {
                    Ok(t) => now.duration_since(t).map(|age| age >= min_age),
                    // A time in the future: not old.
                    Err(_) => Ok(false),
                };
                if old_enough.unwrap_or(false) {
                    found.push(id.to_string());
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/` store_records: a row whose body length was damaged to ~2^62
    /// made the read reserve that much and abort the process.
    #[test]
    fn damaged_length_is_not_an_allocation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::open(dir.path().join("blobs")).expect("open");
        let id = new_id();
        blobs.write(&id, b"hello").expect("write");
        for len in [1 << 62, i64::MAX as u64, u64::MAX] {
            let mut out = b"prefix".to_vec();
            assert!(matches!(
                blobs.read_into(&id, len, &mut out),
                Err(StoreError::Damaged(_))
            ));
            assert_eq!(out, b"prefix");
        }
    }

    #[test]
    fn write_read_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::open(dir.path().join("blobs")).expect("open");
        let id = new_id();
        assert!(valid_id(&id));
        blobs.write(&id, b"hello").expect("write");
        assert_eq!(blobs.read(&id, 5).expect("read"), b"hello");
        assert!(matches!(blobs.read(&id, 4), Err(StoreError::Damaged(_))));
        // Written once: a second write of the same id fails.
        assert!(blobs.write(&id, b"other").is_err());
        assert_eq!(
            blobs.older_than(Duration::ZERO).expect("list"),
            vec![id.clone()]
        );
        assert!(
            blobs
                .older_than(Duration::from_secs(3600))
                .expect("list")
                .is_empty()
        );
        blobs.remove(&id);
        blobs.remove(&id);
        assert!(matches!(blobs.read(&id, 5), Err(StoreError::Damaged(_))));
    }

    #[test]
    fn ids_made_in_one_minute_share_a_folder_and_the_next_minute_moves_on() {
        let (a, b) = (id_at(1_000, u128::MAX), id_at(1_000, 0));
        assert!(valid_id(&a) && valid_id(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a[..2], b[..2]);
        assert_ne!(id_at(1_001, 7)[..2], a[..2]);
        assert_eq!(id_at(1_000 + 256, 7)[..2], a[..2], "256 folders in turn");
        assert!(valid_id(&new_id()));
    }

    #[test]
    fn malformed_ids_are_damaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::open(dir.path().join("blobs")).expect("open");
        for id in [
            "",
            "../../etc/passwd",
            "ABCDEF0123456789ABCDEF0123456789",
            "x",
        ] {
            assert!(
                matches!(blobs.path(id), Err(StoreError::Damaged(_))),
                "{id}"
            );
        }
    }
}
