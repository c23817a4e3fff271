//! The unit tests' allocator: the system's, counting the bytes each thread holds, so that a test
//! can measure what a structure costs in memory (a cache's bound, say) while other tests run on
//! other threads. Only in `cargo test` builds of the library; the binary keeps its own allocator.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed by the current thread (frees of memory another thread
/// allocated count against this one, so measure what one thread builds and keeps).
pub fn held() -> isize {
    HELD.with(Cell::get)
}

/// What `build` leaves allocated on this thread, with what it built (kept alive, so still counted).
pub fn held_by<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = held();
    let built = build();
    (built, held() - before)
}

fn add(bytes: isize) {
    // `try_with`: a thread's last frees run after its thread-locals are gone.
    let _ = HELD.try_with(|h| h.set(h.get() + bytes));
}

struct Counting;

// SAFETY: every call is passed on to `System` unchanged; only the counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;
