//! fd readiness on Node's event loop.
//!
//! Each watched fd is a libuv poll handle on the loop of the JS environment that made the
//! poller: its readiness is reported to JavaScript from the loop itself, on the main thread, with
//! no thread in between (no wake-up of the loop from another thread, no queue to hand reports
//! over). Reports are one-shot: after one, the fd stays quiet until JS calls `rearm`, so JS can
//! drain the socket (read until EAGAIN) first. A rearm made during the report itself, the usual
//! case, leaves the kernel's registration as it is; only an fd left unarmed after its report is
//! stopped (and started again by a later rearm).
//!
//! libuv is Node's own: its functions are looked up in the process (Node exports them for
//! addons), so the library links without them and its unit tests run without Node.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};
use std::os::fd::RawFd;
use std::ptr;
use std::rc::Rc;
use std::sync::OnceLock;

use napi::bindgen_prelude::Function;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::error::{errno_error, error, invalid, Result};

/// Interest and event bits seen by JS.
pub const READABLE: u32 = 1;
pub const WRITABLE: u32 = 2;
pub const HANGUP: u32 = 4;

// libuv's values (uv.h): uv_poll_event and uv_handle_type.
const UV_READABLE: c_int = 1;
const UV_WRITABLE: c_int = 2;
const UV_DISCONNECT: c_int = 4;
const UV_ASYNC: c_int = 1;
const UV_POLL: c_int = 8;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);
type AsyncCb = unsafe extern "C" fn(handle: *mut c_void);

/// The libuv functions the poller calls, found in the running process.
struct Uv {
  handle_size: unsafe extern "C" fn(c_int) -> usize,
  poll_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void, c_int) -> c_int,
  poll_start: unsafe extern "C" fn(*mut c_void, c_int, PollCb) -> c_int,
  poll_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
  close: unsafe extern "C" fn(*mut c_void, Option<CloseCb>),
  async_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void, Option<AsyncCb>) -> c_int,
  ref_: unsafe extern "C" fn(*mut c_void),
  unref: unsafe extern "C" fn(*mut c_void),
}

fn symbol(name: &CStr) -> std::result::Result<*mut c_void, String> {
  // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the name.
  let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
  if p.is_null() {
    Err(format!("{} is not in this process (not loaded by Node?)", name.to_string_lossy()))
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
        close: function(c"uv_close")?,
        async_init: function(c"uv_async_init")?,
        ref_: function(c"uv_ref")?,
        unref: function(c"uv_unref")?,
      })
    }
  });
  found.as_ref().map_err(|e| error("ENOSYS", format!("Poller: {e}")))
}

/// libuv's poll events for an interest: hangup is always asked for (it is also what an fd
/// with no interest left waits for).
fn uv_events(interest: u32) -> Result<c_int> {
  if interest > (READABLE | WRITABLE) {
    return Err(invalid(format!(
      "interest must be a combination of 1 (readable) and 2 (writable), got {interest}"
    )));
  }
  let mut events = UV_DISCONNECT;
  if interest & READABLE != 0 {
    events |= UV_READABLE;
  }
  if interest & WRITABLE != 0 {
    events |= UV_WRITABLE;
  }
  Ok(events)
}

/// The event bits JS sees for a libuv report (`status` < 0: an error on the fd, which the
/// handle reports once, stopped).
fn event_bits(status: c_int, events: c_int, interest: u32) -> u32 {
  if status < 0 {
    // Readable too, when asked: the read that follows gets the error or the end of file.
    return HANGUP | (interest & READABLE);
  }
  let mut bits = 0;
  if events & UV_READABLE != 0 {
    bits |= READABLE;
  }
  if events & UV_WRITABLE != 0 {
    bits |= WRITABLE;
  }
  if events & UV_DISCONNECT != 0 {
    bits |= HANGUP;
  }
  bits
}

/// Memory for a libuv handle of `kind`; its first field (`data`) is set to `data`. Freed with
/// `free_handle` once libuv has closed it.
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
/// `handle` came from `alloc_handle` and libuv no longer uses it.
unsafe fn free_handle(handle: *mut c_void) {
  // SAFETY: per the contract.
  unsafe { libc::free(handle) };
}

/// The JS side of a poller: the environment, the callback and its async context.
struct Shared {
  uv: &'static Uv,
  env: sys::napi_env,
  /// The loop libuv runs this environment on.
  event_loop: *mut sys::uv_loop_s,
  callback: Cell<sys::napi_ref>,
  context: Cell<sys::napi_async_context>,
  /// A never-signalled async handle, referenced while some fd is watched: what keeps Node
  /// alive meanwhile, armed or not.
  keepalive: Cell<*mut c_void>,
  referenced: Cell<bool>,
  entries: RefCell<HashMap<RawFd, *mut Entry>>,
  closed: Cell<bool>,
}

/// One watched fd. Owned by its poll handle's `data` from `add` until libuv has closed the
/// handle (`entry_closed`), so it outlives a report during which JS removes it.
struct Entry {
  handle: *mut c_void,
  shared: Rc<Shared>,
  fd: RawFd,
  /// The interest JS asked for last.
  interest: Cell<u32>,
  /// JS asked for the next report (rearm) since the last one.
  armed: Cell<bool>,
  /// The events libuv watches for now; 0: stopped.
  started: Cell<c_int>,
  in_report: Cell<bool>,
  removed: Cell<bool>,
}

impl Entry {
  /// Makes libuv watch what JS asked for: the interest if armed, nothing otherwise.
  fn apply(&self) -> Result<()> {
    let want = if self.armed.get() { uv_events(self.interest.get())? } else { 0 };
    if want == self.started.get() {
      return Ok(());
    }
    let uv = self.shared.uv;
    // SAFETY: the handle is initialised and not closing (`removed` is checked by callers).
    let ret = unsafe {
      if want == 0 {
        (uv.poll_stop)(self.handle)
      } else {
        (uv.poll_start)(self.handle, want, on_poll)
      }
    };
    if ret < 0 {
      return Err(errno_error(&format!("uv_poll_start fd {}", self.fd), -ret));
    }
    self.started.set(want);
    Ok(())
  }

  /// Stops the handle and has libuv close it; the entry is freed once it has.
  fn remove(&self) {
    if self.removed.replace(true) {
      return;
    }
    // SAFETY: the handle is initialised and closed once (guarded by `removed`).
    unsafe { (self.shared.uv.close)(self.handle, Some(entry_closed)) };
  }
}

/// # Safety
/// Called by libuv once the poll handle of an entry is closed.
unsafe extern "C" fn entry_closed(handle: *mut c_void) {
  // SAFETY: the handle's data is the Entry leaked in `add`, taken back once here.
  unsafe {
    let entry = Box::from_raw(*handle.cast::<*mut Entry>());
    drop(entry);
    free_handle(handle);
  }
}

/// # Safety
/// Called by libuv once the keep-alive handle is closed.
unsafe extern "C" fn keepalive_closed(handle: *mut c_void) {
  // SAFETY: the handle came from alloc_handle and libuv is done with it.
  unsafe { free_handle(handle) };
}

unsafe extern "C" fn never_signalled(_handle: *mut c_void) {}

/// Runs on the loop for each report of an fd.
///
/// # Safety
/// Called by libuv with a poll handle made in `add`, whose data is its live Entry.
unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
  // SAFETY: the entry lives until the handle's close callback, which runs after this returns.
  let entry = unsafe { &**handle.cast::<*mut Entry>() };
  if entry.removed.get() {
    return;
  }
  // One-shot: this report needs a rearm for the next one. A handle that reported an error is
  // stopped by libuv already.
  entry.armed.set(false);
  if status < 0 {
    entry.started.set(0);
  }
  entry.in_report.set(true);
  let bits = event_bits(status, events, entry.interest.get());
  // SAFETY: on the loop's thread, with the environment alive (its teardown closes every entry).
  unsafe { report(&entry.shared, entry.fd, bits) };
  entry.in_report.set(false);
  if entry.removed.get() {
    return;
  }
  // Rearmed during the report with the same interest: nothing to change in the kernel.
  if let Err(e) = entry.apply() {
    // SAFETY: as above.
    unsafe { throw_uncaught(entry.shared.env, &e.reason) };
  }
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
      sys::napi_make_callback(env, shared.context.get(), recv, callback, 2, args.as_ptr(), &mut result);
    }
    rethrow_pending(env);
    sys::napi_close_handle_scope(env, scope);
  }
}

/// A pending JS exception becomes an 'uncaughtException', as for any callback of Node itself.
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

impl Shared {
  fn set_referenced(&self, referenced: bool) {
    if self.referenced.replace(referenced) == referenced {
      return;
    }
    // SAFETY: the keep-alive handle is initialised and not closed (the poller is open).
    unsafe {
      if referenced {
        (self.uv.ref_)(self.keepalive.get());
      } else {
        (self.uv.unref)(self.keepalive.get());
      }
    }
  }

  /// Closes every handle and lets go of the callback. Idempotent.
  fn close(&self, from_cleanup_hook: bool) {
    if self.closed.replace(true) {
      return;
    }
    let entries: Vec<*mut Entry> = self.entries.borrow_mut().drain().map(|(_, e)| e).collect();
    for entry in entries {
      // SAFETY: entries in the map are alive (freed only after their removal from it).
      unsafe { (*entry).remove() };
    }
    // SAFETY: initialised in `Poller::new`, closed once (guarded by `closed`).
    unsafe { (self.uv.close)(self.keepalive.get(), Some(keepalive_closed)) };
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

/// The environment is going away: close everything while its loop still runs.
///
/// # Safety
/// Called by Node with the Shared given to napi_add_env_cleanup_hook, still alive (the
/// poller removes the hook when it closes first).
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
    let raw = env.raw();
    let mut event_loop = ptr::null_mut();
    let mut callback_ref = ptr::null_mut();
    let mut context = ptr::null_mut();
    // SAFETY: napi calls on the main thread with live values.
    unsafe {
      napi_check(sys::napi_get_uv_event_loop(raw, &mut event_loop), "napi_get_uv_event_loop")?;
      let name = "wayland-shim poller";
      let mut js_name = ptr::null_mut();
      let mut resource = ptr::null_mut();
      napi_check(
        sys::napi_create_string_utf8(raw, name.as_ptr().cast(), name.len() as isize, &mut js_name),
        "napi_create_string_utf8",
      )?;
      napi_check(sys::napi_create_object(raw, &mut resource), "napi_create_object")?;
      napi_check(sys::napi_async_init(raw, resource, js_name, &mut context), "napi_async_init")?;
      if let Err(e) = napi_check(sys::napi_create_reference(raw, callback.raw(), 1, &mut callback_ref), "napi_create_reference") {
        sys::napi_async_destroy(raw, context);
        return Err(e);
      }
    }
    let keepalive = alloc_handle(uv, UV_ASYNC, ptr::null_mut());
    // SAFETY: a fresh handle on the environment's loop.
    let ret = unsafe { (uv.async_init)(event_loop, keepalive, Some(never_signalled)) };
    if ret < 0 {
      // SAFETY: libuv did not take the handle; the reference and context are ours.
      unsafe {
        free_handle(keepalive);
        sys::napi_delete_reference(raw, callback_ref);
        sys::napi_async_destroy(raw, context);
      }
      return Err(errno_error("uv_async_init", -ret));
    }
    // Nothing is watched yet: do not keep the process alive.
    // SAFETY: the handle was just initialised.
    unsafe { (uv.unref)(keepalive) };
    let shared = Rc::new(Shared {
      uv,
      env: raw,
      event_loop,
      callback: Cell::new(callback_ref),
      context: Cell::new(context),
      keepalive: Cell::new(keepalive),
      referenced: Cell::new(false),
      entries: RefCell::new(HashMap::new()),
      closed: Cell::new(false),
    });
    // SAFETY: the Shared outlives the hook: `close` removes it, or it runs (and closes) first.
    let status = unsafe { sys::napi_add_env_cleanup_hook(raw, Some(cleanup_hook), Rc::as_ptr(&shared) as *mut c_void) };
    let poller = Poller { shared };
    napi_check(status, "napi_add_env_cleanup_hook")?;
    Ok(poller)
  }

  /// Watches `fd` with the given interest (1 readable, 2 writable, 3 both). One-shot: after a
  /// report, call `rearm` to get the next one.
  #[napi]
  pub fn add(&mut self, fd: i32, interest: u32) -> Result<()> {
    let shared = &self.shared;
    if shared.closed.get() {
      return Err(closed_error());
    }
    let events = uv_events(interest)?;
    if shared.entries.borrow().contains_key(&fd) {
      return Err(error("EEXIST", format!("Poller: fd {fd} is watched already")));
    }
    let entry = Box::into_raw(Box::new(Entry {
      handle: ptr::null_mut(),
      shared: Rc::clone(shared),
      fd,
      interest: Cell::new(interest),
      armed: Cell::new(true),
      started: Cell::new(0),
      in_report: Cell::new(false),
      removed: Cell::new(false),
    }));
    let uv = shared.uv;
    let handle = alloc_handle(uv, UV_POLL, entry.cast());
    // SAFETY: `entry` was just leaked and is only reached through the handle from now on.
    unsafe { (*entry).handle = handle };
    // SAFETY: a fresh handle on the environment's loop.
    let ret = unsafe { (uv.poll_init)(shared.event_loop, handle, fd) };
    if ret < 0 {
      // SAFETY: libuv did not take the handle; the entry is ours again.
      unsafe {
        free_handle(handle);
        drop(Box::from_raw(entry));
      }
      return Err(errno_error(&format!("uv_poll_init fd {fd}"), -ret));
    }
    // SAFETY: the handle is initialised.
    let ret = unsafe { (uv.poll_start)(handle, events, on_poll) };
    if ret < 0 {
      // SAFETY: the entry is alive until its handle is closed.
      unsafe { (*entry).remove() };
      return Err(errno_error(&format!("uv_poll_start fd {fd}"), -ret));
    }
    // SAFETY: as above.
    unsafe { (*entry).started.set(events) };
    shared.entries.borrow_mut().insert(fd, entry);
    shared.set_referenced(true);
    Ok(())
  }

  /// Re-enables reports for `fd` after one was delivered, with a new interest.
  #[napi]
  pub fn rearm(&mut self, fd: i32, interest: u32) -> Result<()> {
    let shared = &self.shared;
    if shared.closed.get() {
      return Err(closed_error());
    }
    uv_events(interest)?;
    let Some(&entry) = shared.entries.borrow().get(&fd) else {
      return Err(error("ENOENT", format!("rearm: fd {fd} is not watched by this poller")));
    };
    // SAFETY: entries in the map are alive.
    let entry = unsafe { &*entry };
    entry.interest.set(interest);
    entry.armed.set(true);
    // During its report the change is made once the report returns.
    if entry.in_report.get() {
      return Ok(());
    }
    entry.apply()
  }

  /// Stops watching `fd`; no report for it is delivered after this returns. Call it before
  /// closing the fd. Removing an fd that is not watched does nothing.
  #[napi]
  pub fn remove(&mut self, fd: i32) -> Result<()> {
    let shared = &self.shared;
    if shared.closed.get() {
      return Ok(());
    }
    let entry = shared.entries.borrow_mut().remove(&fd);
    if let Some(entry) = entry {
      // SAFETY: it was in the map, so alive; freed once libuv has closed its handle.
      unsafe { (*entry).remove() };
    }
    if shared.entries.borrow().is_empty() {
      shared.set_referenced(false);
    }
    Ok(())
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

  #[test]
  fn interest_maps_to_libuv_events_with_hangup() {
    assert_eq!(uv_events(0).unwrap(), UV_DISCONNECT);
    assert_eq!(uv_events(READABLE).unwrap(), UV_DISCONNECT | UV_READABLE);
    assert_eq!(uv_events(READABLE | WRITABLE).unwrap(), UV_DISCONNECT | UV_READABLE | UV_WRITABLE);
    assert_eq!(uv_events(4).unwrap_err().status.0, "EINVAL");
  }

  #[test]
  fn reports_map_back_to_event_bits() {
    assert_eq!(event_bits(0, UV_READABLE, READABLE), READABLE);
    assert_eq!(event_bits(0, UV_WRITABLE, WRITABLE), WRITABLE);
    assert_eq!(event_bits(0, UV_READABLE | UV_DISCONNECT, READABLE), READABLE | HANGUP);
    // An error: hangup, and readable only where it was asked for.
    assert_eq!(event_bits(-9, 0, READABLE | WRITABLE), HANGUP | READABLE);
    assert_eq!(event_bits(-9, 0, WRITABLE), HANGUP);
  }
}
