//! fd readiness on Node's event loop.
//!
//! The watched fds are registered in an epoll instance of the poller's own. Reports are
//! one-shot by default: once reported, an fd stays quiet until JS calls `rearm`, so JS can drain
//! the socket first and no report piles up meanwhile. An fd added as persistent stays armed with
//! its interest after a report: its owner reads what it was told of and asks for a change of
//! interest only when it has one, without a call back into the addon after every report (a
//! connection's steady state: readable, again and again). The registrations are
//! level-triggered: a rearm made during the report with the same interest (the usual case)
//! leaves the kernel's registration as it is, and only an fd left unarmed after its report is
//! taken out of the set (and put back by a later rearm). That epoll fd is itself
//! watched by one libuv poll handle on the loop of the JS environment that made the poller: when
//! any watched fd is ready, the loop calls us on the main thread, we collect the ready fds with a
//! non-blocking `epoll_wait` and report each to JS. No thread sits in between (no wake-up of the
//! loop from another thread, no queue to hand reports over), and Node's own epoll set holds only
//! the one epoll fd, which lives as long as the poller: the watched fds come and go, and their
//! numbers are reused, in our set alone.
//!
//! Each `add` gets a new generation number, carried in the epoll data. A report collected in a
//! batch whose fd an earlier report of the same batch removed (and maybe reused for another file
//! and added again) no longer matches the registered generation and is dropped, so JS never sees
//! a stale report after `remove`.
//!
//! A report handled natively (a hook, reads.rs) needs nothing of the loop. When every report of
//! a wake-up was, the callback does not return to the loop but waits for the next reports itself
//! (`nest`), for as long as they are handled natively, the loop's own epoll fd in our set and
//! the wait no longer than its next timer: a steady path's wake-up then costs one `epoll_wait`.
//!
//! libuv is Node's own: its functions are looked up in the process (Node exports them for
//! addons), so the library links without them and its unit tests run without Node.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::rc::Rc;
use std::sync::OnceLock;

use napi::bindgen_prelude::Function;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::error::{cvt, errno_error, error, invalid, last_errno, Result};

/// Interest and event bits seen by JS.
pub const READABLE: u32 = 1;
pub const WRITABLE: u32 = 2;
pub const HANGUP: u32 = 4;

/// Reports collected per `epoll_wait`; more ready fds are collected on the loop's next turn.
const MAX_EVENTS: usize = 64;

/// The epoll data of the loop's own fd while it is in the set (`nest`): read back as fd -1.
const LOOP_DATA: u64 = u64::MAX;
const LOOP_FD: RawFd = -1;

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
  let mut mask = 0;
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

/// One watched fd.
struct Entry {
  generation: u32,
  /// The epoll mask JS asked for last.
  mask: u32,
  /// JS asked for the next report (`add` or `rearm`) since the last one.
  armed: bool,
  /// In the epoll set, with `mask`.
  registered: bool,
  /// Stays armed after a report (see the module).
  persistent: bool,
}

impl Entry {
  /// The epoll data word of its registration: generation and fd, as `ready` reads them back.
  fn data(&self, fd: RawFd) -> u64 {
    (u64::from(self.generation) << 32) | u64::from(fd as u32)
  }
}

/// The epoll side of a poller, independent of JS and of libuv: fds with one-shot interest, and
/// the reports ready now. Its own fd is readable while a report is ready.
pub struct Watcher {
  epoll: OwnedFd,
  next_generation: Cell<u32>,
  watched: RefCell<HashMap<RawFd, Entry>>,
}

impl Watcher {
  pub fn new() -> Result<Watcher> {
    // SAFETY: epoll_create1 has no memory-safety preconditions.
    let epoll = cvt(
      unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
      "epoll_create1",
    )?;
    Ok(Watcher {
      // SAFETY: epoll_create1 returned a new fd that nothing else owns.
      epoll: unsafe { OwnedFd::from_raw_fd(epoll) },
      next_generation: Cell::new(1),
      watched: RefCell::new(HashMap::new()),
    })
  }

  /// The epoll fd: readable while some watched fd has a report ready.
  pub fn fd(&self) -> RawFd {
    self.epoll.as_raw_fd()
  }

  fn ctl(&self, op: c_int, fd: RawFd, events: u32, data: u64, call: &str) -> Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    let r = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) };
    cvt(r, call)?;
    Ok(())
  }

  /// Makes the epoll set hold what `entry` asks for: its mask while armed, nothing otherwise.
  fn apply(&self, fd: RawFd, entry: &mut Entry) -> Result<()> {
    let data = entry.data(fd);
    if entry.armed && !entry.registered {
      self.ctl(libc::EPOLL_CTL_ADD, fd, entry.mask, data, "epoll_ctl(ADD)")?;
      entry.registered = true;
    } else if !entry.armed && entry.registered {
      self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)")?;
      entry.registered = false;
    }
    Ok(())
  }

  /// Watches `fd` for `interest`, one-shot or `persistent`; returns the number of fds watched
  /// afterwards.
  pub fn add(&self, fd: RawFd, interest: u32, persistent: bool) -> Result<usize> {
    let mask = epoll_mask(interest)?;
    if self.watched.borrow().contains_key(&fd) {
      return Err(error("EEXIST", format!("Poller: fd {fd} is watched already")));
    }
    let generation = self.next_generation.get();
    self.next_generation.set(generation.wrapping_add(1));
    let mut entry = Entry {
      generation,
      mask,
      armed: true,
      registered: false,
      persistent,
    };
    self.apply(fd, &mut entry)?;
    let mut watched = self.watched.borrow_mut();
    watched.insert(fd, entry);
    Ok(watched.len())
  }

  /// Asks for the next report of `fd`, with a new interest.
  pub fn rearm(&self, fd: RawFd, interest: u32) -> Result<()> {
    let mask = epoll_mask(interest)?;
    let mut watched = self.watched.borrow_mut();
    let Some(entry) = watched.get_mut(&fd) else {
      return Err(error(
        "ENOENT",
        format!("rearm: fd {fd} is not watched by this poller"),
      ));
    };
    if entry.registered && entry.mask != mask {
      self.ctl(libc::EPOLL_CTL_MOD, fd, mask, entry.data(fd), "epoll_ctl(MOD)")?;
    }
    entry.mask = mask;
    entry.armed = true;
    // A rearm during its report finds the fd still registered: no call.
    self.apply(fd, entry)
  }

  /// Stops watching `fd` (nothing happens if it is not watched); returns the number of fds
  /// watched afterwards. Must be called before the fd is closed.
  pub fn remove(&self, fd: RawFd) -> Result<usize> {
    let removed = self.watched.borrow_mut().remove(&fd);
    if let Some(entry) = removed {
      if entry.registered {
        if let Err(e) = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)") {
          // Already gone from epoll: the fd was closed before remove.
          let errno = crate::error::errno_of(&e);
          if errno != Some(libc::ENOENT) && errno != Some(libc::EBADF) {
            return Err(e);
          }
        }
      }
    }
    Ok(self.watched.borrow().len())
  }

  /// True if `event` is to be reported: it belongs to the current registration of its fd and
  /// the fd is armed.
  pub fn is_current(&self, event: &Event) -> bool {
    self
      .watched
      .borrow()
      .get(&event.fd)
      .is_some_and(|e| e.generation == event.generation && e.armed)
  }

  /// Starts the report of `event` if it is to be reported (`is_current`): a one-shot fd is
  /// disarmed until `rearm`, a persistent one stays armed. False, with nothing changed, for a
  /// stale or unarmed one.
  pub fn begin_report(&self, event: &Event) -> bool {
    match self.watched.borrow_mut().get_mut(&event.fd) {
      Some(entry) if entry.generation == event.generation && entry.armed => {
        entry.armed = entry.persistent;
        true
      }
      _ => false,
    }
  }

  /// The report of `event` has ended: an fd JS did not rearm meanwhile leaves the epoll set.
  pub fn end_report(&self, event: &Event) -> Result<()> {
    let mut watched = self.watched.borrow_mut();
    match watched.get_mut(&event.fd) {
      Some(entry) if entry.generation == event.generation => self.apply(event.fd, entry),
      _ => Ok(()),
    }
  }

  /// The reports ready now, without blocking: fills the start of `out` (at most MAX_EVENTS)
  /// and returns how many.
  pub fn ready(&self, out: &mut [Event; MAX_EVENTS]) -> Result<usize> {
    self.wait(out, 0)
  }

  /// As `ready`, waiting up to `timeout_ms` (-1: for ever) for a first report; an interrupted
  /// wait returns none.
  pub fn wait(&self, out: &mut [Event; MAX_EVENTS], timeout_ms: c_int) -> Result<usize> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    let n = loop {
      // SAFETY: `events` has room for MAX_EVENTS entries.
      let n = unsafe {
        libc::epoll_wait(
          self.epoll.as_raw_fd(),
          events.as_mut_ptr(),
          MAX_EVENTS as c_int,
          timeout_ms,
        )
      };
      if n >= 0 {
        break n as usize;
      }
      if last_errno() != libc::EINTR {
        return Err(errno_error("epoll_wait", last_errno()));
      }
      if timeout_ms != 0 {
        break 0;
      }
    };
    for (slot, ev) in out.iter_mut().zip(&events[..n]) {
      // Copy the fields out: the struct is packed on x86_64.
      let (mask, data) = (ev.events, ev.u64);
      *slot = Event {
        fd: data as u32 as RawFd,
        generation: (data >> 32) as u32,
        events: event_bits(mask),
      };
    }
    Ok(n)
  }

  /// Puts `fd` (the loop's own epoll fd, see `nest`) in the set: its readiness comes back as an
  /// event of fd -1, which no watched fd is.
  pub fn add_loop_fd(&self, fd: RawFd) -> Result<()> {
    self.ctl(
      libc::EPOLL_CTL_ADD,
      fd,
      libc::EPOLLIN as u32,
      LOOP_DATA,
      "epoll_ctl(ADD)",
    )
  }

  /// Takes the loop's fd out of the set again.
  pub fn remove_loop_fd(&self, fd: RawFd) -> Result<()> {
    self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)")
  }

  /// Forgets every fd (they stay open; none is reported any more).
  pub fn clear(&self) {
    let entries: Vec<(RawFd, Entry)> = self.watched.borrow_mut().drain().collect();
    for (fd, entry) in entries {
      if entry.registered {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0, "epoll_ctl(DEL)");
      }
    }
  }
}

// ---- libuv, found in the process ----

// libuv's values (uv.h): uv_poll_event and uv_handle_type.
const UV_READABLE: c_int = 1;
const UV_CHECK: c_int = 2;
const UV_POLL: c_int = 8;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);
type CheckCb = unsafe extern "C" fn(handle: *mut c_void);

/// The libuv functions the poller calls.
struct Uv {
  handle_size: unsafe extern "C" fn(c_int) -> usize,
  poll_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void, c_int) -> c_int,
  poll_start: unsafe extern "C" fn(*mut c_void, c_int, PollCb) -> c_int,
  poll_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
  check_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void) -> c_int,
  check_start: unsafe extern "C" fn(*mut c_void, CheckCb) -> c_int,
  check_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
  backend_fd: unsafe extern "C" fn(*const sys::uv_loop_s) -> c_int,
  backend_timeout: unsafe extern "C" fn(*const sys::uv_loop_s) -> c_int,
  update_time: unsafe extern "C" fn(*mut sys::uv_loop_s),
  close: unsafe extern "C" fn(*mut c_void, Option<CloseCb>),
  ref_: unsafe extern "C" fn(*mut c_void),
  unref: unsafe extern "C" fn(*mut c_void),
}

fn symbol(name: &CStr) -> std::result::Result<*mut c_void, String> {
  // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the name.
  let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
  if p.is_null() {
    Err(format!(
      "{} is not in this process (not loaded by Node?)",
      name.to_string_lossy()
    ))
  } else {
    Ok(p)
  }
}

/// The function `name` of the process, as the function pointer type `F`.
///
/// # Safety
/// `F` must be the pointer type of that function's C signature.
unsafe fn function<F: Copy>(name: &CStr) -> std::result::Result<F, String> {
  let p = symbol(name)?;
  assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
  // SAFETY: per the contract, a function pointer of the same size.
  Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
}

fn uv() -> Result<&'static Uv> {
  static UV: OnceLock<std::result::Result<Uv, String>> = OnceLock::new();
  let found = UV.get_or_init(|| {
    // SAFETY: each symbol is libuv's function of that name, whose C signature is the field's type.
    unsafe {
      Ok(Uv {
        handle_size: function(c"uv_handle_size")?,
        poll_init: function(c"uv_poll_init")?,
        poll_start: function(c"uv_poll_start")?,
        poll_stop: function(c"uv_poll_stop")?,
        check_init: function(c"uv_check_init")?,
        check_start: function(c"uv_check_start")?,
        check_stop: function(c"uv_check_stop")?,
        backend_fd: function(c"uv_backend_fd")?,
        backend_timeout: function(c"uv_backend_timeout")?,
        update_time: function(c"uv_update_time")?,
        close: function(c"uv_close")?,
        ref_: function(c"uv_ref")?,
        unref: function(c"uv_unref")?,
      })
    }
  });
  found
    .as_ref()
    .map_err(|e| error("ENOSYS", format!("Poller: {e}")))
}

// ---- JavaScript API ----

/// A poller's state, shared by the JS object and the poll handle (whose `data` holds one
/// reference, given back when libuv has closed the handle).
struct Shared {
  uv: &'static Uv,
  env: sys::napi_env,
  watcher: Watcher,
  event_loop: *mut sys::uv_loop_s,
  /// The poll handle over the watcher's epoll fd.
  handle: *mut c_void,
  /// A check handle that does nothing, started while the poll handle is stopped in `nest`, so
  /// that the loop counts a live handle there as before.
  keepalive: *mut c_void,
  /// Wait in the poll callback while reports are handled natively (`nest`).
  nesting: Cell<bool>,
  /// Wake-ups handled in `nest` so far.
  nested: Cell<f64>,
  callback: Cell<sys::napi_ref>,
  context: Cell<sys::napi_async_context>,
  referenced: Cell<bool>,
  closed: Cell<bool>,
}

impl Shared {
  /// The loop stays alive while some fd is watched.
  fn set_referenced(&self, referenced: bool) {
    if self.closed.get() || self.referenced.replace(referenced) == referenced {
      return;
    }
    // SAFETY: the handle is initialised and not closing (the poller is open).
    unsafe {
      if referenced {
        (self.uv.ref_)(self.handle);
      } else {
        (self.uv.unref)(self.handle);
      }
    }
  }

  /// Closes the handle, forgets every fd and lets go of the callback. Idempotent.
  fn close(&self, from_cleanup_hook: bool) {
    if self.closed.replace(true) {
      return;
    }
    self.watcher.clear();
    // SAFETY: initialised in `Poller::new`, closed once (guarded by `closed`).
    unsafe {
      (self.uv.close)(self.keepalive, Some(keepalive_closed));
      (self.uv.close)(self.handle, Some(handle_closed));
    }
    let env = self.env;
    // SAFETY: the reference and context were made in `Poller::new` and are released once; the
    // cleanup hook was added there with this Shared as its argument.
    unsafe {
      sys::napi_delete_reference(env, self.callback.replace(ptr::null_mut()));
      if !from_cleanup_hook {
        sys::napi_async_destroy(env, self.context.replace(ptr::null_mut()));
        sys::napi_remove_env_cleanup_hook(env, Some(cleanup_hook), ptr::from_ref(self) as *mut c_void);
      }
    }
  }
}

/// Memory for a libuv handle of `kind` whose first field (`data`) is `data`; freed with
/// `libc::free` once libuv has closed it.
fn alloc_handle(uv: &Uv, kind: c_int, data: *mut c_void) -> *mut c_void {
  // SAFETY: uv_handle_size only reads its argument.
  let size = unsafe { (uv.handle_size)(kind) };
  // SAFETY: calloc has no preconditions; the result is checked below.
  let handle = unsafe { libc::calloc(1, size.max(std::mem::size_of::<*mut c_void>())) };
  assert!(!handle.is_null(), "out of memory for a libuv handle");
  // SAFETY: every libuv handle begins with `void *data`, and the block is at least that big.
  unsafe { *handle.cast::<*mut c_void>() = data };
  handle
}

/// # Safety
/// Called by libuv once the poll handle is closed; its data is the reference to the Shared
/// leaked in `Poller::new`.
unsafe extern "C" fn handle_closed(handle: *mut c_void) {
  // SAFETY: per the contract; taken back once, then the handle's memory is freed.
  unsafe {
    drop(Rc::from_raw(*handle.cast::<*const Shared>()));
    libc::free(handle);
  }
}

/// # Safety
/// Called by libuv once the keepalive handle is closed; its memory is ours.
unsafe extern "C" fn keepalive_closed(handle: *mut c_void) {
  // SAFETY: per the contract.
  unsafe { libc::free(handle) };
}

/// # Safety
/// Never called: the keepalive handle is started only while the loop waits inside `nest`.
unsafe extern "C" fn keepalive_check(_handle: *mut c_void) {}

/// Runs on the loop when the epoll fd is readable: reports every ready fd, then waits on in
/// `nest` while reports are handled natively.
///
/// # Safety
/// Called by libuv with the poll handle made in `Poller::new`, whose data is a live Shared.
unsafe extern "C" fn on_ready(handle: *mut c_void, status: c_int, _events: c_int) {
  // SAFETY: the handle holds a reference to the Shared until its close callback, which runs
  // after this returns.
  let shared = unsafe { &**handle.cast::<*const Shared>() };
  if shared.closed.get() {
    return;
  }
  if status < 0 {
    let e = errno_error("poll of the poller's epoll fd", -status);
    // SAFETY: on the loop's thread with the environment alive (its teardown closes us).
    unsafe { throw_uncaught(shared.env, &e.reason) };
    return;
  }
  // SAFETY: as above.
  let turn = unsafe { deliver(shared, 0) };
  if turn.native_only() && shared.nesting.get() {
    // SAFETY: as above, inside the poll handle's callback.
    unsafe { nest(shared) };
  }
}

/// What one `deliver` did.
struct Turn {
  /// Reports collected.
  count: usize,
  /// Something was reported to JavaScript (or thrown), or the poller closed.
  to_js: bool,
  /// The loop's own fd was among them (`nest`).
  loop_ready: bool,
}

impl Turn {
  /// Every report was handled natively: JavaScript has nothing to do.
  fn native_only(&self) -> bool {
    self.count > 0 && !self.to_js && !self.loop_ready
  }
}

/// Waits in the poll callback for the next reports, for as long as each is handled natively,
/// instead of going back to the loop after every one. A native steady path (reads.rs) then
/// costs a wake-up what a plain epoll program pays: one `epoll_wait` and its own work, without
/// the loop's turn around it (its timers, its check and idle phases, a second poll for Node's
/// idle-time metrics). The loop's own epoll fd waits in our set meanwhile (ours is taken out of
/// its set, a live check handle counting for our stopped poll handle), and the wait ends when
/// the loop has something to do: its fd is readable (another fd, a wake-up from another
/// thread, a signal), its next timer is due (`uv_backend_timeout`, after the loop's clock is
/// brought up to date), or it has something to do at once (immediates, closing handles).
/// The wait also ends after any report to JavaScript.
///
/// # Safety
/// In the poll handle's callback, on the loop's thread, with the environment alive.
unsafe fn nest(shared: &Shared) {
  let uv = shared.uv;
  let event_loop = shared.event_loop;
  if !shared.referenced.get() {
    return;
  }
  // SAFETY: the environment's loop, alive while the environment is.
  let loop_fd = unsafe { (uv.backend_fd)(event_loop) };
  if loop_fd < 0 {
    return;
  }
  // SAFETY: both handles are initialised and not closing (the poller is open).
  unsafe {
    (uv.poll_stop)(shared.handle);
    (uv.check_start)(shared.keepalive, keepalive_check);
  }
  if shared.watcher.add_loop_fd(loop_fd).is_ok() {
    loop {
      // SAFETY: as above.
      let timeout = unsafe {
        (uv.update_time)(event_loop);
        (uv.backend_timeout)(event_loop)
      };
      if timeout == 0 {
        break;
      }
      // SAFETY: as above.
      let turn = unsafe { deliver(shared, timeout) };
      if !turn.native_only() {
        break;
      }
      shared.nested.set(shared.nested.get() + 1.0);
    }
    if !shared.closed.get() {
      let _ = shared.watcher.remove_loop_fd(loop_fd);
    }
  }
  if shared.closed.get() {
    return;
  }
  // SAFETY: as above; the poll handle is watched by the loop again from its next turn.
  unsafe {
    (uv.check_stop)(shared.keepalive);
    (uv.poll_start)(shared.handle, UV_READABLE, on_ready);
  }
}

/// Collects the reports ready within `timeout_ms` and delivers each: to its native hook, else
/// (or what the hook leaves) to JavaScript.
///
/// # Safety
/// On the loop's thread, outside any JS call, with the environment alive.
unsafe fn deliver(shared: &Shared, timeout_ms: c_int) -> Turn {
  let mut turn = Turn {
    count: 0,
    to_js: false,
    loop_ready: false,
  };
  let mut batch = [Event {
    fd: -1,
    generation: 0,
    events: 0,
  }; MAX_EVENTS];
  turn.count = match shared.watcher.wait(&mut batch, timeout_ms) {
    Ok(count) => count,
    Err(e) => {
      turn.to_js = true;
      // SAFETY: per the contract.
      unsafe { throw_uncaught(shared.env, &e.reason) };
      return turn;
    }
  };
  for &event in &batch[..turn.count] {
    // A report may close the poller or remove (and re-add) the fds of later ones.
    if shared.closed.get() {
      turn.to_js = true;
      return turn;
    }
    if event.fd == LOOP_FD {
      turn.loop_ready = true;
      continue;
    }
    let mut events = event.events;
    if events == READABLE && shared.watcher.is_current(&event) {
      // A socket read natively (reads.rs): JavaScript hears only of what the hook leaves it.
      if let Some(hook) = crate::reads::hook(event.fd) {
        events = hook(event.fd);
        if events == 0 {
          continue;
        }
      }
    }
    if !shared.watcher.begin_report(&event) {
      continue;
    }
    turn.to_js = true;
    // SAFETY: per the contract.
    unsafe { report(shared, event.fd, events) };
    if shared.closed.get() {
      return turn;
    }
    if let Err(e) = shared.watcher.end_report(&event) {
      // SAFETY: as above.
      unsafe { throw_uncaught(shared.env, &e.reason) };
    }
  }
  turn
}

/// Calls the JS callback with (fd, events) as a callback from the loop: microtasks and
/// nextTicks run after it, an exception it throws becomes an 'uncaughtException'.
///
/// # Safety
/// On the environment's thread, outside any JS call, with the environment alive.
unsafe fn report(shared: &Shared, fd: RawFd, events: u32) {
  let env = shared.env;
  // SAFETY: plain napi calls on the environment's thread, inside the handle scope opened here.
  unsafe {
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    let mut callback = ptr::null_mut();
    let mut args = [ptr::null_mut(); 2];
    let mut recv = ptr::null_mut();
    let mut result = ptr::null_mut();
    sys::napi_get_reference_value(env, shared.callback.get(), &mut callback);
    sys::napi_create_int32(env, fd, &mut args[0]);
    sys::napi_create_uint32(env, events, &mut args[1]);
    // node::MakeCallback wants an object as `this`.
    sys::napi_get_global(env, &mut recv);
    if !callback.is_null() {
      sys::napi_make_callback(
        env,
        shared.context.get(),
        recv,
        callback,
        2,
        args.as_ptr(),
        &mut result,
      );
    }
    rethrow_pending(env);
    sys::napi_close_handle_scope(env, scope);
  }
}

/// A pending JS exception becomes an 'uncaughtException', as for any callback of Node itself
/// (left pending, Node 20 would only print a deprecation warning and drop it).
///
/// # Safety
/// On the environment's thread with the environment alive.
unsafe fn rethrow_pending(env: sys::napi_env) {
  let mut pending = false;
  // SAFETY: per the contract.
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

/// # Safety
/// As `rethrow_pending`.
unsafe fn throw_uncaught(env: sys::napi_env, message: &str) {
  // SAFETY: per the contract; the handle scope bounds the values made here.
  unsafe {
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    let mut text = ptr::null_mut();
    let mut err = ptr::null_mut();
    sys::napi_create_string_utf8(env, message.as_ptr().cast(), message.len() as isize, &mut text);
    sys::napi_create_error(env, ptr::null_mut(), text, &mut err);
    sys::napi_fatal_exception(env, err);
    sys::napi_close_handle_scope(env, scope);
  }
}

/// The environment is going away: close everything while its loop still runs.
///
/// # Safety
/// Called by Node with the Shared given to napi_add_env_cleanup_hook, still alive (the poll
/// handle holds a reference until libuv has closed it, which `close` only starts).
unsafe extern "C" fn cleanup_hook(arg: *mut c_void) {
  // SAFETY: per the contract.
  let shared = unsafe { &*arg.cast::<Shared>() };
  shared.close(true);
}

/// Reports fd readiness to `callback(fd, events)` on the main thread; see the module docs.
/// Interest bits: 1 readable, 2 writable. Event bits: 1 readable, 2 writable, 4 hangup/error.
#[napi]
pub struct Poller {
  shared: Rc<Shared>,
}

fn closed_error() -> crate::error::Error {
  error("EBADF", "Poller: the poller is closed")
}

fn napi_check(status: sys::napi_status, call: &str) -> Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(error("EINVAL", format!("{call} failed (napi status {status})")))
  }
}

#[napi]
impl Poller {
  #[napi(constructor, ts_args_type = "callback: (fd: number, events: number) => void")]
  pub fn new(env: &Env, callback: Function<'_, (i32, u32), ()>) -> Result<Self> {
    let uv = uv()?;
    let watcher = Watcher::new()?;
    let raw = env.raw();
    let mut event_loop = ptr::null_mut();
    let mut callback_ref = ptr::null_mut();
    let mut context = ptr::null_mut();
    // SAFETY: napi calls on the main thread with live values.
    unsafe {
      napi_check(
        sys::napi_get_uv_event_loop(raw, &mut event_loop),
        "napi_get_uv_event_loop",
      )?;
      let name = "wayland-shim poller";
      let mut js_name = ptr::null_mut();
      let mut resource = ptr::null_mut();
      napi_check(
        sys::napi_create_string_utf8(raw, name.as_ptr().cast(), name.len() as isize, &mut js_name),
        "napi_create_string_utf8",
      )?;
      napi_check(sys::napi_create_object(raw, &mut resource), "napi_create_object")?;
      napi_check(
        sys::napi_async_init(raw, resource, js_name, &mut context),
        "napi_async_init",
      )?;
      if let Err(e) = napi_check(
        sys::napi_create_reference(raw, callback.raw(), 1, &mut callback_ref),
        "napi_create_reference",
      ) {
        sys::napi_async_destroy(raw, context);
        return Err(e);
      }
    }
    let handle = alloc_handle(uv, UV_POLL, ptr::null_mut());
    // SAFETY: a fresh handle on the environment's loop, over the watcher's epoll fd.
    let ret = unsafe { (uv.poll_init)(event_loop, handle, watcher.fd()) };
    if ret < 0 {
      // SAFETY: libuv did not take the handle; the reference and context are ours.
      unsafe {
        libc::free(handle);
        sys::napi_delete_reference(raw, callback_ref);
        sys::napi_async_destroy(raw, context);
      }
      return Err(errno_error("uv_poll_init", -ret));
    }
    let keepalive = alloc_handle(uv, UV_CHECK, ptr::null_mut());
    // SAFETY: a fresh handle on the environment's loop (uv_check_init cannot fail).
    unsafe { (uv.check_init)(event_loop, keepalive) };
    let shared = Rc::new(Shared {
      uv,
      env: raw,
      watcher,
      event_loop,
      handle,
      keepalive,
      nesting: Cell::new(true),
      nested: Cell::new(0.0),
      callback: Cell::new(callback_ref),
      context: Cell::new(context),
      referenced: Cell::new(true),
      closed: Cell::new(false),
    });
    // The handle's data: a reference to the Shared, given back by `handle_closed`.
    // SAFETY: the handle's first field is its `data`.
    unsafe { *handle.cast::<*const Shared>() = Rc::into_raw(Rc::clone(&shared)) };
    // SAFETY: the Shared outlives the hook: `close` removes it, or it runs (and closes) first.
    let status =
      unsafe { sys::napi_add_env_cleanup_hook(raw, Some(cleanup_hook), Rc::as_ptr(&shared) as *mut c_void) };
    let poller = Poller { shared };
    napi_check(status, "napi_add_env_cleanup_hook")?;
    // SAFETY: the handle is initialised and open.
    let ret = unsafe { (uv.poll_start)(handle, UV_READABLE, on_ready) };
    if ret < 0 {
      return Err(errno_error("uv_poll_start", -ret));
    }
    // Nothing is watched yet: do not keep the process alive.
    poller.shared.set_referenced(false);
    Ok(poller)
  }

  /// Watches `fd` with the given interest (1 readable, 2 writable, 3 both). One-shot: after a
  /// report, call `rearm` to get the next one; `persistent`: reported for as long as it is ready,
  /// `rearm` only changes the interest.
  #[napi]
  pub fn add(&mut self, fd: i32, interest: u32, persistent: Option<bool>) -> Result<()> {
    if self.shared.closed.get() {
      return Err(closed_error());
    }
    let count = self
      .shared
      .watcher
      .add(fd, interest, persistent.unwrap_or(false))?;
    if count > 0 {
      self.shared.set_referenced(true);
    }
    Ok(())
  }

  /// Re-enables reports for `fd` after one was delivered, with a new interest; for a persistent
  /// fd, only changes its interest.
  #[napi]
  pub fn rearm(&mut self, fd: i32, interest: u32) -> Result<()> {
    if self.shared.closed.get() {
      return Err(closed_error());
    }
    self.shared.watcher.rearm(fd, interest)
  }

  /// Stops watching `fd`; no report for it is delivered after this returns. Call it before
  /// closing the fd. Removing an fd that is not watched does nothing.
  #[napi]
  pub fn remove(&mut self, fd: i32) -> Result<()> {
    crate::reads::forget(fd);
    if self.shared.closed.get() {
      return Ok(());
    }
    if self.shared.watcher.remove(fd)? == 0 {
      self.shared.set_referenced(false);
    }
    Ok(())
  }

  /// Reads whatever arrives on the watched `fd` natively and drops it, as a steady path's hook
  /// reads its socket (reads.rs): its reports do not reach JS while it has bytes (its end of the
  /// stream and errors still do). For tests and diagnostics of the poller itself.
  #[napi]
  pub fn drain(&mut self, fd: i32) {
    crate::reads::set_hook(
      fd,
      Rc::new(|fd| {
        crate::reads::read(fd, |read| match read {
          crate::reads::Read::Bytes(_) | crate::reads::Read::Nothing => 0,
          crate::reads::Read::ToJs => READABLE,
        })
      }),
    );
  }

  /// Whether the poller waits inside the loop's callback while every report is handled
  /// natively (see the module); on by default.
  #[napi(getter)]
  pub fn nesting(&self) -> bool {
    self.shared.nesting.get()
  }

  #[napi(setter)]
  pub fn set_nesting(&mut self, nesting: bool) {
    self.shared.nesting.set(nesting);
  }

  /// Wake-ups handled natively inside the loop's callback so far (diagnostics and tests).
  #[napi(getter)]
  pub fn nested_wakes(&self) -> f64 {
    self.shared.nested.get()
  }

  /// Forgets every fd (they are not closed); the process may exit. Idempotent.
  #[napi]
  pub fn close(&mut self) {
    self.shared.close(false);
  }
}

impl Drop for Poller {
  fn drop(&mut self) {
    self.shared.close(false);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{pair, recv_with_fds, send_with_fds};
  use std::time::Duration;

  const QUIET: Duration = Duration::from_millis(150);
  const SOON: Duration = Duration::from_secs(5);

  /// Waits up to `timeout` for the watcher's epoll fd to be readable, as the loop does.
  fn poll_epoll(w: &Watcher, timeout: Duration) {
    let mut p = libc::pollfd {
      fd: w.fd(),
      events: libc::POLLIN,
      revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as c_int) };
  }

  /// Waits up to `timeout` for the watcher's epoll fd to be readable, then reports what is
  /// ready and current as `on_ready` does, calling `during` within each report.
  fn wait_with(w: &Watcher, timeout: Duration, during: impl Fn(&Watcher, &Event)) -> Vec<Event> {
    poll_epoll(w, timeout);
    let mut reported = Vec::new();
    for event in ready(w) {
      if !w.begin_report(&event) {
        continue;
      }
      during(w, &event);
      w.end_report(&event).unwrap();
      reported.push(event);
    }
    reported
  }

  fn ready(w: &Watcher) -> Vec<Event> {
    let mut batch = [Event {
      fd: -1,
      generation: 0,
      events: 0,
    }; MAX_EVENTS];
    let n = w.ready(&mut batch).unwrap();
    batch[..n].to_vec()
  }

  /// Reports without a rearm during the report.
  fn wait(w: &Watcher, timeout: Duration) -> Vec<Event> {
    wait_with(w, timeout, |_, _| ())
  }

  /// A watcher with one socket registered for reading, with a byte to read: the watcher, the writer and the watched end.
  fn watched_with_data() -> (Watcher, OwnedFd, OwnedFd) {
    let w = Watcher::new().unwrap();
    let (a, b) = pair().unwrap();
    w.add(b.as_raw_fd(), READABLE, false).unwrap();
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    (w, a, b)
  }

  /// A watcher with one socket registered for reading (one-shot or `persistent`), checked quiet
  /// while nothing was sent: the watcher, the writer and the watched end.
  fn watched_quiet(persistent: bool) -> (Watcher, OwnedFd, OwnedFd) {
    let w = Watcher::new().unwrap();
    let (a, b) = pair().unwrap();
    w.add(b.as_raw_fd(), READABLE, persistent).unwrap();
    assert!(wait(&w, QUIET).is_empty(), "nothing to read yet");
    (w, a, b)
  }

  fn registered(w: &Watcher, fd: RawFd) -> bool {
    w.watched.borrow().get(&fd).is_some_and(|e| e.registered)
  }

  #[test]
  fn readable_is_reported_once_until_rearmed() {
    let (w, a, b) = watched_quiet(false);
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    let e = wait(&w, SOON);
    assert_eq!(
      e.iter().map(|e| (e.fd, e.events)).collect::<Vec<_>>(),
      [(b.as_raw_fd(), READABLE)]
    );
    send_with_fds(a.as_raw_fd(), b"y", &[]).unwrap();
    // Not rearmed during its report: out of the epoll set, whose fd is quiet (the loop does not spin).
    assert!(!registered(&w, b.as_raw_fd()));
    assert!(
      wait(&w, QUIET).is_empty(),
      "one-shot: no second report before rearm"
    );
    w.rearm(b.as_raw_fd(), READABLE).unwrap();
    let e = wait(&w, SOON);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].events & READABLE, READABLE);
  }

  #[test]
  fn a_persistent_fd_is_reported_while_ready_without_a_rearm() {
    let (w, a, b) = watched_quiet(true);
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    // Not read and not rearmed: still registered and armed, so the next turn reports it again.
    for _ in 0..2 {
      let e = wait(&w, SOON);
      assert_eq!(
        e.iter().map(|e| (e.fd, e.events)).collect::<Vec<_>>(),
        [(b.as_raw_fd(), READABLE)]
      );
      assert!(registered(&w, b.as_raw_fd()));
    }
    // Read: quiet until more comes.
    assert_eq!(
      recv_with_fds(b.as_raw_fd(), &mut [0u8; 8])
        .unwrap()
        .map(|r| r.bytes),
      Some(1)
    );
    assert!(wait(&w, QUIET).is_empty(), "drained: no report");
    send_with_fds(a.as_raw_fd(), b"y", &[]).unwrap();
    assert_eq!(wait(&w, SOON).len(), 1, "more data: reported without a rearm");
    // A rearm changes the interest, once: writable from then on.
    w.rearm(b.as_raw_fd(), WRITABLE).unwrap();
    for _ in 0..2 {
      let e = wait(&w, SOON);
      assert_eq!(e.len(), 1);
      assert_eq!(e[0].events & (READABLE | WRITABLE), WRITABLE);
    }
    // Removed: never reported again.
    w.remove(b.as_raw_fd()).unwrap();
    assert!(wait(&w, QUIET).is_empty());
  }

  #[test]
  fn a_rearm_during_the_report_keeps_the_registration_and_reports_what_is_left() {
    let (w, _a, b) = watched_with_data();
    let rearm = |w: &Watcher, e: &Event| w.rearm(e.fd, READABLE).unwrap();
    // Nothing is read: the data is still there, so the next turn reports it again.
    assert_eq!(wait_with(&w, SOON, rearm).len(), 1);
    assert!(registered(&w, b.as_raw_fd()));
    assert_eq!(wait_with(&w, SOON, rearm).len(), 1);
    // A new interest during the report takes effect at once.
    let to_writable = |w: &Watcher, e: &Event| w.rearm(e.fd, WRITABLE).unwrap();
    assert_eq!(wait_with(&w, SOON, to_writable)[0].events & READABLE, READABLE);
    assert_eq!(wait(&w, SOON)[0].events, WRITABLE);
  }

  #[test]
  fn writable_and_hangup_are_reported() {
    let w = Watcher::new().unwrap();
    let (a, b) = pair().unwrap();
    w.add(a.as_raw_fd(), WRITABLE, false).unwrap();
    assert_eq!(wait(&w, SOON)[0].events, WRITABLE);
    drop(b);
    w.rearm(a.as_raw_fd(), READABLE).unwrap();
    let e = wait(&w, SOON);
    assert_eq!(e[0].events & HANGUP, HANGUP, "events {}", e[0].events);
    // Hung up and not rearmed: out of the set, so the hangup does not keep its fd readable.
    assert!(wait(&w, QUIET).is_empty());
  }

  #[test]
  fn several_ready_fds_come_in_one_batch() {
    let w = Watcher::new().unwrap();
    let pairs: Vec<_> = (0..3).map(|_| pair().unwrap()).collect();
    for (_, b) in &pairs {
      w.add(b.as_raw_fd(), READABLE, false).unwrap();
    }
    for (a, _) in &pairs {
      send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    }
    let mut fds: Vec<RawFd> = wait(&w, SOON).iter().map(|e| e.fd).collect();
    fds.sort();
    let mut want: Vec<RawFd> = pairs.iter().map(|(_, b)| b.as_raw_fd()).collect();
    want.sort();
    assert_eq!(fds, want);
  }

  #[test]
  fn a_report_begins_once_and_never_for_a_stale_registration() {
    let (w, _a, b) = watched_with_data();
    poll_epoll(&w, SOON);
    let event = ready(&w)[0];
    assert!(w.begin_report(&event));
    // Disarmed by its report: the same event (as a second batch would collect it) is not begun.
    assert!(!w.begin_report(&event));
    w.end_report(&event).unwrap();
    // Removed and added again: the old event is stale, and does not disarm the new registration.
    w.remove(b.as_raw_fd()).unwrap();
    w.add(b.as_raw_fd(), READABLE, false).unwrap();
    assert!(!w.begin_report(&event));
    assert!(w.is_current(&Event {
      generation: event.generation + 1,
      ..event
    }));
    assert_eq!(wait(&w, SOON).len(), 1);
  }

  #[test]
  fn a_removed_fd_is_no_longer_current_nor_reported() {
    let w = Watcher::new().unwrap();
    let (a, b) = pair().unwrap();
    assert_eq!(w.add(b.as_raw_fd(), READABLE, false).unwrap(), 1);
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    // Collected in a batch, then removed by an earlier report of that batch.
    poll_epoll(&w, SOON);
    let stale = ready(&w)[0];
    assert!(w.is_current(&stale));
    assert_eq!(w.remove(b.as_raw_fd()).unwrap(), 0);
    assert!(!w.is_current(&stale));
    // Re-added, the same fd gets a new generation: the old report stays stale.
    w.add(b.as_raw_fd(), READABLE, false).unwrap();
    assert!(!w.is_current(&stale));
    let fresh = wait(&w, SOON);
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh[0].generation, stale.generation);
    w.remove(b.as_raw_fd()).unwrap();
    send_with_fds(a.as_raw_fd(), b"y", &[]).unwrap();
    assert!(wait(&w, QUIET).is_empty());
    assert_eq!(w.rearm(b.as_raw_fd(), READABLE).unwrap_err().status.0, "ENOENT");
  }

  #[test]
  fn bad_interest_and_double_add_are_errors() {
    let w = Watcher::new().unwrap();
    let (a, _b) = pair().unwrap();
    assert_eq!(w.add(a.as_raw_fd(), 4, false).unwrap_err().status.0, "EINVAL");
    w.add(a.as_raw_fd(), READABLE, false).unwrap();
    assert_eq!(
      w.add(a.as_raw_fd(), READABLE, false).unwrap_err().status.0,
      "EEXIST"
    );
    assert_eq!(w.add(-1, READABLE, false).unwrap_err().status.0, "EBADF");
  }

  #[test]
  fn clear_forgets_every_fd() {
    let w = Watcher::new().unwrap();
    let (a, b) = pair().unwrap();
    w.add(b.as_raw_fd(), READABLE, false).unwrap();
    w.clear();
    send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap();
    assert!(wait(&w, QUIET).is_empty());
    assert_eq!(
      w.add(b.as_raw_fd(), READABLE, false).unwrap(),
      1,
      "not watched any more: added again"
    );
  }
}
