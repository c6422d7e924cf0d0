//! The name this node's queue runner claims queue entries under (issue 15):
//! `hostname:ID`, where ID is random, made on the first start and kept in
//! `data_dir/queue-node`.
//!
//! Where it sits: [`crate::run_with_store`] gives it to `queue::QueueRunner::with_node`.
//! Claims are leases (`Store::queue_claim`): another node takes a claimed entry only
//! once its lease expires. A name that outlives the process means a node restarted
//! after a crash takes back its own claims at once, instead of leaving the entries it
//! was attempting to wait for the lease (up to five minutes). Nodes sharing one
//! database each have their own data directory, so they never share a name, even
//! with the same `hostname` in identical configs; a data directory copied to make a
//! new node must lose this file (it is made again).
//!
//! Security stance: one file in the data directory, mode 0600 like the rest of it,
//! holding 16 hex digits; anything else found there is replaced. When it cannot be
//! read or written, the runner keeps a name of its own for this run
//! (`hostname:pid:random`) and a crash then costs the lease's wait.

use std::io::Write;
use std::path::Path;

/// The file, in the data directory.
const FILE: &str = "queue-node";

/// `hostname:ID` for the node whose data directory is `data_dir`; `None` (logged) when
/// the file cannot be read or made.
pub(crate) fn name(hostname: &str, data_dir: &Path) -> Option<String> {
    match id(data_dir) {
        Ok(id) => Some(format!("{hostname}:{id}")),
        Err(e) => {
            tracing::warn!(file = %data_dir.join(FILE).display(), error = %e,
                "cannot keep the queue node name; a crash will leave this node's queue \
                 claims to expire before they are retried");
            None
        }
    }
}

/// The node's ID: read from the file, or made and written there.
fn id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(FILE);
    for _ in 0..2 {
        match std::fs::read_to_string(&path) {
            Ok(text) if valid(text.trim()) => return Ok(text.trim().to_owned()),
            Ok(_) => {
                tracing::warn!(file = %path.display(), "queue node file damaged; made anew");
                std::fs::remove_file(&path)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let id = format!("{:016x}", rand::random::<u64>());
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(format!("{id}\n").as_bytes())?;
                file.sync_all()?;
                return Ok(id);
            }
            // Another process made it meanwhile: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("the file keeps changing"))
}

/// 16 hex digits, as [`id`] writes them.
fn valid(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_differs_per_data_dir() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = name("mx.example", one.path()).expect("name");
        assert!(first.starts_with("mx.example:"), "{first}");
        assert_eq!(name("mx.example", one.path()).as_deref(), Some(&*first));
        assert_ne!(name("mx.example", two.path()), Some(first.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(one.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A damaged file is replaced; a missing directory gives no name.
        std::fs::write(one.path().join(FILE), "not an id").unwrap();
        let again = name("mx.example", one.path()).expect("name");
        assert_ne!(again, first);
        assert_eq!(name("mx.example", one.path()), Some(again));
        assert_eq!(name("mx.example", &one.path().join("missing")), None);
    }
}
