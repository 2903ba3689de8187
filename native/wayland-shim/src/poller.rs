//! fd readiness on Node's event loop.
//!
//! One native thread per poller blocks in `epoll_wait` and reports each ready fd to JavaScript
//! through a threadsafe function; the main thread never blocks and nothing busy-polls. Every fd
//! is watched with `EPOLLONESHOT`: once reported it stays quiet until JS calls `rearm`, so JS can
//! drain the socket (read until EAGAIN) first and no report piles up meanwhile.
//!
//! Each `add` gets a new generation number, carried in the epoll data. A report still queued for
//! JS when its fd is removed (and maybe reused for another file and added again) no longer
//! matches the registered generation and is dropped on the main thread, so JS never sees a stale
//! report after `remove`.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use napi::bindgen_prelude::Function;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::error::{cvt, errno_error, error, invalid, last_errno, Result};

/// Interest and event bits seen by JS.
pub const READABLE: u32 = 1;
pub const WRITABLE: u32 = 2;
pub const HANGUP: u32 = 4;

/// Epoll data of the wake-up eventfd; fds use `generation << 32 | fd`.
const WAKE: u64 = u64::MAX;
const MAX_EVENTS: usize = 64;

/// One readiness report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
  pub fd: RawFd,
  pub generation: u32,
  /// READABLE | WRITABLE | HANGUP bits.
  pub events: u32,
}

fn epoll_mask(interest: u32) -> Result<u32> {
  if interest > (READABLE | WRITABLE) {
    return Err(invalid(format!(
      "interest must be a combination of 1 (readable) and 2 (writable), got {interest}"
    )));
  }
  let mut mask = libc::EPOLLONESHOT as u32;
  if interest & READABLE != 0 {
    mask |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
  }
  if interest & WRITABLE != 0 {
    mask |= libc::EPOLLOUT as u32;
  }
  Ok(mask)
}

fn event_bits(mask: u32) -> u32 {
  let mut bits = 0;
  if mask & libc::EPOLLIN as u32 != 0 {
    bits |= READABLE;
  }
  if mask & libc::EPOLLOUT as u32 != 0 {
    bits |= WRITABLE;
  }
  if mask & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 != 0 {
    bits |= HANGUP;
  }
  bits
}

/// State shared by the JS-facing object, the epoll thread and the threadsafe function.
struct Shared {
  epoll: OwnedFd,
  wake: OwnedFd,
  stop: AtomicBool,
  next_generation: AtomicU32,
  watched: Mutex<HashMap<RawFd, u32>>,
  thread: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
  fn watched(&self) -> MutexGuard<'_, HashMap<RawFd, u32>> {
    // The map stays consistent even if a holder panicked: recover it.
    self.watched.lock().unwrap_or_else(|e| e.into_inner())
  }

  fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, data: u64, call: &str) -> Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    let ret = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) };
    cvt(ret, call)?;
    Ok(())
  }

  /// Stops the thread and waits for it. Idempotent.
  fn stop_and_join(&self) {
    self.stop.store(true, SeqCst);
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from `one` to our eventfd; a failure (counter full) still leaves it
    // readable, which is all the thread needs.
    unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(handle) = handle {
      let _ = handle.join();
    }
  }

  fn run(&self, mut sink: impl FnMut(Event) -> bool) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    while !self.stop.load(SeqCst) {
      // SAFETY: `events` has room for MAX_EVENTS entries.
      let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), MAX_EVENTS as i32, -1) };
      if n < 0 {
        if last_errno() == libc::EINTR {
          continue;
        }
        // Only a broken epoll fd gets here; nothing could be reported any more.
        eprintln!(
          "wayland-shim poller: {}",
          errno_error("epoll_wait", last_errno()).reason
        );
        return;
      }
      for ev in &events[..n as usize] {
        // Copy the fields out: the struct is packed on x86_64.
        let (mask, data) = (ev.events, ev.u64);
        if data == WAKE {
          continue;
        }
        let event = Event {
          fd: data as u32 as RawFd,
          generation: (data >> 32) as u32,
          events: event_bits(mask),
        };
        if !sink(event) {
          return;
        }
      }
    }
  }
}

/// The epoll side of a poller, independent of JS: fds with one-shot interest, and a thread
/// that hands each report to a sink.
pub struct Watcher {
  shared: Arc<Shared>,
}

impl Watcher {
  pub fn new() -> Result<Watcher> {
    // SAFETY: epoll_create1 has no memory-safety preconditions.
    let epoll = cvt(
      unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
      "epoll_create1",
    )?;
    // SAFETY: epoll_create1 returned a new fd that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
    // SAFETY: eventfd has no memory-safety preconditions.
    let wake = cvt(
      unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) },
      "eventfd",
    )?;
    // SAFETY: eventfd returned a new fd that nothing else owns.
    let wake = unsafe { OwnedFd::from_raw_fd(wake) };
    let shared = Shared {
      epoll,
      wake,
      stop: AtomicBool::new(false),
      next_generation: AtomicU32::new(1),
      watched: Mutex::new(HashMap::new()),
      thread: Mutex::new(None),
    };
    shared.ctl(
      libc::EPOLL_CTL_ADD,
      shared.wake.as_raw_fd(),
      libc::EPOLLIN as u32,
      WAKE,
      "epoll_ctl(ADD)",
    )?;
    Ok(Watcher {
      shared: Arc::new(shared),
    })
  }

  /// Starts the thread; `sink` gets every report and returns false to end the thread.
  pub fn start(&self, sink: impl FnMut(Event) -> bool + Send + 'static) -> Result<()> {
    let shared = Arc::clone(&self.shared);
    let handle = std::thread::Builder::new()
      .name("wayland-shim-poller".into())
      .spawn(move || shared.run(sink))
      .map_err(|e| error("EAGAIN", format!("poller thread: {e}")))?;
    *self.shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    Ok(())
  }

  /// Watches `fd` for `interest`; returns the number of fds watched afterwards.
  pub fn add(&self, fd: RawFd, interest: u32) -> Result<usize> {
    let mask = epoll_mask(interest)?;
    let mut watched = self.shared.watched();
    let generation = self.shared.next_generation.fetch_add(1, Relaxed);
    let data = (u64::from(generation) << 32) | u64::from(fd as u32);
    self
      .shared
      .ctl(libc::EPOLL_CTL_ADD, fd, mask, data, "epoll_ctl(ADD)")?;
    watched.insert(fd, generation);
    Ok(watched.len())
  }

  /// Re-enables the report of `fd` after it fired, with a new interest.
  pub fn rearm(&self, fd: RawFd, interest: u32) -> Result<()> {
    let mask = epoll_mask(interest)?;
    let watched = self.shared.watched();
    let Some(&generation) = watched.get(&fd) else {
      return Err(error(
        "ENOENT",
        format!("rearm: fd {fd} is not watched by this poller"),
      ));
    };
    let data = (u64::from(generation) << 32) | u64::from(fd as u32);
    self
      .shared
      .ctl(libc::EPOLL_CTL_MOD, fd, mask, data, "epoll_ctl(MOD)")
  }

  /// Stops watching `fd` (nothing happens if it is not watched); returns the number of fds
  /// watched afterwards. Must be called before the fd is closed.
  pub fn remove(&self, fd: RawFd) -> Result<usize> {
    let mut watched = self.shared.watched();
    if watched.remove(&fd).is_some() {
      if let Err(e) = self.shared.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)") {
        // Already gone from epoll: the fd was closed before remove.
        let errno = crate::error::errno_of(&e);
        if errno != Some(libc::ENOENT) && errno != Some(libc::EBADF) {
          return Err(e);
        }
      }
    }
    Ok(watched.len())
  }

  /// True if `event` belongs to the current registration of its fd.
  pub fn is_current(&self, event: &Event) -> bool {
    self.shared.watched().get(&event.fd) == Some(&event.generation)
  }

  /// Stops and joins the thread and forgets every fd. Idempotent.
  pub fn stop(&self) {
    self.shared.stop_and_join();
    self.shared.watched().clear();
  }
}

impl Drop for Watcher {
  fn drop(&mut self) {
    self.stop();
  }
}

// ---- JavaScript API ----

/// The threadsafe function handle; napi allows calling it from any thread.
#[derive(Clone, Copy)]
struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: napi threadsafe functions are designed to be called from any thread.
unsafe impl Send for Tsfn {}

impl Tsfn {
  /// Queues `data` for `call_js` without blocking.
  ///
  /// # Safety
  /// The function must not be released or finalized yet.
  unsafe fn call(self, data: *mut std::ffi::c_void) -> sys::napi_status {
    // SAFETY: per the contract the function is alive; napi allows the call from any thread.
    unsafe { sys::napi_call_threadsafe_function(self.0, data, sys::ThreadsafeFunctionCallMode::nonblocking) }
  }
}

/// What the threadsafe function keeps: the watcher state (to check generations on the main
/// thread) and whether the function has been finalized by Node.
struct TsfnState {
  watcher: Watcher,
  finalized: AtomicBool,
}

/// Runs on the main thread for each queued report; also with a null env when Node tears the
/// function down, to free queued data.
///
/// # Safety
/// Only called by Node, with `data` queued by the epoll thread and `context` set at creation.
unsafe extern "C" fn call_js(
  env: sys::napi_env,
  callback: sys::napi_value,
  context: *mut std::ffi::c_void,
  data: *mut std::ffi::c_void,
) {
  // SAFETY: every queued item is a Box<Event> leaked by the epoll thread, handed back once.
  let event = unsafe { Box::from_raw(data.cast::<Event>()) };
  if env.is_null() || callback.is_null() {
    return;
  }
  // SAFETY: with a non-null env the function is not finalized yet, and `context` points to the
  // TsfnState kept alive until finalization.
  let state = unsafe { &*context.cast::<TsfnState>() };
  if !state.watcher.is_current(&event) {
    return;
  }
  let mut args = [ptr::null_mut(); 2];
  let mut undefined = ptr::null_mut();
  let mut result = ptr::null_mut();
  // SAFETY: plain value creation and a call on the main thread, in the handle scope Node opens
  // around call_js.
  unsafe {
    sys::napi_create_int32(env, event.fd, &mut args[0]);
    sys::napi_create_uint32(env, event.events, &mut args[1]);
    sys::napi_get_undefined(env, &mut undefined);
    sys::napi_call_function(env, undefined, callback, 2, args.as_ptr(), &mut result);
  }
  // An exception thrown by the callback becomes an 'uncaughtException', as for any callback of
  // Node itself (left pending, Node 20 would only print a deprecation warning and drop it).
  let mut pending = false;
  // SAFETY: exception queries and napi_fatal_exception on the main thread with a live env.
  unsafe {
    sys::napi_is_exception_pending(env, &mut pending);
    if pending {
      let mut exception = ptr::null_mut();
      if sys::napi_get_and_clear_last_exception(env, &mut exception) == sys::Status::napi_ok {
        sys::napi_fatal_exception(env, exception);
      }
    }
  }
}

/// Runs on the main thread once the threadsafe function is released or its environment goes.
///
/// # Safety
/// Only called by Node, once, with the finalize data given at creation.
unsafe extern "C" fn finalize_tsfn(
  _env: sys::napi_env,
  data: *mut std::ffi::c_void,
  _hint: *mut std::ffi::c_void,
) {
  // SAFETY: `data` is the Arc<TsfnState> leaked in `Poller::new`, finalized once.
  let state = unsafe { Arc::from_raw(data.cast::<TsfnState>()) };
  state.finalized.store(true, SeqCst);
  // The thread must not call the function once this returns: stop it (a no-op after close()).
  state.watcher.stop();
}

/// Reports fd readiness to `callback(fd, events)` on the main thread; see the module docs.
/// Interest bits: 1 readable, 2 writable. Event bits: 1 readable, 2 writable, 4 hangup/error.
#[napi]
pub struct Poller {
  state: Arc<TsfnState>,
  tsfn: Tsfn,
  referenced: bool,
  closed: bool,
}

fn closed_error() -> crate::error::Error {
  error("EBADF", "Poller: the poller is closed")
}

impl Poller {
  fn set_referenced(&mut self, env: &Env, referenced: bool) {
    if self.referenced == referenced || self.state.finalized.load(SeqCst) {
      return;
    }
    // SAFETY: the function is alive (not finalized, not released: `closed` is checked by the
    // callers) and we are on the main thread.
    unsafe {
      if referenced {
        sys::napi_ref_threadsafe_function(env.raw(), self.tsfn.0);
      } else {
        sys::napi_unref_threadsafe_function(env.raw(), self.tsfn.0);
      }
    }
    self.referenced = referenced;
  }

  fn release(&mut self) {
    if self.closed {
      return;
    }
    self.closed = true;
    // Join the thread first: it must not call the function after the release.
    self.state.watcher.stop();
    if !self.state.finalized.load(SeqCst) {
      // SAFETY: not finalized, released once (guarded by `closed`), no thread calls it any more.
      unsafe {
        sys::napi_release_threadsafe_function(self.tsfn.0, sys::ThreadsafeFunctionReleaseMode::release)
      };
    }
  }
}

#[napi]
impl Poller {
  #[napi(constructor, ts_args_type = "callback: (fd: number, events: number) => void")]
  pub fn new(env: &Env, callback: Function<'_, (i32, u32), ()>) -> Result<Self> {
    let watcher = Watcher::new()?;
    let state = Arc::new(TsfnState {
      watcher,
      finalized: AtomicBool::new(false),
    });
    let raw_env = env.raw();
    let name = "wayland-shim poller";
    let mut js_name = ptr::null_mut();
    // SAFETY: `name` is valid UTF-8 of the given length.
    let status = unsafe {
      sys::napi_create_string_utf8(raw_env, name.as_ptr().cast(), name.len() as isize, &mut js_name)
    };
    if status != sys::Status::napi_ok {
      return Err(error(
        "EINVAL",
        format!("napi_create_string_utf8 failed (napi status {status})"),
      ));
    }
    let finalize_data = Arc::into_raw(Arc::clone(&state));
    let mut tsfn = ptr::null_mut();
    // SAFETY: `callback` is a live function; `finalize_data` (an Arc) stays valid until
    // `finalize_tsfn` takes it back, and `context` points into it. Unlimited queue, one thread.
    let status = unsafe {
      sys::napi_create_threadsafe_function(
        raw_env,
        callback.raw(),
        ptr::null_mut(),
        js_name,
        0,
        1,
        finalize_data as *mut _,
        Some(finalize_tsfn),
        finalize_data as *mut _,
        Some(call_js),
        &mut tsfn,
      )
    };
    if status != sys::Status::napi_ok {
      // SAFETY: napi did not take `finalize_data`; reclaim it.
      drop(unsafe { Arc::from_raw(finalize_data) });
      return Err(error(
        "EINVAL",
        format!("napi_create_threadsafe_function failed (napi status {status})"),
      ));
    }
    let tsfn = Tsfn(tsfn);
    let mut poller = Poller {
      state,
      tsfn,
      referenced: true,
      closed: false,
    };
    // Nothing is watched yet: do not keep the process alive.
    poller.set_referenced(env, false);
    let sink_tsfn = tsfn;
    if let Err(e) = poller.state.watcher.start(move |event| {
      let data = Box::into_raw(Box::new(event));
      // SAFETY: the function outlives this thread: it is released or finalized only after the
      // thread has been joined.
      let status = unsafe { sink_tsfn.call(data.cast()) };
      if status != sys::Status::napi_ok {
        // SAFETY: the item was not queued; reclaim it.
        drop(unsafe { Box::from_raw(data) });
        // Closing: the environment is going away.
        return status != sys::Status::napi_closing;
      }
      true
    }) {
      poller.release();
      return Err(e);
    }
    Ok(poller)
  }

  /// Watches `fd` with the given interest (1 readable, 2 writable, 3 both). One-shot: after a
  /// report, call `rearm` to get the next one.
  #[napi]
  pub fn add(&mut self, env: &Env, fd: i32, interest: u32) -> Result<()> {
    if self.closed {
      return Err(closed_error());
    }
    let count = self.state.watcher.add(fd, interest)?;
    if count > 0 {
      self.set_referenced(env, true);
    }
    Ok(())
  }

  /// Re-enables reports for `fd` after one was delivered, with a new interest.
  #[napi]
  pub fn rearm(&mut self, fd: i32, interest: u32) -> Result<()> {
    if self.closed {
      return Err(closed_error());
    }
    self.state.watcher.rearm(fd, interest)
  }

  /// Stops watching `fd`; no report for it is delivered after this returns. Call it before
  /// closing the fd. Removing an fd that is not watched does nothing.
  #[napi]
  pub fn remove(&mut self, env: &Env, fd: i32) -> Result<()> {
    if self.closed {
      return Ok(());
    }
    let count = self.state.watcher.remove(fd)?;
    if count == 0 {
      self.set_referenced(env, false);
    }
    Ok(())
  }

  /// Stops the thread and forgets every fd (they are not closed). Idempotent.
  #[napi]
  pub fn close(&mut self) {
    self.release();
  }
}

impl Drop for Poller {
  fn drop(&mut self) {
    self.release();
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{pair, send_with_fds};
  use std::sync::mpsc::{channel, Receiver};
  use std::time::Duration;

  fn started() -> (Watcher, Receiver<Event>) {
    let watcher = Watcher::new().unwrap();
    let (tx, rx) = channel();
    watcher.start(move |e| tx.send(e).is_ok()).unwrap();
    (watcher, rx)
  }

  const QUIET: Duration = Duration::from_millis(150);
  const SOON: Duration = Duration::from_secs(5);

  #[test]
  fn readable_is_reported_once_until_rearmed() {
    let (w, rx) = started();
    let (a, b) = pair().unwrap();
    w.add(b.as_raw_fd(), READABLE).unwrap();
    assert!(rx.recv_timeout(QUIET).is_err(), "nothing to read yet");
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    let e = rx.recv_timeout(SOON).unwrap();
    assert_eq!((e.fd, e.events), (b.as_raw_fd(), READABLE));
    assert!(w.is_current(&e));
    send_with_fds(a.as_raw_fd(), b"y", &[]).unwrap();
    assert!(
      rx.recv_timeout(QUIET).is_err(),
      "one-shot: no second report before rearm"
    );
    w.rearm(b.as_raw_fd(), READABLE).unwrap();
    let e = rx.recv_timeout(SOON).unwrap();
    assert_eq!(e.events & READABLE, READABLE);
  }

  #[test]
  fn writable_and_hangup_are_reported() {
    let (w, rx) = started();
    let (a, b) = pair().unwrap();
    w.add(a.as_raw_fd(), WRITABLE).unwrap();
    assert_eq!(rx.recv_timeout(SOON).unwrap().events, WRITABLE);
    drop(b);
    w.rearm(a.as_raw_fd(), READABLE).unwrap();
    let e = rx.recv_timeout(SOON).unwrap();
    assert_eq!(e.events & HANGUP, HANGUP, "events {}", e.events);
  }

  #[test]
  fn a_removed_fd_is_no_longer_current_nor_reported() {
    let (w, rx) = started();
    let (a, b) = pair().unwrap();
    assert_eq!(w.add(b.as_raw_fd(), READABLE).unwrap(), 1);
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    let stale = rx.recv_timeout(SOON).unwrap();
    assert_eq!(w.remove(b.as_raw_fd()).unwrap(), 0);
    assert!(!w.is_current(&stale));
    // Re-added, the same fd gets a new generation: the old report stays stale.
    w.add(b.as_raw_fd(), READABLE).unwrap();
    assert!(!w.is_current(&stale));
    let fresh = rx.recv_timeout(SOON).unwrap();
    assert!(w.is_current(&fresh));
    w.remove(b.as_raw_fd()).unwrap();
    send_with_fds(a.as_raw_fd(), b"y", &[]).unwrap();
    assert!(rx.recv_timeout(QUIET).is_err());
    assert_eq!(w.rearm(b.as_raw_fd(), READABLE).unwrap_err().status.0, "ENOENT");
  }

  #[test]
  fn bad_interest_and_double_add_are_errors() {
    let (w, _rx) = started();
    let (a, _b) = pair().unwrap();
    assert_eq!(w.add(a.as_raw_fd(), 4).unwrap_err().status.0, "EINVAL");
    w.add(a.as_raw_fd(), READABLE).unwrap();
    assert_eq!(w.add(a.as_raw_fd(), READABLE).unwrap_err().status.0, "EEXIST");
    assert_eq!(w.add(-1, READABLE).unwrap_err().status.0, "EBADF");
  }

  #[test]
  fn stop_joins_the_thread() {
    let (w, rx) = started();
    w.stop();
    assert!(w.shared.thread.lock().unwrap().is_none());
    // The sink (and its sender) went with the thread.
    assert!(matches!(
      rx.recv_timeout(SOON),
      Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
  }
}
