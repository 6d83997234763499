//! Memory accounting. The binary installs [`CountingAlloc`] as its global allocator; the
//! engine's progress callback compares [`allocated`] with the run's memory limit after every
//! operation. Each single operation is already bounded by the string, array and map limits, so
//! the overshoot past the cap is at most one operation's worth.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// Set in a script's worker: an allocation the kernel refuses (the worker's memory bound)
/// ends the process at once with [`EXHAUSTED_EXIT`], so that its supervisor can tell the
/// memory limit from a crash.
static EXIT_WHEN_EXHAUSTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a worker whose memory bound refused an allocation.
pub const EXHAUSTED_EXIT: i32 = 86;

/// Makes a refused allocation end the process with [`EXHAUSTED_EXIT`] (instead of Rust's
/// abort, which looks like any other crash).
pub fn exit_when_exhausted() {
    EXIT_WHEN_EXHAUSTED.store(true, Ordering::Relaxed);
}

#[cold]
fn refused() {
    if EXIT_WHEN_EXHAUSTED.load(Ordering::Relaxed) {
        // SAFETY: _exit is async-signal-safe, allocates nothing and never returns.
        unsafe { libc::_exit(EXHAUSTED_EXIT) }
    }
}

/// The system allocator, counting live bytes.
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the same arguments and only adds bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if p.is_null() {
            refused();
        } else {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if p.is_null() {
            refused();
        } else {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if p.is_null() {
            refused();
        } else {
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Live heap bytes, when [`CountingAlloc`] is the global allocator; 0 otherwise.
pub fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}
