//! Memory allocation for the long-running server.
//!
//! **Rust's allocations go to jemalloc** (the global allocator on Linux, with its
//! background purging threads). glibc's malloc kept a burst's memory: after 5,000 SMTP
//! connections had come and gone, a third of their memory stayed resident for good,
//! because each connection's log span leaves a small block in the span registry
//! (tracing's pooled slots keep their allocation) among the freed buffers, and glibc
//! can only give back pages with nothing alive on them. jemalloc puts blocks of each
//! size class on their own pages, so those few small blocks pin only pages of their
//! own size class, and its background threads return freed pages within seconds,
//! with no help from the server (`opt.dirty_decay_ms`; muzzy decay is off by default,
//! so pages are returned with `MADV_DONTNEED` and leave the RSS at once).
//!
//! **glibc's malloc still serves the C code** (SQLite, bundled), tuned for the server
//! (`postie serve` only) as before: argon2's 19 MiB blocks are Rust allocations now,
//! but a block that large in C code would raise glibc's dynamic mmap threshold to its
//! size, after which such blocks stay in the heap arenas. Setting the threshold
//! explicitly turns that adjustment off (mallopt(3)), so blocks of 1 MiB and more
//! always go back to the system when freed. A trimmer thread looks every
//! [`TRIM_EVERY`] at how much free memory the arenas hold (`mallinfo2`, cheap) and,
//! past [`TRIM_FREE_BYTES`], gives it back (`malloc_trim(0)`).

/// Rust's allocator: see the module docs.
#[cfg(target_os = "linux")]
#[global_allocator]
static RUST_ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Blocks at least this large are mmapped and returned to the system on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// How often the trimmer looks at the arenas.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Free memory held by the arenas past which the trimmer gives it back. Small: a
/// trim of a few MiB of free chunks takes well under a millisecond, once per
/// [`TRIM_EVERY`], and a higher bar left a burst's last megabytes resident for good.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_FREE_BYTES: usize = 2 * 1024 * 1024;

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
