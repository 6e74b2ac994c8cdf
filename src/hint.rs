//! Hints to the processor, shared by the stages that read memory ahead of their work: the
//! text decoder (the decompressed bytes a few lines on) and the account stage (the
//! aggregates of the ENIs a batch of records is about to touch). A hint changes no result.

/// Ask the memory for the cache line at `p` (x86-64's `prefetcht0`; nothing elsewhere).
/// Any address will do: a prefetch never faults and reads nothing the program sees.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it neither faults nor has an effect a program can see,
    // whatever the address (SSE, part of every x86-64).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Ask the memory for every cache line of `v` (a hint, as [`prefetch`]).
#[inline(always)]
pub fn prefetch_value<T>(v: &T) {
    let start = (v as *const T).cast::<u8>();
    for offset in (0..std::mem::size_of::<T>()).step_by(64) {
        prefetch(start.wrapping_add(offset));
    }
}
