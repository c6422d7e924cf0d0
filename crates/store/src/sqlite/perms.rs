//! File permissions of the data directory: everything the store creates is for the
//! owner only (folders 0700, files 0600), whatever the umask, because `postie.db`
//! holds password hashes and the blob folder holds everyone's mail.
//!
//! New files get their mode when they are created ([`super::blobs`], and SQLite gives
//! its `-wal` / `-shm` files the mode of `postie.db`). [`tighten`] repairs a data
//! directory made by an older version (0755 / 0644 under the usual umask 022): it runs
//! on every open and only ever removes group/other bits from paths this process's user
//! owns, so it never takes access away from another owner.
//!
//! Security stance: writes file modes in the data directory only; no network.

use std::path::Path;

/// Creates `dir` (and its parents) when missing; the folders it makes are 0700.
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[allow(unused_mut)]
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Removes group and other permissions from the data directory itself and from
/// `files` in it (those that exist), when this process's user owns them. Failures are
/// logged, not fatal: the server still works, only less private.
#[cfg(unix)]
pub(super) fn tighten(data_dir: &Path, files: &[&str]) {
    tighten_one(data_dir, 0o700);
    for name in files {
        tighten_one(&data_dir.join(name), 0o600);
    }
}

#[cfg(not(unix))]
pub(super) fn tighten(_data_dir: &Path, _files: &[&str]) {}

#[cfg(unix)]
fn tighten_one(path: &Path, private: u32) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return; // absent: nothing to repair
    };
    if meta.file_type().is_symlink() {
        return; // never follow a link somewhere else
    }
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    let me = unsafe { libc::geteuid() };
    let mode = meta.mode() & 0o7777;
    if meta.uid() != me || mode & 0o077 == 0 {
        return;
    }
    let new = mode & private;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(new)) {
        Ok(()) => tracing::info!(
            path = %path.display(),
            from = format!("{mode:o}"),
            to = format!("{new:o}"),
            "made private to its owner"
        ),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot restrict permissions"),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_old_world_readable_data_dir_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("postie.db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        tighten(&dir, &["postie.db", "postie.db-wal"]);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert!(!dir.join("postie.db-wal").exists());
    }

    #[test]
    fn new_folders_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
    }
}
