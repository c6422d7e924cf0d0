//! Runs fuzz input on a thread with the stack of a server worker, so that a stack
//! overflow from deep input is found at the depth where it would hit the server, and
//! is reported by libFuzzer (input saved to the artifacts) instead of killing the
//! process silently.
//!
//! libFuzzer's SIGSEGV handler runs on the faulting stack unless the handler it
//! replaces had `SA_ONSTACK` (FuzzerUtilPosix.cpp keeps that flag), and a handler on an
//! overflowed stack faults again at once. So [`init`], called from the target's
//! `init:` block before libFuzzer installs its handlers, sets a default SIGSEGV
//! disposition with `SA_ONSTACK`, and [`run`] gives its thread an alternate signal
//! stack.

/// The stack the server's async workers have (tokio's default, 2 MiB). libFuzzer's
/// own thread has 8 MiB, which would hide an overflow.
pub const WORKER_STACK: usize = 2 << 20;

/// Room for libFuzzer's crash report (it writes the input and exits).
const SIGNAL_STACK: usize = 256 << 10;

/// Marks SIGSEGV and SIGBUS handling as "on the alternate stack"; see the module docs.
pub fn init() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: plain sigaction with a zeroed struct and the default disposition.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            action.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(signal, &action, std::ptr::null_mut()), 0);
        }
    }
}

/// Runs `work` on a fresh thread with [`WORKER_STACK`] and an alternate signal stack;
/// a panic in `work` is resumed on the caller's thread, so libFuzzer sees it.
pub fn run<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(scope, || {
                let mut altstack = vec![0u8; SIGNAL_STACK];
                let stack = libc::stack_t {
                    ss_sp: altstack.as_mut_ptr().cast(),
                    ss_flags: 0,
                    ss_size: altstack.len(),
                };
                // SAFETY: the buffer outlives its use: it is unregistered below before
                // it is dropped, and it belongs to this thread only.
                unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
                let result = work();
                let off = libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                // SAFETY: disables this thread's alternate stack.
                unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
                drop(altstack);
                result
            })
            .expect("spawn a worker thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
