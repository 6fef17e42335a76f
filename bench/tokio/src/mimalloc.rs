//! mimalloc as the global allocator (feature "mimalloc"): every Rust allocation goes to
//! mi_malloc_aligned / mi_free. Linking libmimalloc also makes it serve the process's C
//! malloc; that is this binary's own choice (weft itself opens mimalloc privately).
use std::alloc::{GlobalAlloc, Layout};

#[link(name = "mimalloc")]
extern "C" {
    fn mi_malloc_aligned(size: usize, alignment: usize) -> *mut u8;
    fn mi_zalloc_aligned(size: usize, alignment: usize) -> *mut u8;
    fn mi_realloc_aligned(p: *mut u8, newsize: usize, alignment: usize) -> *mut u8;
    fn mi_free(p: *mut u8);
}

struct MiMalloc;

unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        mi_malloc_aligned(layout.size(), layout.align())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        mi_zalloc_aligned(layout.size(), layout.align())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi_free(ptr)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        mi_realloc_aligned(ptr, new_size, layout.align())
    }
}

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;
