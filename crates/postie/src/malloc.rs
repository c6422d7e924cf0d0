//! Allocator tuning for the long-running server (`postie serve` only).
//!
//! Every password check hashes with argon2, which allocates one 19 MiB block and
//! frees it. glibc's malloc serves a block that large with mmap, but after the first
//! free it raises its mmap threshold to the freed size (the "dynamic threshold"), so
//! later argon2 blocks come from the heap arenas and stay there after being freed: the
//! bench/imap memory figure for idle IMAP connections was mostly such retained blocks
//! (4.3 MB per connection with the defaults, 31-37 KiB with a fixed threshold).
//! Setting the threshold explicitly turns the dynamic adjustment off (mallopt(3)), so
//! blocks of 1 MiB and more always go back to the system when freed.

/// Blocks at least this large are mmapped and returned to the system on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// Applies the tuning; call once, before the runtime starts its threads.
pub fn tune_for_server() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any
    // other thread exists, and a refusal (return 0) just leaves the defaults.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 0 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) refused; keeping glibc's defaults");
        }
    }
}
