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
//!
//! Smaller blocks freed after a burst (thousands of connections, each with its
//! buffers) stay in glibc's arenas: free, but still resident, so the RSS stayed at its
//! peak. A trimmer thread looks every [`TRIM_EVERY`] at how much free memory the
//! arenas hold (`mallinfo2`, cheap) and, past [`TRIM_FREE_BYTES`], gives it back
//! (`malloc_trim(0)`, which also releases free pages inside the arenas). Under steady
//! load the free amount stays small and nothing is trimmed.

/// Blocks at least this large are mmapped and returned to the system on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// How often the trimmer looks at the arenas.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Free memory held by the arenas past which the trimmer gives it back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_FREE_BYTES: usize = 16 * 1024 * 1024;

/// Applies the tuning and starts the trimmer; call once, before the runtime starts its
/// threads.
pub fn tune_for_server() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any
    // other thread exists, and a refusal (return 0) just leaves the defaults.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 0 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) refused; keeping glibc's defaults");
        }
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(trim_when_idle_memory_piles_up);
        if let Err(e) = started {
            tracing::debug!(error = %e, "no malloc trimmer thread");
        }
    }
}

/// The trimmer thread's loop (see the module docs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_when_idle_memory_piles_up() {
    loop {
        std::thread::sleep(TRIM_EVERY);
        // SAFETY: mallinfo2 and malloc_trim only read and adjust the allocator's own
        // state, under its locks; both are safe to call from any thread at any time.
        let free = unsafe { libc::mallinfo2() }.fordblks;
        if free > TRIM_FREE_BYTES {
            // SAFETY: as above.
            unsafe { libc::malloc_trim(0) };
        }
    }
}
