//! A listening Unix socket with libwayland's conventions (wayland-server.c, `wl_socket_lock` and
//! `wl_socket_init_for_display_name`): `NAME.lock` is created and locked with flock before the
//! socket is touched, so a stale socket left by a crashed compositor can be unlinked safely, and
//! a live one is never stolen.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use napi_derive::napi;

use crate::error::{cvt, cvt_retry, errno_error, error, invalid, last_errno, Result};
use crate::fd::unlink_if_exists;
use crate::socket::{stream_socket, unix_addr};

const BACKLOG: libc::c_int = 128;

pub struct Listener {
  socket: Option<OwnedFd>,
  lock: Option<OwnedFd>,
  path: String,
  lock_path: String,
}

impl Listener {
  pub fn bind(path: &str) -> Result<Self> {
    let (addr, addr_len) = unix_addr(path)?;
    let lock_path = format!("{path}.lock");
    let clock = CString::new(lock_path.as_str()).map_err(|_| invalid("path must not contain NUL"))?;
    // SAFETY: `clock` is a valid NUL-terminated string; the mode is passed as the variadic int.
    let raw = unsafe {
      libc::open(
        clock.as_ptr(),
        libc::O_CREAT | libc::O_CLOEXEC | libc::O_RDWR,
        (libc::S_IRUSR | libc::S_IWUSR | libc::S_IRGRP | libc::S_IWGRP) as libc::c_uint,
      )
    };
    let raw = cvt(raw, &format!("open {lock_path}"))?;
    // SAFETY: open returned a new fd that nothing else owns.
    let lock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: flock has no memory-safety preconditions.
    if let Err(e) = cvt_retry("flock", || unsafe {
      libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB)
    }) {
      if crate::error::errno_of(&e) == Some(libc::EWOULDBLOCK) {
        return Err(error(
          "EADDRINUSE",
          format!("socket {path} is in use by another compositor"),
        ));
      }
      return Err(e);
    }
    // From here on the lock is ours: a socket file at `path` is stale. If anything below fails,
    // `listener` drops and unlinks the lock file it owns.
    let mut listener = Listener {
      socket: None,
      lock: Some(lock),
      path: path.to_owned(),
      lock_path,
    };
    unlink_if_exists(path)?;
    let sock = stream_socket(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
    // SAFETY: `addr` is a valid sockaddr_un of `addr_len` bytes that outlives the call.
    let ret = unsafe {
      libc::bind(
        sock.as_raw_fd(),
        (&addr as *const libc::sockaddr_un).cast(),
        addr_len,
      )
    };
    cvt(ret, &format!("bind {path}"))?;
    listener.socket = Some(sock);
    let sock = listener.socket.as_ref().map_or(-1, |s| s.as_raw_fd());
    // SAFETY: listen has no memory-safety preconditions.
    cvt(unsafe { libc::listen(sock, BACKLOG) }, &format!("listen {path}"))?;
    Ok(listener)
  }

  /// The listening fd, or -1 once closed.
  pub fn fd(&self) -> i32 {
    self.socket.as_ref().map_or(-1, |s| s.as_raw_fd())
  }

  pub fn path(&self) -> &str {
    &self.path
  }

  /// `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)`; `None` when no connection is pending.
  pub fn accept(&self) -> Result<Option<OwnedFd>> {
    let Some(sock) = &self.socket else {
      return Err(error(
        "EBADF",
        format!("accept: listener {} is closed", self.path),
      ));
    };
    loop {
      // SAFETY: null address and length pointers are allowed: the peer address is not wanted.
      let raw = unsafe {
        libc::accept4(
          sock.as_raw_fd(),
          std::ptr::null_mut(),
          std::ptr::null_mut(),
          libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
      };
      if raw >= 0 {
        // SAFETY: accept4 returned a new fd that nothing else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(raw) }));
      }
      match last_errno() {
        // A connection that was reset while queued is skipped, as an interrupted call is retried.
        libc::EINTR | libc::ECONNABORTED => continue,
        libc::EAGAIN => return Ok(None),
        errno => return Err(errno_error("accept4", errno)),
      }
    }
  }

  /// Unlinks the socket and the lock file and closes both fds. Idempotent.
  pub fn close(&mut self) {
    // Errors are ignored as libwayland's wl_socket_destroy does: there is nothing left to undo.
    if let Some(sock) = self.socket.take() {
      let _ = unlink_if_exists(&self.path);
      drop(sock);
    }
    if let Some(lock) = self.lock.take() {
      let _ = unlink_if_exists(&self.lock_path);
      drop(lock);
    }
  }
}

impl Drop for Listener {
  fn drop(&mut self) {
    self.close();
  }
}

// ---- JavaScript API ----

/// A listening Unix socket at `path`, guarded by `path.lock` as libwayland does.
/// The object owns both fds; `close()` (or garbage collection) unlinks both files and closes them.
#[napi]
pub struct UnixListener {
  inner: Listener,
}

#[napi]
impl UnixListener {
  /// Locks `${path}.lock`, unlinks a stale socket at `path`, binds and listens (backlog 128).
  /// Throws `socket PATH is in use by another compositor` (code EADDRINUSE) if the lock is held.
  #[napi(factory)]
  pub fn bind(path: String) -> Result<Self> {
    Ok(UnixListener {
      inner: Listener::bind(&path)?,
    })
  }

  /// The listening fd (non-blocking), -1 after `close()`. Owned by the listener.
  #[napi(getter)]
  pub fn fd(&self) -> i32 {
    self.inner.fd()
  }

  #[napi(getter)]
  pub fn path(&self) -> String {
    self.inner.path().to_owned()
  }

  /// A pending connection as a non-blocking, close-on-exec fd owned by the caller, or null.
  #[napi]
  pub fn accept(&self) -> Result<Option<i32>> {
    Ok(self.inner.accept()?.map(IntoRawFd::into_raw_fd))
  }

  /// Unlinks the socket and lock files and closes both fds. Idempotent.
  #[napi]
  pub fn close(&mut self) {
    self.inner.close();
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{connect_unix, recv_with_fds, send_with_fds};
  use std::path::Path;

  fn temp_dir(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wayland-shim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_str().unwrap().to_owned()
  }

  #[test]
  fn a_second_listener_on_the_same_name_gets_a_clear_error() {
    let dir = temp_dir("lock");
    let path = format!("{dir}/wayland-7");
    let mut first = Listener::bind(&path).unwrap();
    let e = Listener::bind(&path).err().expect("the lock is held");
    assert_eq!(e.status.0, "EADDRINUSE");
    assert_eq!(e.reason, format!("socket {path} is in use by another compositor"));
    // The failed attempt must not have removed the live socket or its lock.
    assert!(Path::new(&path).exists());
    assert!(Path::new(&format!("{path}.lock")).exists());
    first.close();
    assert!(!Path::new(&path).exists());
    assert!(!Path::new(&format!("{path}.lock")).exists());
    assert_eq!(first.fd(), -1);
    let _again = Listener::bind(&path).unwrap();
  }

  #[test]
  fn a_stale_socket_file_is_replaced() {
    let dir = temp_dir("stale");
    let path = format!("{dir}/wayland-1");
    std::fs::write(&path, b"stale").unwrap();
    let listener = Listener::bind(&path).unwrap();
    let client = connect_unix(&path).unwrap();
    let server = listener.accept().unwrap().expect("a pending connection");
    assert_eq!(send_with_fds(client.as_raw_fd(), b"ping", &[]).unwrap(), Some(4));
    let mut buf = [0u8; 8];
    let got = recv_with_fds(server.as_raw_fd(), &mut buf).unwrap().unwrap();
    assert_eq!(&buf[..got.bytes], b"ping");
    assert!(listener.accept().unwrap().is_none());
  }

  #[test]
  fn the_lock_file_has_libwayland_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let path = format!("{dir}/w");
    // SAFETY: umask only changes this process's file-creation mask.
    let old = unsafe { libc::umask(0) };
    let listener = Listener::bind(&path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let _listener = listener.unwrap();
    let mode = std::fs::metadata(format!("{path}.lock"))
      .unwrap()
      .permissions()
      .mode();
    assert_eq!(mode & 0o777, 0o660);
  }
}
