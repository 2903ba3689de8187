//! Surviving clients that shrink their shared-memory files.
//!
//! Touching a page of a file mapping that lies past the end of the file raises SIGBUS, which would
//! kill the process. Like libwayland-server (wayland-shm.c, `sigbus_handler`), a process-wide
//! SIGBUS handler checks whether the faulting address lies in one of our mappings; if so it maps
//! anonymous zero pages over the whole mapping, marks it truncated and returns, so the faulting
//! access is retried and reads zeros. Other faults go to the handler that was installed before.
//!
//! libwayland knows which pool a thread is reading (`wl_shm_buffer_begin_access`); we hand the
//! memory to JavaScript as ArrayBuffers, read at any time, so mappings are found instead in a
//! process-wide registry the handler can read without locks or allocation: chunks of slots,
//! allocated on demand and never freed, each slot made of atomics.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::OnceLock;

use crate::error::{error, last_error, Result};

const SLOTS_PER_CHUNK: usize = 256;
const MAX_CHUNKS: usize = 256;
/// At most this many mappings exist at once (65536).
pub const MAX_MAPPINGS: usize = SLOTS_PER_CHUNK * MAX_CHUNKS;

const FREE: u8 = 0;
/// Being filled in or being released: the handler ignores it.
const BUSY: u8 = 1;
const LIVE: u8 = 2;

struct Slot {
  state: AtomicU8,
  start: AtomicUsize,
  len: AtomicUsize,
  /// Set by the handler, cleared on request.
  truncated: AtomicBool,
  /// Set by the handler and never cleared: the pages have been replaced by zeros.
  zeroed: AtomicBool,
}

impl Slot {
  const fn new() -> Self {
    Slot {
      state: AtomicU8::new(FREE),
      start: AtomicUsize::new(0),
      len: AtomicUsize::new(0),
      truncated: AtomicBool::new(false),
      zeroed: AtomicBool::new(false),
    }
  }
}

type Chunk = [Slot; SLOTS_PER_CHUNK];

static CHUNKS: [AtomicPtr<Chunk>; MAX_CHUNKS] = [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CHUNKS];
/// Number of SIGBUS handler runs in progress (on any thread). A slot is only reused once no
/// handler that might have seen it as LIVE is still running.
static HANDLERS_RUNNING: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

fn chunk(i: usize) -> Option<&'static Chunk> {
  let p = CHUNKS[i].load(Acquire);
  // SAFETY: chunk pointers come from Box::into_raw below and chunks are never freed.
  unsafe { p.as_ref() }
}

fn chunk_or_alloc(i: usize) -> &'static Chunk {
  if let Some(c) = chunk(i) {
    return c;
  }
  let fresh = Box::into_raw(Box::new([const { Slot::new() }; SLOTS_PER_CHUNK]));
  match CHUNKS[i].compare_exchange(ptr::null_mut(), fresh, AcqRel, Acquire) {
    // SAFETY: `fresh` was just published and is never freed.
    Ok(_) => unsafe { &*fresh },
    Err(existing) => {
      // SAFETY: `fresh` lost the race, was never shared, and came from Box::into_raw.
      drop(unsafe { Box::from_raw(fresh) });
      // SAFETY: `existing` is a published chunk, never freed.
      unsafe { &*existing }
    }
  }
}

/// A registered mapping range. Releasing it (drop) waits for running SIGBUS handlers to finish,
/// so that the range can be unmapped afterwards without a handler writing over its next owner.
pub struct Registration {
  slot: &'static Slot,
}

impl Registration {
  /// Registers `[start, start + len)`, installing the SIGBUS handler on first use.
  pub fn new(start: *mut u8, len: usize) -> Result<Registration> {
    install_handler()?;
    for i in 0..MAX_CHUNKS {
      for slot in chunk_or_alloc(i) {
        if slot.state.compare_exchange(FREE, BUSY, Acquire, Relaxed).is_ok() {
          slot.start.store(start as usize, Relaxed);
          slot.len.store(len, Relaxed);
          slot.truncated.store(false, Relaxed);
          slot.zeroed.store(false, Relaxed);
          slot.state.store(LIVE, SeqCst);
          return Ok(Registration { slot });
        }
      }
    }
    Err(error(
      "ENOMEM",
      format!("mmap: too many shared-memory mappings (at most {MAX_MAPPINGS})"),
    ))
  }

  /// True if a SIGBUS hit this mapping since the last `clear_truncated`.
  pub fn truncated(&self) -> bool {
    self.slot.truncated.load(SeqCst)
  }

  pub fn clear_truncated(&self) {
    self.slot.truncated.store(false, SeqCst);
  }

  /// True once the mapping's pages have been replaced by zeros (permanent).
  pub fn zeroed(&self) -> bool {
    self.slot.zeroed.load(SeqCst)
  }
}

impl Drop for Registration {
  fn drop(&mut self) {
    self.slot.state.store(BUSY, SeqCst);
    // A handler that incremented the counter before the store above may still act on the range;
    // one that increments it afterwards sees BUSY. Handlers are short and never block.
    while HANDLERS_RUNNING.load(SeqCst) != 0 {
      std::thread::yield_now();
    }
    self.slot.state.store(FREE, Release);
  }
}

/// Maps anonymous zero pages over `[start, start + len)` (page aligned), keeping the range
/// reserved. Async-signal-safe: one raw mmap call.
///
/// # Safety
/// The range must be a mapping this process owns and nobody may rely on its previous contents.
pub unsafe fn zero_fill(start: *mut u8, len: usize) -> bool {
  // SAFETY: per the contract, the range is ours; MAP_FIXED replaces exactly that range.
  let p = unsafe {
    libc::mmap(
      start.cast(),
      len,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
      -1,
      0,
    )
  };
  p != libc::MAP_FAILED
}

fn install_handler() -> Result<()> {
  static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
  let outcome = INSTALLED.get_or_init(|| {
    // SAFETY: sigaction is plain old data, valid when zeroed.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying the current disposition writes only into `previous`.
    if unsafe { libc::sigaction(libc::SIGBUS, ptr::null(), &mut previous) } != 0 {
      return Err(last_error("sigaction(SIGBUS)").reason);
    }
    // Stored before our handler can run, which reads it to chain.
    let _ = PREVIOUS.set(previous);
    // SAFETY: as above.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handle_sigbus as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialised and `handle_sigbus` has the SA_SIGINFO signature.
    if unsafe { libc::sigaction(libc::SIGBUS, &action, ptr::null_mut()) } != 0 {
      return Err(last_error("sigaction(SIGBUS)").reason);
    }
    Ok(())
  });
  outcome.clone().map_err(|reason| error("EINVAL", reason))
}

/// Zero-fills the mapping containing `addr`, if it is one of ours. Async-signal-safe: atomics
/// and one mmap call.
fn rescue(addr: usize) -> bool {
  for i in 0..MAX_CHUNKS {
    let Some(chunk) = chunk(i) else { break };
    for slot in chunk {
      if slot.state.load(SeqCst) != LIVE {
        continue;
      }
      let start = slot.start.load(Relaxed);
      let len = slot.len.load(Relaxed);
      if addr >= start && addr - start < len {
        // SAFETY: the slot is LIVE, so its range is a mapping of ours that cannot be unmapped
        // before this handler finishes (see `Registration::drop`). Its contents are forfeit.
        if !unsafe { zero_fill(start as *mut u8, len) } {
          return false;
        }
        slot.zeroed.store(true, SeqCst);
        slot.truncated.store(true, SeqCst);
        return true;
      }
    }
  }
  false
}

extern "C" fn handle_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
  // SAFETY: errno is thread-local; saving and restoring it keeps the interrupted code unaware.
  let errno_ptr = unsafe { libc::__errno_location() };
  // SAFETY: as above, a valid pointer to this thread's errno.
  let saved_errno = unsafe { *errno_ptr };
  HANDLERS_RUNNING.fetch_add(1, SeqCst);
  // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t; si_addr is meaningful for SIGBUS.
  let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
  // Only faults (si_code > 0) have an address; SIGBUS sent with kill() has si_code <= 0.
  let rescued = code > 0 && rescue(addr);
  HANDLERS_RUNNING.fetch_sub(1, SeqCst);
  // SAFETY: restoring this thread's errno.
  unsafe { *errno_ptr = saved_errno };
  if !rescued {
    // SAFETY: forwards the same arguments the kernel gave us to the previous disposition.
    unsafe { chain(sig, info, context, code) };
  }
}

/// Hands a SIGBUS that is not ours to whatever handled SIGBUS before us.
///
/// # Safety
/// Only from the SIGBUS handler, with the arguments the kernel passed to it.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void, code: libc::c_int) {
  let previous = PREVIOUS.get();
  let handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
  let flags = previous.map_or(0, |p| p.sa_flags);
  if handler == libc::SIG_IGN && code <= 0 {
    return;
  }
  if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
    // Restore the default action and re-raise: the signal stays pending until this handler
    // returns (SIGBUS is blocked while it runs), then terminates the process as it would have.
    // SAFETY: a zeroed sigaction with SIG_DFL is a valid disposition; raise is async-signal-safe.
    unsafe {
      let mut default: libc::sigaction = std::mem::zeroed();
      default.sa_sigaction = libc::SIG_DFL;
      libc::sigaction(libc::SIGBUS, &default, ptr::null_mut());
      libc::raise(libc::SIGBUS);
    }
    return;
  }
  if flags & libc::SA_SIGINFO != 0 {
    // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this signature.
    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
      unsafe { std::mem::transmute(handler) };
    f(sig, info, context);
  } else {
    // SAFETY: the previous handler was installed without SA_SIGINFO: it takes the signal number.
    let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
    f(sig);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn registrations_hold_a_slot_until_dropped() {
    // Addresses in the top page, never mapped in user space, so no real fault can match them.
    let start = usize::MAX - 0xfff;
    let reg = Registration::new(start as *mut u8, 0x800).unwrap();
    let slot = reg.slot;
    assert_eq!(slot.state.load(SeqCst), LIVE);
    assert_eq!(slot.start.load(SeqCst), start);
    assert!(!reg.truncated() && !reg.zeroed());
    drop(reg);
    assert_eq!(slot.state.load(SeqCst), FREE);
  }

  #[test]
  fn addresses_outside_any_mapping_are_not_rescued() {
    assert!(!rescue(usize::MAX - 4096));
  }
}
