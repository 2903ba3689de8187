//! Shared-memory mappings exposed to JavaScript as external ArrayBuffers, without copies.
//!
//! Lifetime rules:
//! - the address range stays mapped while the `ShmMapping` or its ArrayBuffer is alive (the
//!   ArrayBuffer's finalizer holds a reference), so no JS view can reach freed memory;
//! - `unmap()` detaches the ArrayBuffer (its views become empty) and, if the ArrayBuffer's
//!   finalizer has not run yet, replaces the pages with anonymous zeros, so native code that
//!   still holds a raw pointer (say, a write in progress on the libuv thread pool) reads zeros
//!   and the client's memory is released at once;
//! - a client that shrinks its file cannot crash us: see `sigbus.rs`.

use std::os::fd::RawFd;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{ObjectFinalize, Uint8ArraySlice, Unknown};
use napi::{sys, Env};
use napi_derive::napi;

use crate::error::{error, invalid, last_error, to_size, Result};
use crate::sigbus::{zero_fill, Registration};

fn page_size() -> usize {
  // SAFETY: sysconf has no memory-safety preconditions.
  let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
  if size > 0 {
    size as usize
  } else {
    4096
  }
}

/// The page-aligned address range of one mmap call, registered for SIGBUS rescue.
/// Dropping it unregisters it, then unmaps it.
struct Region {
  base: *mut u8,
  len: usize,
  registration: Option<Registration>,
}

// SAFETY: `base` designates a process-wide mapping, not thread-local data; the region is only
// read through raw copies and unmapped once, by whoever drops the last `Arc`.
unsafe impl Send for Region {}
// SAFETY: as above; all shared state lives in the atomics of the registration.
unsafe impl Sync for Region {}

impl Drop for Region {
  fn drop(&mut self) {
    // Unregister first: once no SIGBUS handler can act on the range, it may be reused.
    drop(self.registration.take());
    // SAFETY: `base`/`len` are exactly what mmap returned, and this is the last owner.
    unsafe { libc::munmap(self.base.cast(), self.len) };
  }
}

/// A mapping of `[offset, offset + len)` of an fd.
pub struct Mapping {
  region: Arc<Region>,
  data: *mut u8,
  len: usize,
}

impl Mapping {
  /// Maps `len` bytes of `fd` from `offset` (any alignment). `writable` mappings are
  /// `MAP_SHARED`: writes reach the file. Read-only ones are `MAP_PRIVATE`: they see the file's
  /// contents, and a write from JS changes a private copy instead of faulting (a `PROT_READ`
  /// mapping would turn such a write into a fatal SIGSEGV). Private mappings also work on
  /// read-only fds and write-sealed memfds, such as keymaps. Does not take ownership of `fd`.
  pub fn map(fd: RawFd, offset: u64, len: usize, writable: bool) -> Result<Mapping> {
    if len == 0 {
      return Err(invalid("mmap: length must be at least 1"));
    }
    let page = page_size() as u64;
    let delta = offset % page;
    let aligned = offset - delta;
    let end = offset.checked_add(len as u64);
    if end.is_none_or(|end| end > i64::MAX as u64) || len >= isize::MAX as usize - page as usize {
      return Err(invalid("mmap: offset + length is too large"));
    }
    let map_len = delta as usize + len;
    let flags = if writable {
      libc::MAP_SHARED
    } else {
      libc::MAP_PRIVATE
    };
    // SAFETY: a fresh mapping chosen by the kernel (no MAP_FIXED) touches no existing memory.
    let base = unsafe {
      libc::mmap(
        ptr::null_mut(),
        map_len,
        libc::PROT_READ | libc::PROT_WRITE,
        flags,
        fd,
        aligned as libc::off_t,
      )
    };
    if base == libc::MAP_FAILED {
      return Err(last_error("mmap"));
    }
    let base = base.cast::<u8>();
    let mut region = Region {
      base,
      len: map_len,
      registration: None,
    };
    region.registration = Some(Registration::new(base, map_len)?);
    Ok(Mapping {
      region: Arc::new(region),
      // SAFETY: `delta < page <= map_len`, so the pointer stays inside the mapping.
      data: unsafe { base.add(delta as usize) },
      len,
    })
  }

  pub fn len(&self) -> usize {
    self.len
  }

  pub fn is_empty(&self) -> bool {
    self.len == 0
  }

  pub fn as_ptr(&self) -> *mut u8 {
    self.data
  }

  /// Another handle on the same mapping: it stays mapped (zero pages once `unmap`ped) until
  /// the last handle goes.
  pub(crate) fn share(&self) -> Mapping {
    Mapping {
      region: Arc::clone(&self.region),
      data: self.data,
      len: self.len,
    }
  }

  /// The mapped bytes. The client may write them at any time: whatever is read is what the
  /// frame shows (as with libwayland compositors); a read past a shrunk file reads zeros.
  pub(crate) fn bytes(&self) -> &[u8] {
    // SAFETY: `data..data + len` stays mapped while the region lives (held by `self`); a SIGBUS
    // is turned into zero pages by the handler.
    unsafe { std::slice::from_raw_parts(self.data, self.len) }
  }

  fn registration(&self) -> &Registration {
    self
      .region
      .registration
      .as_ref()
      .expect("registered until dropped")
  }

  pub fn truncated(&self) -> bool {
    self.registration().truncated()
  }

  pub fn clear_truncated(&self) {
    self.registration().clear_truncated()
  }

  /// Copies `dst.len()` bytes from `offset` into `dst`. Returns false, with `dst` zero-filled,
  /// if the mapping has been found truncated (now or earlier): its contents are gone.
  pub fn copy_to(&self, offset: usize, dst: &mut [u8]) -> Result<bool> {
    // SAFETY: `dst` is a valid, exclusive slice.
    unsafe { self.copy_to_raw(offset, dst.as_mut_ptr(), dst.len()) }
  }

  /// [`Mapping::copy_to`] into raw memory, which may overlap the mapping itself (a JS view of
  /// this very mapping).
  ///
  /// # Safety
  /// `dst..dst + len` must be valid for writes for the duration of the call.
  pub unsafe fn copy_to_raw(&self, offset: usize, dst: *mut u8, len: usize) -> Result<bool> {
    if offset.checked_add(len).is_none_or(|end| end > self.len) {
      return Err(error(
        "ERANGE",
        format!(
          "copyTo: [{offset}, {offset} + {len}) is outside the mapping of {} bytes",
          self.len
        ),
      ));
    }
    // SAFETY: the source range lies inside the mapping, which stays mapped while `self` lives;
    // a SIGBUS during the copy is turned into zero pages by the handler and the copy resumes.
    // `dst` is writable per the contract and may overlap the source, hence `copy` (memmove).
    // The client may write the memory concurrently; we copy whatever bytes are there, as
    // libwayland compositors do.
    unsafe { ptr::copy(self.data.add(offset), dst, len) };
    if self.registration().zeroed() {
      // SAFETY: as above, `dst..dst + len` is writable.
      unsafe { ptr::write_bytes(dst, 0, len) };
      return Ok(false);
    }
    Ok(true)
  }

  /// Replaces the pages with anonymous zeros, keeping the range reserved until the last
  /// reference goes.
  fn retire(&self) {
    // SAFETY: the range is our mapping; `unmap()` gives up its contents.
    unsafe { zero_fill(self.region.base, self.region.len) };
  }
}

// ---- JavaScript API ----

/// A mapping of part of a shared-memory fd (usually a wl_shm pool), readable from JS through
/// an external ArrayBuffer. Does not own the fd: it may be closed once mapped.
#[napi(custom_finalize)]
pub struct ShmMapping {
  mapping: Option<Mapping>,
  len: usize,
  /// Weak reference to the ArrayBuffer handed out, so that `buffer` returns the same one while
  /// it is alive and `unmap()` can detach it. Null if none was created.
  buffer: sys::napi_ref,
  truncated_at_unmap: bool,
}

/// Finalizer of the external ArrayBuffer: drops its reference to the region.
///
/// # Safety
/// Only called by Node, once, with the hint given to `napi_create_external_arraybuffer`.
unsafe extern "C" fn release_region(
  _env: sys::napi_env,
  _data: *mut std::ffi::c_void,
  hint: *mut std::ffi::c_void,
) {
  // SAFETY: `hint` is the Box<Arc<Region>> leaked in `buffer`, and finalizers run once.
  drop(unsafe { Box::from_raw(hint.cast::<Arc<Region>>()) });
}

fn napi_check(status: sys::napi_status, what: &str) -> Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(error("EINVAL", format!("{what} failed (napi status {status})")))
  }
}

fn unmapped() -> crate::error::Error {
  error("EBADF", "ShmMapping: the mapping has been unmapped")
}

impl ShmMapping {
  /// A handle on the mapping for native code that reads it across calls (None once unmapped).
  pub(crate) fn shared(&self) -> Option<Mapping> {
    self.mapping.as_ref().map(Mapping::share)
  }

  fn live_buffer(&self, env: sys::napi_env) -> Option<sys::napi_value> {
    if self.buffer.is_null() {
      return None;
    }
    let mut value = ptr::null_mut();
    // SAFETY: `self.buffer` is a live reference created in `buffer` with this env.
    let status = unsafe { sys::napi_get_reference_value(env, self.buffer, &mut value) };
    (status == sys::Status::napi_ok && !value.is_null()).then_some(value)
  }

  fn drop_buffer_ref(&mut self, env: sys::napi_env) {
    if !self.buffer.is_null() {
      // SAFETY: the reference was created with this env and is deleted once (then nulled).
      unsafe { sys::napi_delete_reference(env, self.buffer) };
      self.buffer = ptr::null_mut();
    }
  }
}

#[napi]
impl ShmMapping {
  /// Maps `[offset, offset + length)` of `fd`; `offset` need not be page aligned. Writable
  /// mappings share writes with the file (MAP_SHARED); read-only ones are private copies on
  /// write (MAP_PRIVATE), so a stray write from JS never faults and never reaches the file.
  #[napi(factory)]
  pub fn map(fd: i32, offset: f64, length: f64, writable: bool) -> Result<Self> {
    let offset = to_size("offset", offset)?;
    let len = usize::try_from(to_size("length", length)?).map_err(|_| invalid("length is too large"))?;
    let mapping = Mapping::map(fd, offset, len, writable)?;
    Ok(ShmMapping {
      mapping: Some(mapping),
      len,
      buffer: ptr::null_mut(),
      truncated_at_unmap: false,
    })
  }

  /// The mapped length in bytes, as requested.
  #[napi(getter)]
  pub fn length(&self) -> f64 {
    self.len as f64
  }

  /// An external ArrayBuffer over the mapping (no copy); the same object on every call while it
  /// is alive. `unmap()` detaches it. Throws (EBADF) after `unmap()`.
  #[napi(getter, ts_return_type = "ArrayBuffer")]
  pub fn buffer<'env>(&mut self, env: &'env Env) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let Some(mapping) = &self.mapping else {
      return Err(unmapped());
    };
    if let Some(value) = self.live_buffer(raw_env) {
      // SAFETY: `value` is a live ArrayBuffer handle in the current scope.
      return Ok(unsafe { Unknown::from_raw_unchecked(raw_env, value) });
    }
    let (data, len) = (mapping.as_ptr(), mapping.len());
    let hint = Box::into_raw(Box::new(Arc::clone(&mapping.region)));
    let mut value = ptr::null_mut();
    // SAFETY: `data..data + len` stays mapped until `release_region` drops the Arc in `hint`,
    // which napi calls exactly once when the ArrayBuffer is collected.
    let status = unsafe {
      sys::napi_create_external_arraybuffer(
        raw_env,
        data.cast(),
        len,
        Some(release_region),
        hint.cast(),
        &mut value,
      )
    };
    if status != sys::Status::napi_ok {
      // SAFETY: napi did not take the hint; reclaim it.
      drop(unsafe { Box::from_raw(hint) });
      return Err(error(
        "EINVAL",
        format!("napi_create_external_arraybuffer failed (napi status {status})"),
      ));
    }
    self.drop_buffer_ref(raw_env);
    let mut reference = ptr::null_mut();
    // SAFETY: `value` is a live ArrayBuffer; a weak (count 0) reference does not keep it alive.
    let status = unsafe { sys::napi_create_reference(raw_env, value, 0, &mut reference) };
    napi_check(status, "napi_create_reference")?;
    self.buffer = reference;
    // SAFETY: `value` is a live handle in the current scope.
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, value) })
  }

  /// Unmaps. The ArrayBuffer (if any) is detached: its views read as empty. Idempotent.
  #[napi]
  pub fn unmap(&mut self, env: &Env) {
    let raw_env = env.raw();
    let Some(mapping) = self.mapping.take() else {
      return;
    };
    if let Some(value) = self.live_buffer(raw_env) {
      // SAFETY: `value` is a live ArrayBuffer; detaching it makes every view of it empty.
      // Failure would leave JS views over the zero pages installed below: still safe.
      unsafe { sys::napi_detach_arraybuffer(raw_env, value) };
    }
    self.drop_buffer_ref(raw_env);
    if Arc::strong_count(&mapping.region) > 1 {
      // An ArrayBuffer finalizer still holds the range: release the client's pages now.
      mapping.retire();
    }
    self.truncated_at_unmap = mapping.truncated();
  }

  /// True if a SIGBUS (client shrank its file) happened in this mapping since the last
  /// `clearTruncated()`. The mapping then reads as zeros for good.
  #[napi(getter)]
  pub fn truncated(&self) -> bool {
    self
      .mapping
      .as_ref()
      .map_or(self.truncated_at_unmap, Mapping::truncated)
  }

  #[napi]
  pub fn clear_truncated(&self) {
    if let Some(m) = &self.mapping {
      m.clear_truncated();
    }
  }

  /// Copies `dst.length` bytes from `offset` of the mapping into `dst`. Returns false, with `dst`
  /// zero-filled, if the mapping was found truncated (its contents are gone).
  #[napi]
  pub fn copy_to(&self, offset: f64, mut dst: Uint8ArraySlice<'_>) -> Result<bool> {
    let Some(mapping) = &self.mapping else {
      return Err(unmapped());
    };
    let offset = usize::try_from(to_size("offset", offset)?).map_err(|_| invalid("offset is too large"))?;
    // SAFETY: the view's memory stays valid during this synchronous call. Only a raw pointer is
    // kept, since `dst` may be a view of this very mapping.
    let (ptr, len) = unsafe {
      let slice = dst.as_mut();
      (slice.as_mut_ptr(), slice.len())
    };
    // SAFETY: `ptr..ptr + len` is the view's memory, writable for this call.
    unsafe { mapping.copy_to_raw(offset, ptr, len) }
  }
}

impl ObjectFinalize for ShmMapping {
  fn finalize(mut self, env: Env) -> napi::Result<()> {
    // The ArrayBuffer may outlive this object; its own finalizer keeps the range mapped.
    self.drop_buffer_ref(env.raw());
    Ok(())
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::fd::{create_memfd, truncate};
  use std::os::fd::AsRawFd;

  const MIB: usize = 1 << 20;

  fn read(m: &Mapping, at: usize) -> u8 {
    assert!(at < m.len());
    // SAFETY: inside the mapping; volatile so the load really happens (and may fault).
    unsafe { ptr::read_volatile(m.as_ptr().add(at)) }
  }

  fn write(m: &Mapping, at: usize, v: u8) {
    assert!(at < m.len());
    // SAFETY: inside a writable mapping.
    unsafe { ptr::write_volatile(m.as_ptr().add(at), v) }
  }

  #[test]
  fn writes_are_shared_between_mappings_of_the_same_fd() {
    let fd = create_memfd("t", 8192).unwrap();
    let a = Mapping::map(fd.as_raw_fd(), 0, 8192, true).unwrap();
    let b = Mapping::map(fd.as_raw_fd(), 4096 + 100, 50, false).unwrap();
    // The read-only mapping is private but still sees what the file holds, before and after.
    assert_eq!(read(&b, 0), 0);
    write(&a, 4096 + 100, 42);
    assert_eq!(read(&b, 0), 42);
    write(&a, 4096 + 149, 7);
    assert_eq!(read(&b, 49), 7);
    // A write through the private mapping does not reach the file.
    write(&b, 1, 99);
    assert_eq!(read(&a, 4096 + 101), 0);
  }

  #[test]
  fn unaligned_offsets_map_the_requested_bytes() {
    let fd = create_memfd("t", 10_000).unwrap();
    let a = Mapping::map(fd.as_raw_fd(), 0, 10_000, true).unwrap();
    for i in 0..10_000 {
      write(&a, i, (i % 251) as u8);
    }
    let b = Mapping::map(fd.as_raw_fd(), 4097, 5000, true).unwrap();
    let mut dst = vec![0u8; 5000];
    assert!(b.copy_to(0, &mut dst).unwrap());
    for (i, v) in dst.iter().enumerate() {
      assert_eq!(*v, ((4097 + i) % 251) as u8);
    }
  }

  #[test]
  fn a_truncated_file_reads_as_zeros_instead_of_crashing() {
    let fd = create_memfd("t", MIB as u64).unwrap();
    let m = Mapping::map(fd.as_raw_fd(), 0, MIB, true).unwrap();
    write(&m, 512 * 1024, 0xab);
    write(&m, 10, 0xcd);
    assert_eq!(read(&m, 512 * 1024), 0xab);
    assert!(!m.truncated());
    truncate(fd.as_raw_fd(), 4096).unwrap();
    // Below the new end of file nothing faults yet.
    assert_eq!(read(&m, 10), 0xcd);
    assert!(!m.truncated());
    // Past it, the access faults, the handler swaps in zero pages and the read sees 0.
    assert_eq!(read(&m, 512 * 1024), 0);
    assert!(m.truncated());
    // The whole mapping is now zeros, as with libwayland.
    assert_eq!(read(&m, 10), 0);
    m.clear_truncated();
    assert!(!m.truncated());
    let mut dst = vec![1u8; 16];
    assert!(!m.copy_to(512 * 1024, &mut dst).unwrap());
    assert!(dst.iter().all(|&b| b == 0));
  }

  #[test]
  fn copy_to_reports_truncation_that_happens_during_the_copy() {
    let fd = create_memfd("t", MIB as u64).unwrap();
    let m = Mapping::map(fd.as_raw_fd(), 0, MIB, true).unwrap();
    for i in (0..MIB).step_by(4096) {
      write(&m, i, 1);
    }
    let mut dst = vec![0u8; MIB];
    assert!(m.copy_to(0, &mut dst).unwrap());
    assert_eq!(dst[4096], 1);
    truncate(fd.as_raw_fd(), 8192).unwrap();
    dst.fill(9);
    assert!(!m.copy_to(0, &mut dst).unwrap());
    assert!(dst.iter().all(|&b| b == 0));
    assert!(m.truncated());
  }

  #[test]
  fn mapping_past_the_end_of_the_file_is_survivable() {
    // A client may announce a pool larger than its file.
    let fd = create_memfd("t", 4096).unwrap();
    let m = Mapping::map(fd.as_raw_fd(), 0, 64 * 1024, false).unwrap();
    assert_eq!(read(&m, 60 * 1024), 0);
    assert!(m.truncated());
  }

  #[test]
  fn copy_to_checks_its_bounds() {
    let fd = create_memfd("t", 4096).unwrap();
    let m = Mapping::map(fd.as_raw_fd(), 0, 100, true).unwrap();
    let mut dst = [0u8; 10];
    assert_eq!(m.copy_to(91, &mut dst).unwrap_err().status.0, "ERANGE");
    assert!(m.copy_to(90, &mut dst).unwrap());
    assert_eq!(m.copy_to(usize::MAX, &mut dst).unwrap_err().status.0, "ERANGE");
  }

  #[test]
  fn bad_arguments_are_errors() {
    let fd = create_memfd("t", 4096).unwrap();
    assert_eq!(
      Mapping::map(fd.as_raw_fd(), 0, 0, true).err().unwrap().status.0,
      "EINVAL"
    );
    assert_eq!(Mapping::map(-1, 0, 10, true).err().unwrap().status.0, "EBADF");
  }

  #[test]
  fn other_sigbus_faults_still_reach_the_default_action() {
    // A SIGBUS outside our mappings must not be swallowed: in a child process, fault on a
    // truncated mapping that is not registered and expect death by SIGBUS.
    let fd = create_memfd("t", 8192).unwrap();
    let _ours = Mapping::map(fd.as_raw_fd(), 0, 8192, true).unwrap(); // installs the handler
                                                                      // SAFETY: a fresh mapping, not registered with the SIGBUS registry.
    let raw = unsafe {
      libc::mmap(
        ptr::null_mut(),
        8192,
        libc::PROT_READ,
        libc::MAP_SHARED,
        fd.as_raw_fd(),
        0,
      )
    };
    assert_ne!(raw, libc::MAP_FAILED);
    // SAFETY: fork in a test: the child only calls async-signal-safe functions and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
      // SAFETY: child process; ftruncate then a read past EOF, then _exit if still alive.
      unsafe {
        libc::ftruncate(fd.as_raw_fd(), 0);
        ptr::read_volatile(raw.cast::<u8>().add(4096));
        libc::_exit(0);
      }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
      libc::WIFSIGNALED(status),
      "child exited normally: status {status}"
    );
    assert_eq!(libc::WTERMSIG(status), libc::SIGBUS);
    // SAFETY: unmapping the mapping created above.
    unsafe { libc::munmap(raw, 8192) };
  }
}
