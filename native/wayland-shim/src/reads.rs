//! Reads of a watched socket done natively, where the poller sees it ready.
//!
//! A native steady path (commits.rs, steady.rs) that handles every message of a socket for a
//! while puts a hook on its fd. When the poller finds that fd readable, it calls the hook instead
//! of JavaScript: the hook reads the socket (`read`), takes the messages it handles, and keeps
//! what it does not (`keep`) for JavaScript, whose next `recvMsgInto` of that fd returns those
//! bytes first (`take_kept`), as if read from the socket then. The hook says what JavaScript is
//! told (`Report`): nothing (the read was handled whole), readable (bytes kept, or a read the
//! hook leaves to JavaScript: fds, the end of the stream, an error), and a notice (`NOTICE`: the
//! native path has something for JavaScript to do first, see its `takeNotice`).
//!
//! A read may end inside a message: the hook carries that start (`carry`) into its next read,
//! which gets it first; JavaScript's next read of the fd gets it first too (with what was kept),
//! whoever reads next. Everything here runs on the main thread, between JavaScript's turns (the
//! poller's callback from the loop), so a hook never runs inside a JavaScript call of its native
//! path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{OwnedFd, RawFd};
use std::rc::Rc;

use crate::poller::READABLE;
use crate::socket::{recv_with_fds, MAX_FDS};
use crate::steady::{rd16, rd32};

/// Event bit for JavaScript: a native hook left a notice for the fd's owner.
pub const NOTICE: u32 = 8;

/// Bytes a hook reads at a time (as Node's reads of the links, tcp.ts), and room for a message
/// carried over (a Waltham or Wayland message is at most 64 KiB).
const READ_BYTES: usize = 1 << 20;
const CARRY_BYTES: usize = 64 * 1024;

/// What the poller reports to JavaScript after a hook ran: event bits, 0 for nothing.
pub type Report = u32;

/// A hook: handles the fd's readiness natively, returns what JavaScript is told.
pub type Hook = Rc<dyn Fn(RawFd) -> Report>;

/// What a read got for the hook.
pub enum Read<'a> {
  /// These bytes, read now.
  Bytes(&'a [u8]),
  /// Nothing to read now.
  Nothing,
  /// JavaScript reads this one (fds came, kept with the bytes; the end of the stream; an error).
  ToJs,
}

#[derive(Default)]
struct Kept {
  bytes: Vec<u8>,
  at: usize,
  fds: Vec<OwnedFd>,
}

thread_local! {
  static HOOKS: RefCell<HashMap<RawFd, Hook>> = RefCell::new(HashMap::new());
  static KEPT: RefCell<HashMap<RawFd, Kept>> = RefCell::new(HashMap::new());
  static CARRIED: RefCell<HashMap<RawFd, Vec<u8>>> = RefCell::new(HashMap::new());
  static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; CARRY_BYTES + READ_BYTES]);
}

/// Handle `fd`'s readiness with `hook` from now on (replaces an earlier one).
pub fn set_hook(fd: RawFd, hook: Hook) {
  HOOKS.with(|h| h.borrow_mut().insert(fd, hook));
}

/// Handle `fd`'s readiness with `read` on `state` (borrowed for each call; while JavaScript holds
/// it, the read is left to JavaScript). Returns the fd and the hook, for `clear_hook_if`.
pub fn hook_state<T: 'static>(
  state: &Rc<RefCell<T>>,
  fd: RawFd,
  read: impl Fn(&mut T, RawFd) -> Report + 'static,
) -> (RawFd, Hook) {
  let state = Rc::clone(state);
  let hook: Hook = Rc::new(move |fd| match state.try_borrow_mut() {
    Ok(mut s) => read(&mut s, fd),
    Err(_) => READABLE,
  });
  set_hook(fd, Rc::clone(&hook));
  (fd, hook)
}

/// Report `fd`'s readiness to JavaScript again.
pub fn clear_hook(fd: RawFd) {
  HOOKS.with(|h| h.borrow_mut().remove(&fd));
}

/// Report `fd`'s readiness to JavaScript again, if `hook` is still the one on it (the fd may
/// have been closed and its number reused by a socket with a hook of its own).
pub fn clear_hook_if(fd: RawFd, hook: &Hook) {
  HOOKS.with(|h| {
    let mut h = h.borrow_mut();
    if h.get(&fd).is_some_and(|on| Rc::ptr_eq(on, hook)) {
      h.remove(&fd);
    }
  });
}

/// The hook of `fd`, if it has one.
pub fn hook(fd: RawFd) -> Option<Hook> {
  HOOKS.with(|h| h.borrow().get(&fd).cloned())
}

/// `fd` is no longer watched (it may be closed and its number reused): its hook and what was
/// kept go (fds kept are closed).
pub fn forget(fd: RawFd) {
  clear_hook(fd);
  KEPT.with(|k| k.borrow_mut().remove(&fd));
  CARRIED.with(|c| c.borrow_mut().remove(&fd));
}

/// Bytes kept for JavaScript on `fd`.
pub fn kept(fd: RawFd) -> usize {
  KEPT.with(|k| k.borrow().get(&fd).map_or(0, |k| k.bytes.len() - k.at))
}

/// Read `fd` for a hook and hand the bytes to `f` (valid during the call), after what the last
/// read carried over. Nothing is read while bytes are kept for JavaScript: they come first.
pub fn read<R>(fd: RawFd, f: impl FnOnce(Read<'_>) -> R) -> R {
  if kept(fd) > 0 {
    return f(Read::ToJs);
  }
  SCRATCH.with(|s| {
    let Ok(mut buf) = s.try_borrow_mut() else {
      return f(Read::ToJs);
    };
    let carried = CARRIED.with(|c| c.borrow_mut().remove(&fd)).unwrap_or_default();
    let c = carried.len().min(CARRY_BYTES);
    buf[..c].copy_from_slice(&carried[..c]);
    match recv_with_fds(fd, &mut buf[c..]) {
      Ok(None) => {
        if c > 0 {
          CARRIED.with(|m| m.borrow_mut().insert(fd, carried));
        }
        f(Read::Nothing)
      }
      Ok(Some(r)) if r.bytes > 0 && r.fds.is_empty() => f(Read::Bytes(&buf[..c + r.bytes])),
      Ok(Some(r)) => {
        // Fds: the bytes and fds go to JavaScript together. The end of the stream: JavaScript
        // reads it again (a stream socket says so again), after what was carried.
        keep_with(fd, &buf[..c + r.bytes], r.fds);
        f(Read::ToJs)
      }
      // JavaScript reads again and gets the error itself.
      Err(_) => {
        keep(fd, &buf[..c]);
        f(Read::ToJs)
      }
    }
  })
}

/// The start of a message a hook's read ended in, for its next read (at most 64 KiB: more is
/// kept for JavaScript, which knows what to make of it).
pub fn carry(fd: RawFd, bytes: &[u8]) {
  if bytes.len() > CARRY_BYTES {
    keep(fd, bytes);
  } else if !bytes.is_empty() {
    CARRIED.with(|c| c.borrow_mut().insert(fd, bytes.to_vec()));
  }
}

/// Keep `rest`, what a hook did not take of a read, for whoever reads next: carried when it is
/// the start of one message (`whole` says how long a message starting there is, None when its
/// header is cut), else kept for JavaScript. Returns what JavaScript is told: nothing, or
/// readable.
pub fn leave(fd: RawFd, rest: &[u8], whole: impl Fn(&[u8]) -> Option<usize>) -> Report {
  if rest.is_empty() {
    return 0;
  }
  match whole(rest) {
    Some(size) if size <= rest.len() => {
      keep(fd, rest);
      READABLE
    }
    _ if rest.len() <= CARRY_BYTES => {
      carry(fd, rest);
      0
    }
    _ => {
      keep(fd, rest);
      READABLE
    }
  }
}

/// How long the Waltham message starting `bytes` is (None: its header is cut). Layout:
/// ../shared/vectors/waltham/README.md.
pub fn waltham_size(bytes: &[u8]) -> Option<usize> {
  (bytes.len() >= 4).then(|| rd16(bytes, 2))
}

/// How long the Wayland message starting `bytes` is (None: its header is cut).
pub fn wayland_size(bytes: &[u8]) -> Option<usize> {
  (bytes.len() >= 8).then(|| (rd32(bytes, 4) >> 16) as usize)
}

/// Keep `bytes` (read by a hook, not handled) for JavaScript's next read of `fd`.
pub fn keep(fd: RawFd, bytes: &[u8]) {
  keep_with(fd, bytes, Vec::new());
}

fn keep_with(fd: RawFd, bytes: &[u8], fds: Vec<OwnedFd>) {
  if bytes.is_empty() && fds.is_empty() {
    return;
  }
  KEPT.with(|k| {
    let mut k = k.borrow_mut();
    let kept = k.entry(fd).or_default();
    kept.bytes.extend_from_slice(bytes);
    kept.fds.extend(fds);
  });
}

/// What was kept for `fd`, into `buf` (as much as fits) and its fds (all of them, at most
/// MAX_FDS at a time); None: nothing kept.
pub fn take_kept(fd: RawFd, buf: &mut [u8]) -> Option<(usize, Vec<OwnedFd>)> {
  // What a hook carried comes first: JavaScript reads now.
  if let Some(carried) = CARRIED.with(|c| c.borrow_mut().remove(&fd)) {
    KEPT.with(|k| {
      let mut map = k.borrow_mut();
      let kept = map.entry(fd).or_default();
      kept.bytes.splice(kept.at..kept.at, carried);
    });
  }
  KEPT.with(|k| {
    let mut map = k.borrow_mut();
    let kept = map.get_mut(&fd)?;
    let n = (kept.bytes.len() - kept.at).min(buf.len());
    buf[..n].copy_from_slice(&kept.bytes[kept.at..kept.at + n]);
    kept.at += n;
    let fds: Vec<OwnedFd> = kept.fds.drain(..kept.fds.len().min(MAX_FDS)).collect();
    if kept.at == kept.bytes.len() && kept.fds.is_empty() {
      map.remove(&fd);
    }
    Some((n, fds))
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{pair, send_with_fds};
  use std::os::fd::AsRawFd;

  #[test]
  fn kept_bytes_come_before_the_socket_and_a_read_waits_for_them() {
    let (a, b) = pair().unwrap();
    let fd = b.as_raw_fd();
    send_with_fds(a.as_raw_fd(), b"abcdef", &[]).unwrap();
    let got = read(fd, |r| match r {
      Read::Bytes(bytes) => bytes.to_vec(),
      _ => panic!("bytes expected"),
    });
    assert_eq!(got, b"abcdef");
    keep(fd, &got[2..]);
    send_with_fds(a.as_raw_fd(), b"gh", &[]).unwrap();
    // Bytes kept: the hook does not read past them.
    assert!(read(fd, |r| matches!(r, Read::ToJs)));
    let mut buf = [0u8; 3];
    let (n, fds) = take_kept(fd, &mut buf).unwrap();
    assert_eq!((&buf[..n], fds.len()), (&b"cde"[..], 0));
    let (n, _) = take_kept(fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"f");
    assert!(take_kept(fd, &mut buf).is_none());
    assert!(read(fd, |r| matches!(r, Read::Bytes(b"gh"))));
    assert!(read(fd, |r| matches!(r, Read::Nothing)));
  }

  #[test]
  fn fds_and_the_end_of_the_stream_are_left_to_javascript() {
    let (a, b) = pair().unwrap();
    let fd = b.as_raw_fd();
    let (x, _y) = pair().unwrap();
    send_with_fds(a.as_raw_fd(), b"with fd", &[x.as_raw_fd()]).unwrap();
    assert!(read(fd, |r| matches!(r, Read::ToJs)));
    let mut buf = [0u8; 16];
    let (n, fds) = take_kept(fd, &mut buf).unwrap();
    assert_eq!((&buf[..n], fds.len()), (&b"with fd"[..], 1));
    drop(a);
    assert!(read(fd, |r| matches!(r, Read::ToJs)));
    assert_eq!(kept(fd), 0);
    forget(fd);
  }

  /// Waltham messages of `n` bytes each (size in the header, the rest filler).
  fn messages(n: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for k in 0..count {
      let mut m = vec![k as u8; n];
      m[..4].copy_from_slice(&[0, 0, n as u8, (n >> 8) as u8]);
      out.extend(m);
    }
    out
  }

  #[test]
  fn a_message_cut_by_a_read_is_carried_into_the_next_and_given_to_javascript_first() {
    let (a, b) = pair().unwrap();
    let fd = b.as_raw_fd();
    let all = messages(20, 3);
    // Two messages and half of the third arrive.
    send_with_fds(a.as_raw_fd(), &all[..50], &[]).unwrap();
    let report = read(fd, |r| match r {
      Read::Bytes(bytes) => {
        assert_eq!(bytes, &all[..50]);
        leave(fd, &bytes[40..], waltham_size)
      }
      _ => panic!("bytes expected"),
    });
    assert_eq!(report, 0, "a cut message is carried, JavaScript hears of nothing");
    assert_eq!(kept(fd), 0);
    send_with_fds(a.as_raw_fd(), &all[50..], &[]).unwrap();
    // The next read begins with what was carried.
    let report = read(fd, |r| match r {
      Read::Bytes(bytes) => {
        assert_eq!(bytes, &all[40..]);
        // A whole message the hook does not take: JavaScript's.
        leave(fd, bytes, waltham_size)
      }
      _ => panic!("bytes expected"),
    });
    assert_eq!(report, READABLE);
    let mut buf = [0u8; 64];
    let (n, _) = take_kept(fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], &all[40..]);
    // Carried bytes go to JavaScript when it reads before the hook does again.
    send_with_fds(a.as_raw_fd(), &all[..30], &[]).unwrap();
    read(fd, |r| match r {
      Read::Bytes(bytes) => assert_eq!(leave(fd, &bytes[20..], waltham_size), 0),
      _ => panic!("bytes expected"),
    });
    let (n, _) = take_kept(fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], &all[20..30]);
    assert!(take_kept(fd, &mut buf).is_none());
    forget(fd);
  }
}
