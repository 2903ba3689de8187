//! Plain file-descriptor operations: memfd, close, dup, size, truncate.
//!
//! JavaScript sees fds as numbers; whoever holds the number owns the fd and closes it once with
//! `closeFd`. On the Rust side ownership is explicit with `OwnedFd`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use napi_derive::napi;

use crate::error::{cvt, cvt_retry, errno_error, invalid, last_error, to_size, Result};

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)` then `ftruncate(size)`.
pub fn create_memfd(name: &str, size: u64) -> Result<OwnedFd> {
  let cname = CString::new(name).map_err(|_| invalid("memfd name must not contain NUL"))?;
  // SAFETY: `cname` is a valid NUL-terminated string that outlives the call.
  let raw = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
  let raw = cvt(raw, "memfd_create")?;
  // SAFETY: memfd_create returned a new fd that nothing else owns.
  let fd = unsafe { OwnedFd::from_raw_fd(raw) };
  truncate(fd.as_raw_fd(), size)?;
  Ok(fd)
}

/// `ftruncate(fd, size)`.
pub fn truncate(fd: RawFd, size: u64) -> Result<()> {
  let size = libc::off_t::try_from(size).map_err(|_| invalid("size is too large"))?;
  // SAFETY: ftruncate has no memory-safety preconditions; a bad fd yields EBADF.
  cvt_retry("ftruncate", || unsafe { libc::ftruncate(fd, size) })?;
  Ok(())
}

/// `st_size` from `fstat(fd)`.
pub fn size_of(fd: RawFd) -> Result<u64> {
  // SAFETY: `stat` is plain old data, valid when zeroed.
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  // SAFETY: `st` is a valid, writable `stat` for the duration of the call.
  cvt(unsafe { libc::fstat(fd, &mut st) }, "fstat")?;
  Ok(st.st_size as u64)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`.
pub fn dup(fd: RawFd) -> Result<OwnedFd> {
  // SAFETY: fcntl with F_DUPFD_CLOEXEC takes an integer argument and touches no memory of ours.
  let raw = cvt(
    unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) },
    "fcntl(F_DUPFD_CLOEXEC)",
  )?;
  // SAFETY: the new fd was just created by fcntl and nothing else owns it.
  Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `close(fd)`, reporting EBADF. EINTR is not retried: on Linux the fd is released anyway, and a
/// retry could close an fd that another thread has just been given.
pub fn close(fd: RawFd) -> Result<()> {
  // SAFETY: closing a number we were handed is the caller's decision; no Rust object owns it.
  let ret = unsafe { libc::close(fd) };
  if ret == -1 {
    let e = last_error("close");
    if crate::error::errno_of(&e) != Some(libc::EINTR) {
      return Err(e);
    }
  }
  Ok(())
}

/// Sets `O_NONBLOCK` on `fd`.
pub fn set_nonblocking(fd: RawFd) -> Result<()> {
  // SAFETY: F_GETFL takes no argument and touches no memory.
  let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) }, "fcntl(F_GETFL)")?;
  // SAFETY: F_SETFL takes an integer argument.
  let ret = unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
  cvt(ret, "fcntl(F_SETFL)")?;
  Ok(())
}

/// `unlink(path)`, ignoring a missing file.
pub fn unlink_if_exists(path: &str) -> Result<()> {
  let cpath = CString::new(path).map_err(|_| invalid("path must not contain NUL"))?;
  // SAFETY: `cpath` is a valid NUL-terminated string.
  if unsafe { libc::unlink(cpath.as_ptr()) } == -1 {
    let errno = crate::error::last_errno();
    if errno != libc::ENOENT {
      return Err(errno_error(&format!("unlink {path}"), errno));
    }
  }
  Ok(())
}

// ---- JavaScript API ----

/// Creates an anonymous shared-memory file of `size` bytes (memfd, close-on-exec, sealable).
/// The caller owns the returned fd.
#[napi]
pub fn memfd_create(name: String, size: f64) -> Result<i32> {
  Ok(create_memfd(&name, to_size("size", size)?)?.into_raw_fd())
}

/// `pipe2(O_CLOEXEC)`: a blocking pipe, as `[read end, write end]`. The caller owns both fds.
/// Blocking matters for the end given to another process (a clipboard source writes with
/// plain blocking writes, as it would into a compositor's pipe).
#[napi]
pub fn pipe() -> Result<Vec<i32>> {
  let mut fds = [0 as RawFd; 2];
  // SAFETY: `fds` is a valid, writable array of two ints for the duration of the call.
  cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
  Ok(vec![fds[0], fds[1]])
}

/// Closes `fd`.
#[napi]
pub fn close_fd(fd: i32) -> Result<()> {
  close(fd)
}

/// Sets the size of the file behind `fd` (ftruncate).
#[napi]
pub fn ftruncate_fd(fd: i32, size: f64) -> Result<()> {
  truncate(fd, to_size("size", size)?)
}

/// Gives the memory of a memfd (or tmpfs file) back at once: its pages are freed
/// (fallocate PUNCH_HOLE, size kept), so mappings of it stay valid and read as zeros.
#[napi]
pub fn discard_fd_pages(fd: i32) -> Result<()> {
  let size = size_of(fd)?;
  if size == 0 {
    return Ok(());
  }
  // SAFETY: fallocate only takes integers; an invalid fd gives EBADF.
  let r = unsafe {
    libc::fallocate(
      fd,
      libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
      0,
      size as libc::off_t,
    )
  };
  cvt(r, "fallocate")?;
  Ok(())
}

/// The size of the file behind `fd` (fstat st_size).
#[napi]
pub fn fd_size(fd: i32) -> Result<i64> {
  Ok(size_of(fd)? as i64)
}

/// Duplicates `fd` (close-on-exec). The caller owns the new fd.
#[napi]
pub fn dup_fd(fd: i32) -> Result<i32> {
  Ok(dup(fd)?.into_raw_fd())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn pipe_ends_are_blocking_and_close_on_exec() {
    let fds = pipe().unwrap();
    for &fd in &fds {
      // SAFETY: plain fcntl queries on fds we own.
      let (fl, fd_flags) = unsafe { (libc::fcntl(fd, libc::F_GETFL), libc::fcntl(fd, libc::F_GETFD)) };
      assert_eq!(fl & libc::O_NONBLOCK, 0);
      assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
    }
    // SAFETY: writing 3 bytes from a valid buffer into the pipe we own.
    assert_eq!(unsafe { libc::write(fds[1], b"abc".as_ptr().cast(), 3) }, 3);
    let mut buf = [0u8; 8];
    // SAFETY: reading into a valid, writable buffer of 8 bytes.
    assert_eq!(unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 8) }, 3);
    close(fds[0]).unwrap();
    close(fds[1]).unwrap();
  }

  #[test]
  fn memfd_has_the_requested_size_and_can_be_resized() {
    let fd = create_memfd("test", 12345).unwrap();
    assert_eq!(size_of(fd.as_raw_fd()).unwrap(), 12345);
    truncate(fd.as_raw_fd(), 10).unwrap();
    assert_eq!(size_of(fd.as_raw_fd()).unwrap(), 10);
  }

  #[test]
  fn memfd_is_close_on_exec_and_sealable() {
    let fd = create_memfd("test", 0).unwrap();
    // SAFETY: plain fcntl queries.
    let fdflags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    // SAFETY: F_ADD_SEALS takes an integer argument.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) };
    assert_eq!(ret, 0, "a memfd created with MFD_ALLOW_SEALING accepts seals");
  }

  #[test]
  fn dup_gives_a_new_close_on_exec_fd_on_the_same_file() {
    let fd = create_memfd("test", 77).unwrap();
    let copy = dup(fd.as_raw_fd()).unwrap();
    assert_ne!(copy.as_raw_fd(), fd.as_raw_fd());
    assert_eq!(size_of(copy.as_raw_fd()).unwrap(), 77);
    // SAFETY: plain fcntl query.
    let fdflags = unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
  }

  #[test]
  fn discarding_a_memfd_frees_its_pages_and_keeps_its_size() {
    let fd = create_memfd("test", 8192).unwrap();
    let data = [0xabu8; 8192];
    // SAFETY: `data` is valid for 8192 bytes of reads.
    let n = unsafe { libc::pwrite(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
    assert_eq!(n, 8192);
    discard_fd_pages(fd.as_raw_fd()).unwrap();
    assert_eq!(size_of(fd.as_raw_fd()).unwrap(), 8192);
    let mut back = [1u8; 8192];
    // SAFETY: `back` is valid for 8192 bytes of writes.
    let n = unsafe { libc::pread(fd.as_raw_fd(), back.as_mut_ptr().cast(), back.len(), 0) };
    assert_eq!(n, 8192);
    assert!(
      back.iter().all(|&b| b == 0),
      "the pages read as zeros once discarded"
    );
  }

  #[test]
  fn closing_a_bad_fd_reports_ebadf() {
    let e = close(-1).unwrap_err();
    assert_eq!(e.status.0, "EBADF");
    assert_eq!(e.reason, "close: Bad file descriptor (EBADF)");
  }

  #[test]
  fn memfd_names_with_nul_are_rejected() {
    assert_eq!(create_memfd("a\0b", 1).unwrap_err().status.0, "EINVAL");
  }
}
