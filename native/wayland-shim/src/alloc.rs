//! Allocator settings for a process that streams frames.
//!
//! Each frame allocates and frees buffers of up to a frame's size (Node's socket reads, encoder
//! output, sharp's work). With glibc's defaults, blocks above the mmap threshold are mapped and
//! unmapped every time, and a heap whose free top passes the trim threshold is given back to the
//! kernel, so the next frame faults every page in again (and the kernel zeroes them): measured at
//! 10-18% of the receiver's CPU on full-HD noise. Keeping freed memory for reuse trades a stable
//! amount of resident memory (the peak of one frame's buffers) for that work.

use napi_derive::napi;

/// Blocks up to this size come from the heap, so that freed frame buffers are reused.
const MMAP_THRESHOLD: i32 = 64 << 20;
/// Free memory at the top of the heap kept for the next frame rather than returned.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Tunes glibc's malloc for frame streaming (see the module docs). Returns false where the
/// allocator does not take the settings (another C library).
#[napi]
pub fn tune_allocator() -> bool {
  #[cfg(all(target_os = "linux", target_env = "gnu"))]
  {
    // SAFETY: mallopt only changes allocator parameters; any value is accepted or refused by it.
    unsafe {
      libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
  }
  #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
  {
    false
  }
}
