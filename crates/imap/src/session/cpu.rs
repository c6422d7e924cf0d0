//! CPU-heavy work of an IMAP session (SEARCH's text matching, SORT's ordering,
//! THREAD, FETCH's MIME parsing of a big message), kept from starving the other
//! sessions, without the session knowing the executor.
//!
//! Where it sits: the session calls [`maybe_heavy`] around such work and [`breathe`]
//! between batches of a long loop. How heavy work runs is the executor's business:
//! the server registers its runner once at start ([`set_runner`]: tokio's
//! `block_in_place`, see `server/src/cpu.rs`); with none registered (tests, fuzzing) the
//! work simply runs in place.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// Message bytes past which matching or parsing one message counts as heavy.
pub const HEAVY_BYTES: usize = 256 * 1024;

/// Messages past which sorting or threading them counts as heavy.
pub const HEAVY_MESSAGES: usize = 5_000;

/// Runs a piece of heavy work where it cannot stall the other sessions.
pub type Runner = fn(&mut dyn FnMut());

/// The registered runner.
static RUNNER: OnceLock<Runner> = OnceLock::new();

/// Registers how heavy work runs, for the whole process; later calls are ignored.
pub fn set_runner(runner: Runner) {
    let _ = RUNNER.set(runner);
}

/// Runs `work` through the registered runner when `big`, else (or without one) in
/// place.
pub fn maybe_heavy<R>(big: bool, work: impl FnOnce() -> R) -> R {
    let Some(runner) = RUNNER.get().filter(|_| big) else {
        return work();
    };
    let mut work = Some(work);
    let mut result = None;
    runner(&mut || {
        if let Some(work) = work.take() {
            result = Some(work());
        }
    });
    match result {
        Some(result) => result,
        // A runner that did not run the work: run it here rather than lose it.
        None => work
            .map(|w| w())
            .unwrap_or_else(|| unreachable!("work ran")),
    }
}

/// Lets the executor run other tasks between batches of a long loop: pending once,
/// then ready (any executor's yield).
pub fn breathe() -> impl Future<Output = ()> {
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldOnce(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_once_with_or_without_a_runner() {
        assert_eq!(maybe_heavy(true, || 7), 7);
        assert_eq!(maybe_heavy(false, || "small"), "small");
    }

    #[tokio::test]
    async fn breathing_yields_once() {
        breathe().await;
    }
}
