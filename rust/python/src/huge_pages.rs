//! The native module's allocator: the system's, with large blocks marked for transparent huge
//! pages. The engine reads its big arrays (voxel ranks, union-find parents, pivot maps, cell
//! lists: tens of MB each at 128³) at random; with 4 KiB pages nearly each such read also misses
//! the TLB, and each first touch of a page is a fault. Where the kernel leaves huge pages to the
//! program (`madvise` mode, the default of several distributions), asking for them made a 128³
//! matching about 5% faster. Where it uses them anyway, or never, the request changes nothing.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct HugePageAlloc;

const HUGE_PAGE: usize = 2 << 20;

/// Blocks from this size on are marked (smaller ones gain little: a few huge pages at most).
const LARGE: usize = 4 * HUGE_PAGE;

// SAFETY: every call is the system allocator's with the same arguments; `advise` only hints the
// kernel about pages the block already owns.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = System.alloc(layout);
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = System.alloc_zeroed(layout);
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        System.dealloc(block, layout)
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(block, layout, new_size);
        if new_size > layout.size() {
            advise(moved, new_size);
        }
        moved
    }
}

/// Asks for huge pages over the whole huge pages inside a large block (a failure is ignored:
/// the block works the same either way). `MADV_HUGEPAGE` is 14 on these architectures (the
/// generic Linux value; a few others number it differently and go without).
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
fn advise(block: *mut u8, size: usize) {
    const MADV_HUGEPAGE: std::ffi::c_int = 14;
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: std::ffi::c_int) -> std::ffi::c_int;
    }
    if block.is_null() || size < LARGE {
        return;
    }
    let start = (block as usize).next_multiple_of(HUGE_PAGE);
    let end = (block as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside the block just allocated; madvise reads and writes no memory.
        unsafe { madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE) };
    }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn advise(_block: *mut u8, _size: usize) {}
