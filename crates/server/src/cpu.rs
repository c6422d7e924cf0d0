//! CPU-heavy work of a session, kept from starving the other sessions.
//!
//! Where it sits: the IMAP session's heavy work (SEARCH's body and text matching,
//! SORT's ordering, THREAD, FETCH's MIME parsing of a big message; see
//! `imap::session::cpu`, which decides what is heavy and runs it through
//! [`run_imap_work`]) runs synchronously on borrowed data inside the session's task,
//! and so does the SMTP pipeline (DKIM hashing, the copies it makes) for a large
//! message. Past a size where that takes milliseconds, they run
//! through [`heavy`]: on the server's multi-threaded runtime that is
//! [`tokio::task::block_in_place`], which hands this worker's other tasks (other
//! connections, the SMTP listeners) to another thread for the duration, so a session
//! doing a minute of work costs the others nothing. Long loops over many messages
//! also yield between batches (`imap::session::cpu::breathe`), so one session cannot
//! hold a worker through a 100,000-message mailbox either. (Chosen over `spawn_blocking` because the work
//! borrows the session's snapshot and summaries, which a `'static` task could not.)

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `work` where it cannot stall the async workers: see the module docs. On a
/// current-thread runtime (unit tests) it simply runs.
pub(crate) fn heavy<R>(work: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Like [`heavy`] for async work that is mostly CPU (the SMTP pipeline of a large
/// message: DKIM hashing with a DNS look-up or two): on the multi-threaded runtime the
/// future is driven to completion in `block_in_place`; elsewhere it is simply awaited.
pub(crate) async fn heavy_async<F: std::future::Future>(work: F) -> F::Output {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(work))
        }
        _ => work.await,
    }
}

/// The IMAP session's runner for its heavy work (`imap::session::cpu`), registered by
/// the IMAP driver.
pub(crate) fn run_imap_work(work: &mut dyn FnMut()) {
    heavy(work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn heavy_work_leaves_the_worker_to_others() {
        // One worker: without block_in_place the ticker could not run at all while
        // the heavy work spins.
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        tokio::task::yield_now().await;
        let seen = heavy(|| {
            let start = Instant::now();
            let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
            // Spin until the ticker has moved (it can only on another thread), with
            // a deadline so a regression fails instead of hanging.
            while ticks.load(std::sync::atomic::Ordering::Relaxed) < before + 3 {
                if start.elapsed() > Duration::from_secs(10) {
                    return false;
                }
                std::hint::spin_loop();
            }
            true
        });
        ticker.abort();
        assert!(seen, "other tasks did not run during the heavy work");
    }

    #[tokio::test]
    async fn on_a_current_thread_runtime_it_just_runs() {
        assert_eq!(heavy(|| 7), 7);
    }
}
