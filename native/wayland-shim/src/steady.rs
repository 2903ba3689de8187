//! The receiver's steady frames, without JavaScript.
//!
//! Once a transmitter's surface is shown steadily (same size and format, the receiver's own
//! shared-memory buffers, one frame in flight), the messages of each of its frames are always
//! the same few: `wthp_content.begin`, tiles, `wthp_surface.frame`, maybe
//! `wthp_presentation.feedback`, `wthp_surface.commit`; and the local compositor answers with
//! `wl_callback.done`, `wl_display.delete_id` and `wl_buffer.release`. JavaScript hands such a
//! surface over (`adopt`) and gives each batch of bytes it reads from either socket to
//! `takeWaltham` / `takeWayland` before it parses them: these handle the leading messages that
//! belong to adopted surfaces and stop at the first that does not (or that is not exactly as
//! expected: a new size, another codec, a bad tile, a budget used up, anything else). A message
//! of another of the transmitter's surfaces, one not handed over, is left to JavaScript, and the
//! adopted ones stay (a transmitter's windows are handed over one by one; the ids its messages
//! create are checked against its connection's shared counter, so JavaScript and this side see
//! one sequence). On any other Waltham message they stop at, the transmitter's surfaces are
//! asked back (`release`): JavaScript takes their whole state (buffers, stale rectangles, the
//! frame being built, the frame in flight with its callbacks) and then handles that message
//! itself, with its own checks and errors. Nothing is refused here: what is not plainly valid
//! goes back to JavaScript.
//!
//! A frame: `begin` takes a buffer of the pool that is neither shown nor read by the compositor;
//! it catches up lazily with the shown one (the rectangles it missed, except where tiles
//! overwrite them), tiles are written by the same `write_tile` as `TileWriter`, and `commit`
//! sends attach, damage_buffer, frame and commit to the compositor. Its `wl_callback.done`
//! answers the transmitter: presentation feedback first (the presentation predicted from the
//! display's last real one, as `DisplayPresentation.expected` does), then the frame callbacks,
//! each followed by `wth_display.delete_id`. Now and then (`checkMs`) a commit asks the
//! compositor for its real presentation too (`wp_presentation.feedback`, with an id lent as the
//! wl_callback ids are): on the predictions' phase or lag it moves them on to it and renews the
//! hold; off it twice in a row, the surface goes back at its next frame. A surface whose
//! predictions no real presentation confirmed for `holdMs` goes back after its next frame, so
//! that JavaScript asks the compositor for one. On a display that is not steady (mode 3: its
//! presentations follow neither a phase nor a lag), every commit that carries the transmitter's
//! presentation feedback asks for its real presentation, as JavaScript does, and each one that
//! comes is the one the next answers are predicted from, until STEADY_AFTER in a row on the
//! phase of the one before or at the same lag after their frame callback show the display
//! steady (mode 1 or 2 then).
//!
//! Writes go straight to the sockets when JavaScript has nothing queued for them (it says so in
//! `io`), else, and for what a full socket did not take, they are kept for JavaScript to queue
//! (`takeStaged`). While surfaces are adopted, both sockets are read here too (`hookPeer`,
//! `hookDisplay`, reads.rs): JavaScript hears only of what a read leaves (bytes kept for its next
//! read; flags, pixels written and messages taken as a notice), its connections' shared cells
//! say whether it queued output meanwhile (then it reads), and a transmitter's reads write at
//! most the pixels JavaScript's budget gave (`setBudget`; less than a frame left: JavaScript
//! reads, charges what was written and gives the budget anew). Message layouts: Waltham (../shared/vectors/waltham/README.md): header of four
//! little-endian u16 (0, size, opcode, 0), target id, arguments; Wayland: target id, then size
//! << 16 | opcode, arguments. Every opcode comes from the caller's generated tables.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Buffer, Float64Array, Float64ArraySlice, Uint8Array, Uint8ArraySlice};
use napi_derive::napi;

use crate::error::{invalid, Result};
use crate::frame::{write_tile, FrameWire};
use crate::pixels::{copy, Rect};
use crate::poller::READABLE;
use crate::reads::{self, Read, Report, NOTICE};
use crate::socket::send_with_fds;

/// `io` slots: budget in pixels (in); the display's and the peers' connections have output
/// queued in JavaScript (in); pixels written (out); flags (out); messages handled (out).
const IO_BUDGET: usize = 0;
const IO_DISPLAY_QUEUED: usize = 1;
const IO_PEER_QUEUED: usize = 2;
const IO_PIXELS: usize = 3;
const IO_FLAGS: usize = 4;
const IO_MESSAGES: usize = 5;
pub const IO_LEN: usize = 6;

/// Flags: the peer's surfaces must be released before JavaScript handles the next message.
pub const FLAG_RELEASE: u32 = 1;
/// Bytes for the display are staged (`takeStaged(0)`).
pub const FLAG_DISPLAY_STAGED: u32 = 2;
/// Bytes for a peer are staged (`takeStaged(peer)`).
pub const FLAG_PEER_STAGED: u32 = 4;

/// Stale rectangles kept per buffer; past this many they become their bounding box.
const MAX_STALE: usize = 32;
/// Rectangles left to catch up past which the whole rest is copied at once.
const MAX_CATCH_UP: usize = 64;
/// Rectangles of one frame's tiles remembered for copy tiles (past it: none).
const MAX_WRITES: usize = 64;
/// Damage rectangles sent with a commit; more become their bounding box.
const MAX_DAMAGE: usize = 16;
/// A presentation within this share of a refresh of the phase (or of the lag before) is on it;
/// where the refresh is unknown, within LAG_TOLERANCE_NS of the lag (as
/// shared/display/presentation.ts has them).
const PHASE_TOLERANCE: i128 = 32;
const LAG_TOLERANCE_NS: i128 = 500_000;
/// Checks off the predictions in a row after which the surface goes back (one alone may be the
/// compositor's events read late by a busy process, where the lag is measured on arrival).
const MISSES: u32 = 2;
/// Presentations in a row on the phase of the one before, or at the same lag after their frame
/// callback, after which a display counts as steady (as shared/display/presentation.ts has it).
const STEADY_AFTER: u32 = 8;

/// Wire numbers, from the generated protocol tables.
#[napi(object)]
#[derive(Clone, Copy)]
pub struct SteadyWire {
  /// Waltham opcodes (global): requests of the transmitter ...
  pub begin: u32,
  pub tile: u32,
  pub frame: u32,
  pub feedback: u32,
  pub commit: u32,
  /// `wth_display.sync` (the transmitter's ping).
  pub sync: u32,
  /// ... and events of the receiver.
  pub callback_done: u32,
  pub feedback_presented: u32,
  pub delete_id: u32,
  /// Wayland opcodes (of their interfaces): wl_surface requests ...
  pub wl_attach: u32,
  pub wl_damage_buffer: u32,
  pub wl_frame: u32,
  pub wl_commit: u32,
  /// ... and events.
  pub wl_callback_done: u32,
  pub wl_buffer_release: u32,
  pub wl_delete_id: u32,
  /// wp_presentation.feedback (a request), wp_presentation_feedback's events, and the vsync bit
  /// of its kinds.
  pub wp_feedback: u32,
  pub wp_sync_output: u32,
  pub wp_presented: u32,
  pub wp_discarded: u32,
  pub wp_kind_vsync: u32,
  /// Waltham's `wthp_content.format` value of xrgb8888 (anything else is argb8888).
  pub format_xrgb: u32,
  /// Codec numbers for `write_tile`.
  pub tiles: FrameWire,
}

/// A surface handed over by JavaScript.
#[napi(object)]
pub struct SteadySurface {
  /// JavaScript's key for the surface.
  pub key: u32,
  /// The transmitter's connection: a key, its socket, and its connection's next object ids
  /// (the transmitter's side, then ours: `WalthamConnection.idCounters`, shared), so that the
  /// ids the transmitter creates are checked in one sequence here and in JavaScript, whichever
  /// handles the message.
  pub peer: u32,
  pub peer_fd: i32,
  pub ids: Float64Array,
  /// Whether JavaScript queued output to the transmitter, or to the compositor, since it last
  /// looked (their connections' `nativeState`): reads done natively leave the work to
  /// JavaScript then.
  pub peer_dirty: Uint8Array,
  pub display_dirty: Uint8Array,
  /// The transmitter's connection's cells (WalthamPeer's, shared): the last serial given, and
  /// when its last ping came (ms since the epoch, as Date.now()). Its pings are answered here
  /// with the next serial, and the time noted, without JavaScript.
  pub serial: Float64Array,
  /// Waltham ids: the wthp_surface, the peer's wthp_content and wthp_presentation objects.
  pub surface: u32,
  pub contents: Vec<u32>,
  pub presentations: Vec<u32>,
  pub width: u32,
  pub height: u32,
  /// Waltham format value of the buffers.
  pub format: u32,
  /// Codecs the receiver announced (bit per codec).
  pub codecs: u32,
  /// Frame callbacks and presentation feedbacks a surface may have unanswered.
  pub max_callbacks: u32,
  pub max_feedbacks: u32,
  /// The compositor's socket, the local wl_surface, wl_callback ids lent for frames.
  pub display_fd: i32,
  pub wl_surface: u32,
  pub callback_ids: Vec<u32>,
  /// The pool: the buffers' pixels (JavaScript's views of their shared memory, held here until
  /// the surface goes back), their wl_buffers, whether the compositor reads them, and per buffer
  /// its stale rectangles (count, then x, y, width, height each).
  pub buffers: Vec<Uint8Array>,
  pub wl_buffers: Vec<u32>,
  pub busy: Vec<bool>,
  pub stale: Vec<i32>,
  /// The buffer shown now.
  pub current: u32,
  /// 0: the display reports no presentation times; 1: predict the next refresh after the last
  /// presentation; 2: predict by the lag after the frame callback; 3: as 1, from the display's
  /// real presentation of every commit (asked each time, as JavaScript asks for a surface whose
  /// producer wants them on a display not steady yet), until they show it steady (1 or 2 then).
  pub presentation: u32,
  /// The last presentation: CLOCK_MONOTONIC ns, refresh, sequence, flags; the lag (ns).
  pub last_time_ns: f64,
  pub refresh_ns: u32,
  pub seq_hi: u32,
  pub seq_lo: u32,
  pub flags: u32,
  pub lag_ns: f64,
  /// Given back after the first frame done this long after the hand-over, or after the last
  /// real presentation that confirmed the predictions.
  pub hold_ms: u32,
  /// The compositor's wp_presentation (0: none) and its clock (wp_presentation.clock_id), the
  /// wp_presentation_feedback ids lent for checks, and how often a commit asks for one (ms): a
  /// real presentation on the predictions' phase (or lag) moves them on to it and renews the
  /// hold; two off it in a row give the surface back at its next frame. In mode 3 every commit
  /// that carries the transmitter's feedback asks one (while a lent id is free) and each
  /// presentation moves the predictions on to it.
  pub wp_presentation: u32,
  pub clock: u32,
  pub feedback_ids: Vec<u32>,
  pub check_ms: u32,
}

/// What JavaScript takes back.
#[napi(object)]
pub struct SteadyState {
  pub key: u32,
  pub peer: u32,
  pub last_id: u32,
  pub current: u32,
  pub busy: Vec<bool>,
  pub stale: Vec<i32>,
  /// The buffer a frame was begun in (tiles written, caught up), or -1.
  pub pending: i32,
  pub pending_damage: Vec<i32>,
  pub pending_callbacks: Vec<u32>,
  pub pending_feedbacks: Vec<u32>,
  /// The wl_callback of the frame in flight (0: none), and what its done answers.
  pub in_flight: u32,
  pub flight_callbacks: Vec<u32>,
  pub flight_feedbacks: Vec<u32>,
  /// Lent wl_callback ids not in use, and those whose delete_id has not come yet.
  pub free_callback_ids: Vec<u32>,
  pub deleting_callback_ids: Vec<u32>,
  /// Lent wp_presentation_feedback ids not in use (the others are answered, and deleted, to
  /// JavaScript's connection).
  pub free_feedback_ids: Vec<u32>,
  /// Real presentations that confirmed the predictions.
  pub checks: f64,
  /// Counted since the hand-over.
  pub commits: f64,
  pub tiles: f64,
  pub tile_bytes: f64,
  pub presented: f64,
}

struct Buf {
  pixels: Uint8Array,
  wl: u32,
  busy: bool,
  stale: Vec<Rect>,
}

impl Buf {
  fn bytes(&mut self) -> &mut [u8] {
    // SAFETY: the view keeps its memory alive (a reference to JavaScript's array); JavaScript
    // writes the pool only while it owns the surface, and here it is only reached through
    // `&mut self`, one buffer at a time or two distinct ones (`two`).
    unsafe { self.pixels.as_mut() }
  }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CallbackId {
  Free,
  InFlight,
  Deleting,
}

struct Pending {
  index: usize,
  catch_up: Vec<Rect>,
  writes: Option<Vec<Rect>>,
  damage: Vec<Rect>,
}

struct Flight {
  wl_callback: u32,
  callbacks: Vec<u32>,
  feedbacks: Vec<u32>,
}

/// A real presentation asked for a commit, to check the predictions: its feedback id, the
/// commit's wl_callback, and when that callback came (CLOCK_MONOTONIC ns).
struct Check {
  id: u32,
  wl_callback: u32,
  done_ns: Option<i128>,
}

/// A real presentation: its time on the compositor's clock and on CLOCK_MONOTONIC (ns), refresh,
/// sequence, flags.
struct Shown {
  raw: i128,
  t: i128,
  refresh: u32,
  seq: u64,
  flags: u32,
}

/// How a display not steady yet shows a surface (mode 3), as DisplayPresentation learns it: the
/// last presentation on the compositor's clock and its refresh, presentations in a row on the
/// phase of the one before, and at the same lag after their frame callback (None: no lag yet).
#[derive(Default)]
struct Learning {
  phase: Option<(i128, u32)>,
  on_phase: u32,
  on_lag: Option<u32>,
}

struct Surface {
  key: u32,
  peer: u32,
  surface: u32,
  contents: Vec<u32>,
  presentations: Vec<u32>,
  width: usize,
  height: usize,
  format: u32,
  codecs: u32,
  max_callbacks: usize,
  max_feedbacks: usize,
  wl_surface: u32,
  callback_ids: Vec<(u32, CallbackId)>,
  bufs: Vec<Buf>,
  current: usize,
  pending: Option<Pending>,
  frames: Vec<u32>,
  feedbacks: Vec<u32>,
  flight: Option<Flight>,
  presentation: u32,
  last_time_ns: i128,
  refresh_ns: u32,
  seq: u64,
  flags: u32,
  lag_ns: i128,
  hold: Duration,
  deadline: Instant,
  expired: bool,
  wp_presentation: u32,
  clock: u32,
  feedback_ids: Vec<(u32, CallbackId)>,
  check_every: Duration,
  next_check: Instant,
  /// Real presentations asked and not answered yet (one at most but in mode 3).
  asked: Vec<Check>,
  learning: Learning,
  checks: f64,
  misses: u32,
  commits: f64,
  tiles: f64,
  tile_bytes: f64,
  presented: f64,
}

struct Peer {
  fd: i32,
  ids: Option<Float64Array>,
  staged: Vec<u8>,
  dirty: Option<Uint8Array>,
  serial: Option<Float64Array>,
  /// A ping was answered since the last call.
  synced: bool,
  /// Reads done natively: the pixels they may still write (JavaScript's budget, `setBudget`),
  /// and what they wrote and took since JavaScript last counted (`takePeerNotice`).
  budget: f64,
  pixels: f64,
  messages: f64,
  notice: u32,
  hook: Option<(RawFd, reads::Hook)>,
}

impl Peer {
  /// The highest object id the transmitter created so far (0: none known).
  fn last_id(&self) -> u32 {
    self
      .ids
      .as_ref()
      .and_then(|c| c.first())
      .map_or(0, |&next| (next as u32).wrapping_sub(1))
  }

  /// The transmitter created `id`, the next of its ids: counted in the shared counter.
  fn took_id(&mut self, id: u32) {
    if let Some(cell) = self.ids.as_mut() {
      // SAFETY: JavaScript's cell, alive while held here; nothing else reaches it during a call.
      if let Some(next) = unsafe { cell.as_mut() }.first_mut() {
        *next = id as f64 + 1.0;
      }
    }
  }
}

struct Out {
  fd: i32,
  staged: Vec<u8>,
  dirty: Option<Uint8Array>,
  notice: u32,
  hook: Option<(RawFd, reads::Hook)>,
}

/// JavaScript's cells say it queued output since it last looked (none given: it did) ...
fn dirty(cell: &Option<Uint8Array>) -> bool {
  cell.as_ref().is_none_or(|d| d.first().is_none_or(|&d| d != 0))
}

/// ... or that it holds the start of a message it read.
fn held(cell: &Option<Uint8Array>) -> bool {
  cell.as_ref().is_none_or(|d| d.get(1).is_none_or(|&d| d != 0))
}

/// Steady frames of the receiver's adopted surfaces (see the module comment): the state, shared
/// by JavaScript's object and the hooks of the sockets read natively.
pub struct Frames {
  wire: SteadyWire,
  scratch: Vec<u8>,
  surfaces: Vec<Surface>,
  peers: HashMap<u32, Peer>,
  display: Out,
  /// Reads of sockets done natively.
  native_reads: f64,
}

pub(crate) fn rd16(b: &[u8], at: usize) -> usize {
  u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

pub(crate) fn rd32(b: &[u8], at: usize) -> u32 {
  u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn intersect(a: Rect, b: Rect) -> Option<Rect> {
  let x0 = a.x.max(b.x);
  let y0 = a.y.max(b.y);
  let x1 = (a.x + a.w).min(b.x + b.w);
  let y1 = (a.y + a.h).min(b.y + b.h);
  (x0 < x1 && y0 < y1).then(|| Rect {
    x: x0,
    y: y0,
    w: x1 - x0,
    h: y1 - y0,
  })
}

/// `a` minus `b`, as up to four rectangles.
fn subtract(a: Rect, b: Rect, out: &mut Vec<Rect>) {
  let Some(o) = intersect(a, b) else {
    out.push(a);
    return;
  };
  if o.y > a.y {
    out.push(Rect {
      x: a.x,
      y: a.y,
      w: a.w,
      h: o.y - a.y,
    });
  }
  if o.y + o.h < a.y + a.h {
    out.push(Rect {
      x: a.x,
      y: o.y + o.h,
      w: a.w,
      h: a.y + a.h - o.y - o.h,
    });
  }
  if o.x > a.x {
    out.push(Rect {
      x: a.x,
      y: o.y,
      w: o.x - a.x,
      h: o.h,
    });
  }
  if o.x + o.w < a.x + a.w {
    out.push(Rect {
      x: o.x + o.w,
      y: o.y,
      w: a.x + a.w - o.x - o.w,
      h: o.h,
    });
  }
}

pub(crate) fn bounding(rects: &[Rect]) -> Rect {
  let x0 = rects.iter().map(|r| r.x).min().unwrap_or(0);
  let y0 = rects.iter().map(|r| r.y).min().unwrap_or(0);
  let x1 = rects.iter().map(|r| r.x + r.w).max().unwrap_or(0);
  let y1 = rects.iter().map(|r| r.y + r.h).max().unwrap_or(0);
  Rect {
    x: x0,
    y: y0,
    w: x1 - x0,
    h: y1 - y0,
  }
}

fn add_rect(list: &mut Vec<Rect>, r: Rect, max: usize) {
  if list.iter().any(|s| intersect(*s, r) == Some(r)) {
    return;
  }
  list.push(r);
  if list.len() > max {
    let b = bounding(list);
    list.clear();
    list.push(b);
  }
}

fn rects_to_i32(rects: &[Rect], out: &mut Vec<i32>) {
  for r in rects {
    out.extend([r.x as i32, r.y as i32, r.w as i32, r.h as i32]);
  }
}

/// Milliseconds since the epoch, as JavaScript's Date.now().
fn epoch_ms() -> f64 {
  std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map_or(0.0, |d| d.as_millis() as f64)
}

pub(crate) fn monotonic_ns() -> i128 {
  let mut ts = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: `ts` is a valid timespec to write to.
  unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
  ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// A time `t` of the compositor's presentation `clock` on this process's CLOCK_MONOTONIC, as
/// DisplayPresentation.toMonotonic places it: CLOCK_MONOTONIC's as it is, CLOCK_REALTIME's through
/// the time now, any other clock's at the time its event is read.
fn to_monotonic(clock: u32, t: i128) -> i128 {
  match clock as libc::clockid_t {
    libc::CLOCK_MONOTONIC => t,
    libc::CLOCK_REALTIME => {
      let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
      monotonic_ns() - (real - t)
    }
    _ => monotonic_ns(),
  }
}

pub(crate) fn waltham(out: &mut Vec<u8>, opcode: u32, target: u32, args: &[u32]) {
  let size = 12 + 4 * args.len();
  out.extend_from_slice(&[0, 0]);
  out.extend_from_slice(&(size as u16).to_le_bytes());
  out.extend_from_slice(&(opcode as u16).to_le_bytes());
  out.extend_from_slice(&[0, 0]);
  out.extend_from_slice(&target.to_le_bytes());
  for a in args {
    out.extend_from_slice(&a.to_le_bytes());
  }
}

pub(crate) fn wayland(out: &mut Vec<u8>, target: u32, opcode: u32, args: &[u32]) {
  let size = 8 + 4 * args.len() as u32;
  out.extend_from_slice(&target.to_le_bytes());
  out.extend_from_slice(&((size << 16) | opcode).to_le_bytes());
  for a in args {
    out.extend_from_slice(&a.to_le_bytes());
  }
}

/// The staged bytes, taken for JavaScript to queue; None: nothing is staged.
pub(crate) fn take_bytes(staged: &mut Vec<u8>) -> Option<Buffer> {
  (!staged.is_empty()).then(|| std::mem::take(staged).into())
}

/// `buf[..end]`, when `start..end` is a range of it and `io` has `io_len` slots.
pub(crate) fn input<'a>(
  what: &str,
  buf: &'a [u8],
  start: u32,
  end: u32,
  io: &[f64],
  io_len: usize,
) -> Result<&'a [u8]> {
  if io.len() < io_len || end as usize > buf.len() || start > end {
    return Err(invalid(format!("{what}: bad range or io")));
  }
  Ok(&buf[..end as usize])
}

/// Writes what the socket takes now; true when bytes are left (for JavaScript to queue).
pub(crate) fn flush(fd: i32, staged: &mut Vec<u8>, queued: bool) -> bool {
  if staged.is_empty() {
    return false;
  }
  if !queued {
    if let Ok(Some(n)) = send_with_fds(fd, staged, &[]) {
      staged.drain(..n);
    }
  }
  !staged.is_empty()
}

/// The time and sequence of the presentation the display's last one (`last_time`, `refresh`,
/// `seq`) predicts at `now`, as `DisplayPresentation.expected` predicts it (mode 1: the next
/// refresh after the last presentation that is not past; mode 2: now plus the display's `lag`
/// after the frame callback). Both are checked against shared/display/presentation-vectors.txt.
fn predict(mode: u32, last_time: i128, refresh: u32, seq: u64, lag: i128, now: i128) -> (i128, u64) {
  let refresh = refresh as i128;
  if mode == 2 {
    let t = now + lag;
    if seq == 0 || refresh == 0 {
      (t, seq)
    } else {
      let k = (t - last_time + refresh / 2) / refresh;
      (t, seq + k.max(0) as u64)
    }
  } else if refresh == 0 || now <= last_time {
    (last_time, seq)
  } else {
    let k = (now - last_time + refresh - 1) / refresh;
    (last_time + k * refresh, if seq == 0 { 0 } else { seq + k as u64 })
  }
}

/// How far a lag after the frame callback may move and still be the same: PHASE_TOLERANCE of
/// the refresh, or LAG_TOLERANCE_NS where the refresh is unknown.
fn lag_tolerance(refresh: u32) -> i128 {
  if refresh > 0 {
    refresh as i128 / PHASE_TOLERANCE
  } else {
    LAG_TOLERANCE_NS
  }
}

/// Whether `t` is a whole number of refreshes after `from` (within PHASE_TOLERANCE of one).
fn on_the_phase(from: i128, refresh: u32, t: i128) -> bool {
  if t <= from || refresh == 0 {
    return false;
  }
  let refresh = refresh as i128;
  let off = (t - from) % refresh;
  let tolerance = refresh / PHASE_TOLERANCE;
  off <= tolerance || refresh - off <= tolerance
}

impl Surface {
  /// The frame's buffer must have `r` up to date: copy what it missed there (unless the tile
  /// overwrites every pixel), and forget it.
  fn before_tile(&mut self, r: Rect, overwrites: bool) {
    let Some(p) = self.pending.as_ref() else { return };
    if p.catch_up.is_empty() {
      return;
    }
    if p.catch_up.len() > MAX_CATCH_UP {
      self.finish();
      return;
    }
    let Some(p) = self.pending.as_mut() else { return };
    let stride = self.width * 4;
    let mut rest = Vec::with_capacity(p.catch_up.len() + 4);
    let (from, to) = two(&mut self.bufs, self.current, p.index);
    for c in p.catch_up.drain(..) {
      match intersect(c, r) {
        None => rest.push(c),
        Some(o) => {
          if !overwrites {
            copy(from.bytes(), stride, o, to.bytes(), stride, o);
          }
          subtract(c, o, &mut rest);
        }
      }
    }
    p.catch_up = rest;
  }

  /// Bring the frame's buffer fully up to date.
  fn finish(&mut self) {
    let Some(p) = self.pending.as_mut() else { return };
    let stride = self.width * 4;
    let (from, to) = two(&mut self.bufs, self.current, p.index);
    for c in p.catch_up.drain(..) {
      copy(from.bytes(), stride, c, to.bytes(), stride, c);
    }
  }

  /// A tile wrote `r` of the frame's buffer: every other buffer misses it now.
  fn wrote(&mut self, r: Rect) {
    let Some(p) = self.pending.as_mut() else { return };
    if let Some(w) = p.writes.as_mut() {
      if w.len() < MAX_WRITES {
        w.push(r);
      } else {
        p.writes = None;
      }
    }
    add_rect(&mut p.damage, r, MAX_DAMAGE);
    for (i, b) in self.bufs.iter_mut().enumerate() {
      if i != p.index {
        add_rect(&mut b.stale, r, MAX_STALE);
      }
    }
  }

  fn free_callback(&self) -> Option<usize> {
    self.callback_ids.iter().position(|(_, s)| *s == CallbackId::Free)
  }

  /// The presentation the display's last one predicts now: (age us, refresh, seq, flags).
  fn predicted(&self) -> (i32, u32, u64, u32) {
    if self.presentation == 0 {
      return (0, 0, 0, 0);
    }
    let now = monotonic_ns();
    let (time, seq) = predict(
      self.presentation,
      self.last_time_ns,
      self.refresh_ns,
      self.seq,
      self.lag_ns,
      now,
    );
    let age = ((now - time) / 1000).clamp(i32::MIN as i128, i32::MAX as i128) as i32;
    (age, self.refresh_ns, seq, self.flags)
  }

  /// The lent feedback id to ask a real presentation of the commit answered by `wl_callback`
  /// with: while the compositor has wp_presentation and there are predictions to check, one in
  /// flight at most, one per `check_every`; in mode 3, for every commit that carries the
  /// transmitter's presentation feedback (as JavaScript asks), while a lent id is free.
  fn ask_check(&mut self, wl_callback: u32) -> Option<u32> {
    let every = self.presentation == 3 && !self.feedbacks.is_empty();
    if self.wp_presentation == 0 || self.presentation == 0 || (!every && !self.asked.is_empty()) {
      return None;
    }
    let now = Instant::now();
    if !every && now < self.next_check {
      return None;
    }
    let (id, state) = self
      .feedback_ids
      .iter_mut()
      .find(|(_, s)| *s == CallbackId::Free)?;
    *state = CallbackId::InFlight;
    self.next_check = now + self.check_every;
    self.asked.push(Check {
      id: *id,
      wl_callback,
      done_ns: None,
    });
    Some(*id)
  }

  /// The compositor presented a checked commit at `t` (CLOCK_MONOTONIC ns). On the predictions'
  /// phase (mode 1: with vsync, a whole number of unchanged refreshes after the last
  /// presentation) or lag (mode 2: as long after its frame callback as the last one), they move
  /// on to it and the hold starts again; off it MISSES times in a row, the surface goes back at
  /// its next frame and JavaScript learns the display anew. Before its frame callback came,
  /// nothing is decided. In mode 3 every presentation is the one to predict from.
  fn presented(&mut self, c: &Check, shown: &Shown, vsync: u32) {
    let &Shown {
      t,
      refresh,
      seq,
      flags,
      ..
    } = shown;
    let on = match self.presentation {
      1 => flags & vsync != 0 && refresh == self.refresh_ns && on_the_phase(self.last_time_ns, refresh, t),
      3 => {
        self.learn(c, shown, vsync);
        true
      }
      2 => {
        let Some(done) = c.done_ns else { return };
        let lag = t - done;
        let on = (lag - self.lag_ns).abs() <= lag_tolerance(refresh);
        if on {
          self.lag_ns = lag;
        }
        on
      }
      _ => return,
    };
    if !on {
      self.misses += 1;
      if self.misses >= MISSES {
        self.expired = true;
      }
      return;
    }
    self.misses = 0;
    self.last_time_ns = t;
    self.refresh_ns = refresh;
    self.seq = seq;
    self.flags = flags;
    self.deadline = Instant::now() + self.hold;
    self.checks += 1.0;
  }

  /// Mode 3: STEADY_AFTER presentations in a row on the phase of the one before (with vsync: a
  /// whole number of unchanged refreshes later) make the display steady on its phase (mode 1),
  /// as many at the same lag after their frame callback steady on that lag (mode 2), as
  /// DisplayPresentation has it; from then on one a `check_every` checks the predictions.
  fn learn(&mut self, c: &Check, shown: &Shown, vsync: u32) {
    let l = &mut self.learning;
    let on_phase = shown.flags & vsync != 0
      && l
        .phase
        .is_some_and(|(raw, refresh)| refresh == shown.refresh && on_the_phase(raw, refresh, shown.raw));
    l.on_phase = if on_phase { l.on_phase + 1 } else { 0 };
    l.phase = Some((shown.raw, shown.refresh));
    if let Some(done) = c.done_ns {
      let lag = shown.t - done;
      l.on_lag = Some(match l.on_lag {
        Some(n) if (lag - self.lag_ns).abs() <= lag_tolerance(shown.refresh) => n + 1,
        _ => 0,
      });
      self.lag_ns = lag;
    }
    if l.on_phase >= STEADY_AFTER {
      self.presentation = 1;
      self.lag_ns = 0;
    } else if l.on_lag.is_some_and(|n| n >= STEADY_AFTER) {
      self.presentation = 2;
    } else {
      return;
    }
    self.next_check = Instant::now() + self.check_every;
  }

  /// An event of a real presentation asked (its lent feedback `id`): the presentation, or its end.
  fn feedback_event(&mut self, w: &SteadyWire, id: u32, opcode: u32, msg: &[u8]) -> bool {
    if opcode == w.wp_sync_output && msg.len() == 12 {
      return true;
    }
    let presented = opcode == w.wp_presented && msg.len() == 36;
    let discarded = opcode == w.wp_discarded && msg.len() == 8;
    if !presented && !discarded {
      return false;
    }
    for (fid, state) in &mut self.feedback_ids {
      if *fid == id {
        *state = CallbackId::Deleting;
      }
    }
    let Some(at) = self.asked.iter().position(|c| c.id == id) else {
      return true;
    };
    let c = self.asked.swap_remove(at);
    if presented {
      let sec = ((rd32(msg, 8) as i128) << 32) | rd32(msg, 12) as i128;
      let raw = sec * 1_000_000_000 + rd32(msg, 16) as i128;
      let shown = Shown {
        raw,
        t: to_monotonic(self.clock, raw),
        refresh: rd32(msg, 20),
        seq: ((rd32(msg, 24) as u64) << 32) | rd32(msg, 28) as u64,
        flags: rd32(msg, 32),
      };
      self.presented(&c, &shown, w.wp_kind_vsync);
    }
    true
  }

  fn state(mut self) -> SteadyState {
    self.finish();
    let mut stale = Vec::new();
    for b in &self.bufs {
      stale.push(b.stale.len() as i32);
      rects_to_i32(&b.stale, &mut stale);
    }
    let mut pending_damage = Vec::new();
    let pending = match &self.pending {
      Some(p) => {
        rects_to_i32(&p.damage, &mut pending_damage);
        p.index as i32
      }
      None => -1,
    };
    let (in_flight, flight_callbacks, flight_feedbacks) = match self.flight.take() {
      Some(f) => (f.wl_callback, f.callbacks, f.feedbacks),
      None => (0, vec![], vec![]),
    };
    let ids = |want: CallbackId| {
      self
        .callback_ids
        .iter()
        .filter(|(_, s)| *s == want)
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
    };
    SteadyState {
      key: self.key,
      peer: self.peer,
      last_id: 0,
      current: self.current as u32,
      busy: self.bufs.iter().map(|b| b.busy).collect(),
      stale,
      pending,
      pending_damage,
      pending_callbacks: std::mem::take(&mut self.frames),
      pending_feedbacks: std::mem::take(&mut self.feedbacks),
      in_flight,
      flight_callbacks,
      flight_feedbacks,
      free_callback_ids: ids(CallbackId::Free),
      deleting_callback_ids: ids(CallbackId::Deleting),
      free_feedback_ids: self
        .feedback_ids
        .iter()
        .filter(|(_, s)| *s == CallbackId::Free)
        .map(|(id, _)| *id)
        .collect(),
      checks: self.checks,
      commits: self.commits,
      tiles: self.tiles,
      tile_bytes: self.tile_bytes,
      presented: self.presented,
    }
  }
}

/// Two distinct buffers of the pool, one to read and one to write.
fn two(bufs: &mut [Buf], from: usize, to: usize) -> (&mut Buf, &mut Buf) {
  assert_ne!(from, to);
  if from < to {
    let (a, b) = bufs.split_at_mut(to);
    (&mut a[from], &mut b[0])
  } else {
    let (a, b) = bufs.split_at_mut(from);
    (&mut b[0], &mut a[to])
  }
}

enum Step {
  /// Handled: go on after the message.
  Next,
  /// Not ours: stop before the message.
  Stop,
  /// Ours but not steady: stop, and the peer's surfaces go back.
  Release,
}

impl Frames {
  pub fn new(wire: SteadyWire) -> Self {
    Frames {
      wire,
      scratch: Vec::new(),
      surfaces: Vec::new(),
      peers: HashMap::new(),
      display: Out {
        fd: -1,
        staged: Vec::new(),
        dirty: None,
        notice: 0,
        hook: None,
      },
      native_reads: 0.0,
    }
  }

  /// Take over a surface (see `SteadySurface`). Throws for a spec that does not hold together.
  pub fn adopt(&mut self, spec: SteadySurface) -> Result<()> {
    let n = spec.buffers.len();
    if n < 2 || spec.wl_buffers.len() != n || spec.busy.len() != n || spec.current as usize >= n {
      return Err(invalid(
        "SteadyFrames.adopt: a pool of at least two buffers is needed",
      ));
    }
    if spec.callback_ids.is_empty() || spec.width == 0 || spec.height == 0 {
      return Err(invalid("SteadyFrames.adopt: no callback ids or no size"));
    }
    if self.surfaces.iter().any(|s| s.key == spec.key) {
      return Err(invalid("SteadyFrames.adopt: the surface is adopted already"));
    }
    let size = spec.width as usize * spec.height as usize * 4;
    if spec.buffers.iter().any(|b| b.len() < size) {
      return Err(invalid(
        "SteadyFrames.adopt: a buffer is smaller than the surface",
      ));
    }
    let mut bufs = Vec::with_capacity(n);
    let mut stale = spec.stale.iter().copied();
    for (i, pixels) in spec.buffers.into_iter().enumerate() {
      let count = stale.next().unwrap_or(0).max(0) as usize;
      let mut rects = Vec::with_capacity(count);
      for _ in 0..count {
        let v: Vec<i32> = stale.by_ref().take(4).collect();
        if v.len() != 4 || v.iter().any(|&x| x < 0) {
          return Err(invalid("SteadyFrames.adopt: stale rectangles do not add up"));
        }
        let r = Rect::new(v[0] as u32, v[1] as u32, v[2] as u32, v[3] as u32);
        if r.x + r.w > spec.width as usize || r.y + r.h > spec.height as usize {
          return Err(invalid("SteadyFrames.adopt: a stale rectangle leaves the buffer"));
        }
        if !r.is_empty() {
          add_rect(&mut rects, r, MAX_STALE);
        }
      }
      bufs.push(Buf {
        pixels,
        wl: spec.wl_buffers[i],
        busy: spec.busy[i],
        stale: rects,
      });
    }
    self.display.fd = spec.display_fd;
    self.display.dirty = Some(spec.display_dirty);
    let peer = self.peers.entry(spec.peer).or_insert(Peer {
      fd: spec.peer_fd,
      ids: None,
      staged: Vec::new(),
      dirty: None,
      serial: None,
      synced: false,
      budget: 0.0,
      pixels: 0.0,
      messages: 0.0,
      notice: 0,
      hook: None,
    });
    peer.fd = spec.peer_fd;
    peer.ids = Some(spec.ids);
    peer.dirty = Some(spec.peer_dirty);
    peer.serial = Some(spec.serial);
    self.surfaces.push(Surface {
      key: spec.key,
      peer: spec.peer,
      surface: spec.surface,
      contents: spec.contents,
      presentations: spec.presentations,
      width: spec.width as usize,
      height: spec.height as usize,
      format: spec.format,
      codecs: spec.codecs,
      max_callbacks: spec.max_callbacks as usize,
      max_feedbacks: spec.max_feedbacks as usize,
      wl_surface: spec.wl_surface,
      callback_ids: spec
        .callback_ids
        .iter()
        .map(|&id| (id, CallbackId::Free))
        .collect(),
      bufs,
      current: spec.current as usize,
      pending: None,
      frames: Vec::new(),
      feedbacks: Vec::new(),
      flight: None,
      presentation: spec.presentation,
      last_time_ns: spec.last_time_ns as i128,
      refresh_ns: spec.refresh_ns,
      seq: ((spec.seq_hi as u64) << 32) | spec.seq_lo as u64,
      flags: spec.flags,
      lag_ns: spec.lag_ns as i128,
      hold: Duration::from_millis(spec.hold_ms as u64),
      deadline: Instant::now() + Duration::from_millis(spec.hold_ms as u64),
      expired: false,
      wp_presentation: spec.wp_presentation,
      clock: spec.clock,
      feedback_ids: spec
        .feedback_ids
        .iter()
        .map(|&id| (id, CallbackId::Free))
        .collect(),
      check_every: Duration::from_millis(spec.check_ms as u64),
      next_check: Instant::now(),
      asked: Vec::new(),
      learning: Learning::default(),
      checks: 0.0,
      misses: 0,
      commits: 0.0,
      tiles: 0.0,
      tile_bytes: 0.0,
      presented: 0.0,
    });
    Ok(())
  }

  /// Give every adopted surface of `peer` back; the highest object id the peer created is in
  /// each state.
  pub fn release(&mut self, peer: u32) -> Vec<SteadyState> {
    let last_id = self.peers.get(&peer).map_or(0, Peer::last_id);
    let mut out = Vec::new();
    let mut i = 0;
    while i < self.surfaces.len() {
      if self.surfaces[i].peer == peer {
        let mut st = self.surfaces.swap_remove(i).state();
        st.last_id = last_id;
        out.push(st);
      } else {
        i += 1;
      }
    }
    out
  }

  /// Give one surface back (null when it is not adopted).
  pub fn release_surface(&mut self, key: u32) -> Option<SteadyState> {
    let i = self.surfaces.iter().position(|s| s.key == key)?;
    let s = self.surfaces.swap_remove(i);
    let last_id = self.peers.get(&s.peer).map_or(0, Peer::last_id);
    let mut st = s.state();
    st.last_id = last_id;
    Some(st)
  }

  /// What the peer's adopted surfaces did so far: commits, tiles, tile bytes, frames presented.
  pub fn counters(&self, peer: u32) -> Vec<f64> {
    let mut c = vec![0.0; 5];
    for s in self.surfaces.iter().filter(|s| s.peer == peer) {
      c[0] += s.commits;
      c[1] += s.tiles;
      c[2] += s.tile_bytes;
      c[3] += s.presented;
      c[4] += s.checks;
    }
    c
  }

  /// The peer is gone: forget what was staged for it.
  pub fn forget_peer(&mut self, peer: u32) {
    self.peers.remove(&peer);
  }

  /// Bytes staged for the display (`peer` 0) or a peer, for JavaScript to queue; null: none.
  pub fn take_staged(&mut self, peer: u32) -> Option<Buffer> {
    let staged = if peer == 0 {
      &mut self.display.staged
    } else {
      &mut self.peers.get_mut(&peer)?.staged
    };
    take_bytes(staged)
  }

  /// `takeWaltham` on plain slices.
  pub(crate) fn waltham_bytes(
    &mut self,
    peer: u32,
    buf: &[u8],
    start: u32,
    end: u32,
    io: &mut [f64],
  ) -> Result<u32> {
    let bytes = input("SteadyFrames.takeWaltham", buf, start, end, io, IO_LEN)?;
    let mut budget = io[IO_BUDGET].max(0.0);
    let mut at = start as usize;
    let mut pixels = 0.0;
    let mut messages = 0.0;
    let mut flags = 0u32;
    while end as usize - at >= 12 {
      let size = rd16(bytes, at + 2);
      if size < 12 || at + size > end as usize {
        break;
      }
      let msg = &bytes[at..at + size];
      match self.waltham_message(peer, msg, &mut budget, &mut pixels) {
        Step::Next => {
          at += size;
          messages += 1.0;
        }
        Step::Stop => break,
        Step::Release => {
          flags |= FLAG_RELEASE;
          break;
        }
      }
    }
    if flush(
      self.display.fd,
      &mut self.display.staged,
      io[IO_DISPLAY_QUEUED] != 0.0,
    ) {
      flags |= FLAG_DISPLAY_STAGED;
    }
    if let Some(p) = self.peers.get_mut(&peer) {
      // A ping's answer goes out with the frames' answers.
      if std::mem::take(&mut p.synced) && flush(p.fd, &mut p.staged, io[IO_PEER_QUEUED] != 0.0) {
        flags |= FLAG_PEER_STAGED;
      }
    }
    io[IO_PIXELS] = pixels;
    io[IO_FLAGS] = flags as f64;
    io[IO_MESSAGES] = messages;
    Ok(at as u32)
  }

  fn waltham_message(&mut self, peer: u32, msg: &[u8], budget: &mut f64, pixels: &mut f64) -> Step {
    let w = self.wire;
    let opcode = rd16(msg, 4) as u32;
    let target = rd32(msg, 8);
    let size = msg.len();
    let owned = |s: &Surface| s.peer == peer;
    if !self.surfaces.iter().any(owned) {
      return Step::Stop;
    }
    let last_id = self.peers.get(&peer).map_or(u32::MAX, Peer::last_id);
    if opcode == w.sync && target == 1 && size == 16 {
      // The ping: answered as WalthamPeer does, wthp_callback.done with the next serial, then
      // delete_id (written after the read, with the frames' answers).
      let id = rd32(msg, 12);
      let Some(p) = self.peers.get_mut(&peer) else {
        return Step::Release;
      };
      let Some(cell) = p.serial.as_mut() else {
        return Step::Release;
      };
      if id != last_id.wrapping_add(1) {
        return Step::Release;
      }
      // SAFETY: JavaScript's cells, alive while held here; nothing else reaches them during a call.
      let cells = unsafe { cell.as_mut() };
      let [serial, pinged, ..] = cells else {
        return Step::Release;
      };
      *serial = ((*serial as u32).wrapping_add(1)) as f64;
      *pinged = epoch_ms();
      let next = *serial as u32;
      waltham(&mut p.staged, w.callback_done, id, &[next]);
      waltham(&mut p.staged, w.delete_id, 1, &[id]);
      p.took_id(id);
      p.synced = true;
      return Step::Next;
    }
    if opcode == w.begin && size == 28 {
      let (sid, width, height, format) = (rd32(msg, 12), rd32(msg, 16), rd32(msg, 20), rd32(msg, 24));
      let Some(s) = self
        .surfaces
        .iter_mut()
        .find(|s| s.peer == peer && s.surface == sid)
      else {
        // Another of the transmitter's surfaces, not handed over: JavaScript's.
        return Step::Stop;
      };
      if !s.contents.contains(&target)
        || width as usize != s.width
        || height as usize != s.height
        || format != s.format
        || s.pending.is_some()
        || s.expired
      {
        return Step::Release;
      }
      let Some(index) = (0..s.bufs.len()).find(|&i| i != s.current && !s.bufs[i].busy) else {
        return Step::Release;
      };
      let catch_up = std::mem::take(&mut s.bufs[index].stale);
      s.pending = Some(Pending {
        index,
        catch_up,
        writes: Some(Vec::new()),
        damage: Vec::new(),
      });
      return Step::Next;
    }
    if opcode == w.tile && size >= 40 {
      let sid = rd32(msg, 12);
      let (x, y, tw, th, codec) = (
        rd32(msg, 16),
        rd32(msg, 20),
        rd32(msg, 24),
        rd32(msg, 28),
        rd32(msg, 32),
      );
      let len = rd32(msg, 36) as usize;
      if size != 40 + len.div_ceil(4) * 4 {
        return Step::Release;
      }
      let data = &msg[40..40 + len];
      let Some(s) = self
        .surfaces
        .iter_mut()
        .find(|s| s.peer == peer && s.surface == sid)
      else {
        // Another of the transmitter's surfaces, not handed over: JavaScript's.
        return Step::Stop;
      };
      if !s.contents.contains(&target) || s.pending.is_none() || codec > 31 || s.codecs & (1 << codec) == 0 {
        return Step::Release;
      }
      let (xi, yi, wi, hi) = (x as i32, y as i32, tw as i32, th as i32);
      if wi <= 0
        || hi <= 0
        || xi < 0
        || yi < 0
        || x as usize + tw as usize > s.width
        || y as usize + th as usize > s.height
      {
        return Step::Release;
      }
      let rgb = codec == w.tiles.codec_raw_rgb || codec == w.tiles.codec_lz4_rgb;
      if rgb && s.format != w.format_xrgb {
        return Step::Release;
      }
      let area = ((tw as usize * th as usize).min(s.width * s.height)) as f64;
      if area > *budget {
        return Step::Release;
      }
      let r = Rect::new(x, y, tw, th);
      let stride = s.width * 4;
      let mut written = false;
      if codec == w.tiles.codec_copy {
        if len != 8 {
          return Step::Release;
        }
        let src = Rect::new(rd32(data, 0), rd32(data, 4), tw, th);
        if src.x + src.w > s.width || src.y + src.h > s.height {
          return Step::Release;
        }
        // Straight from the shown buffer when no tile of this frame wrote the source yet; else
        // the source must be caught up first and the pixels move within the frame's buffer.
        let p = s.pending.as_ref().expect("checked above");
        let untouched = p
          .writes
          .as_ref()
          .is_some_and(|ws| ws.iter().all(|&wr| intersect(wr, src).is_none()));
        if untouched {
          s.before_tile(r, true);
          let index = s.pending.as_ref().expect("checked above").index;
          let (from, to) = two(&mut s.bufs, s.current, index);
          copy(from.bytes(), stride, src, to.bytes(), stride, r);
          written = true;
        } else {
          s.before_tile(src, false);
          s.before_tile(r, true);
        }
      } else {
        s.before_tile(r, codec != w.tiles.codec_lz4_spans);
      }
      if !written {
        let index = s.pending.as_ref().expect("checked above").index;
        let out = s.bufs[index].bytes();
        if write_tile(&w.tiles, &mut self.scratch, codec, data, out, stride, r).is_err() {
          return Step::Release;
        }
      }
      s.wrote(r);
      *budget -= area;
      *pixels += area;
      s.tiles += 1.0;
      s.tile_bytes += len as f64;
      return Step::Next;
    }
    if opcode == w.frame && size == 16 {
      let id = rd32(msg, 12);
      let Some(s) = self
        .surfaces
        .iter_mut()
        .find(|s| s.peer == peer && s.surface == target)
      else {
        // Another of the transmitter's surfaces, not handed over: JavaScript's.
        return Step::Stop;
      };
      let flying = s.flight.as_ref().map_or(0, |f| f.callbacks.len());
      if id != last_id.wrapping_add(1) || s.frames.len() + flying >= s.max_callbacks {
        return Step::Release;
      }
      s.frames.push(id);
      self.peers.get_mut(&peer).expect("known peer").took_id(id);
      return Step::Next;
    }
    if opcode == w.feedback && size == 20 {
      let (sid, id) = (rd32(msg, 12), rd32(msg, 16));
      let Some(s) = self
        .surfaces
        .iter_mut()
        .find(|s| s.peer == peer && s.surface == sid)
      else {
        // Another of the transmitter's surfaces, not handed over: JavaScript's.
        return Step::Stop;
      };
      let flying = s.flight.as_ref().map_or(0, |f| f.feedbacks.len());
      if !s.presentations.contains(&target)
        || id != last_id.wrapping_add(1)
        || s.feedbacks.len() + flying >= s.max_feedbacks
      {
        return Step::Release;
      }
      s.feedbacks.push(id);
      self.peers.get_mut(&peer).expect("known peer").took_id(id);
      return Step::Next;
    }
    if opcode == w.commit && size == 12 {
      let Some(s) = self
        .surfaces
        .iter_mut()
        .find(|s| s.peer == peer && s.surface == target)
      else {
        // Another of the transmitter's surfaces, not handed over: JavaScript's.
        return Step::Stop;
      };
      if s.flight.is_some() || (s.pending.is_none() && s.frames.is_empty() && s.feedbacks.is_empty()) {
        return Step::Release;
      }
      let Some(cb) = s.free_callback() else {
        return Step::Release;
      };
      s.finish();
      let out = &mut self.display.staged;
      if let Some(p) = s.pending.take() {
        let b = &mut s.bufs[p.index];
        b.busy = true;
        wayland(out, s.wl_surface, w.wl_attach, &[b.wl, 0, 0]);
        for r in &p.damage {
          wayland(
            out,
            s.wl_surface,
            w.wl_damage_buffer,
            &[r.x as u32, r.y as u32, r.w as u32, r.h as u32],
          );
        }
        s.current = p.index;
      }
      s.callback_ids[cb].1 = CallbackId::InFlight;
      let wl_callback = s.callback_ids[cb].0;
      wayland(out, s.wl_surface, w.wl_frame, &[wl_callback]);
      if let Some(fid) = s.ask_check(wl_callback) {
        wayland(out, s.wp_presentation, w.wp_feedback, &[s.wl_surface, fid]);
      }
      wayland(out, s.wl_surface, w.wl_commit, &[]);
      s.flight = Some(Flight {
        wl_callback,
        callbacks: std::mem::take(&mut s.frames),
        feedbacks: std::mem::take(&mut s.feedbacks),
      });
      s.commits += 1.0;
      return Step::Next;
    }
    Step::Release
  }

  /// `takeWayland` on plain slices.
  pub(crate) fn wayland_bytes(&mut self, buf: &[u8], start: u32, end: u32, io: &mut [f64]) -> Result<u32> {
    let bytes = input("SteadyFrames.takeWayland", buf, start, end, io, IO_LEN)?;
    let w = self.wire;
    let mut at = start as usize;
    let mut messages = 0.0;
    let mut answered: Vec<u32> = Vec::new();
    while end as usize - at >= 8 {
      let id = rd32(bytes, at);
      let word = rd32(bytes, at + 4);
      let (size, opcode) = ((word >> 16) as usize, word & 0xffff);
      if size < 8 || at + size > end as usize {
        break;
      }
      // The lent feedback id of a real presentation asked.
      let checked = self
        .surfaces
        .iter()
        .position(|s| s.asked.iter().any(|c| c.id == id));
      let handled = if let Some(i) = checked {
        self.surfaces[i].feedback_event(&w, id, opcode, &bytes[at..at + size])
      } else if id == 1 && opcode == w.wl_delete_id && size == 12 {
        let gone = rd32(bytes, at + 8);
        let mut found = false;
        for s in &mut self.surfaces {
          for (cid, state) in s.callback_ids.iter_mut().chain(s.feedback_ids.iter_mut()) {
            if *cid == gone && *state == CallbackId::Deleting {
              *state = CallbackId::Free;
              found = true;
            }
          }
        }
        found
      } else if opcode == w.wl_callback_done && size == 12 {
        let time = rd32(bytes, at + 8);
        match self
          .surfaces
          .iter()
          .position(|s| s.flight.as_ref().is_some_and(|f| f.wl_callback == id))
        {
          Some(i) => {
            let peer = self.surfaces[i].peer;
            self.frame_done(i, time);
            if !answered.contains(&peer) {
              answered.push(peer);
            }
            true
          }
          None => false,
        }
      } else if opcode == w.wl_buffer_release && size == 8 {
        let mut found = false;
        for s in &mut self.surfaces {
          for b in &mut s.bufs {
            if b.wl == id {
              b.busy = false;
              found = true;
            }
          }
        }
        found
      } else {
        false
      };
      if !handled {
        break;
      }
      at += size;
      messages += 1.0;
    }
    let mut flags = 0;
    let queued = io[IO_PEER_QUEUED] != 0.0;
    for peer in answered {
      if let Some(p) = self.peers.get_mut(&peer) {
        if flush(p.fd, &mut p.staged, queued) {
          flags |= FLAG_PEER_STAGED;
        }
      }
    }
    io[IO_PIXELS] = 0.0;
    io[IO_FLAGS] = flags as f64;
    io[IO_MESSAGES] = messages;
    Ok(at as u32)
  }

  /// The compositor is done with surface `i`'s frame: answer its presentation feedbacks and
  /// frame callbacks.
  fn frame_done(&mut self, i: usize, time: u32) {
    let w = self.wire;
    let s = &mut self.surfaces[i];
    let Some(f) = s.flight.take() else { return };
    for (id, state) in &mut s.callback_ids {
      if *id == f.wl_callback {
        *state = CallbackId::Deleting;
      }
    }
    // (Lent wl_callback ids come back: an older check of the same id had its callback already.)
    if let Some(c) = s
      .asked
      .iter_mut()
      .find(|c| c.wl_callback == f.wl_callback && c.done_ns.is_none())
    {
      c.done_ns = Some(monotonic_ns());
    }
    let Some(p) = self.peers.get_mut(&s.peer) else {
      return;
    };
    if !f.feedbacks.is_empty() {
      let (age, refresh, seq, flags) = s.predicted();
      for fb in &f.feedbacks {
        waltham(
          &mut p.staged,
          w.feedback_presented,
          *fb,
          &[age as u32, refresh, (seq >> 32) as u32, seq as u32, flags],
        );
        waltham(&mut p.staged, w.delete_id, 1, &[*fb]);
      }
    }
    for cb in &f.callbacks {
      waltham(&mut p.staged, w.callback_done, *cb, &[time]);
      waltham(&mut p.staged, w.delete_id, 1, &[*cb]);
    }
    s.presented += 1.0;
    if Instant::now() >= s.deadline {
      s.expired = true;
    }
  }
}

impl Frames {
  /// Pixels of one frame of each of `peer`'s surfaces: a read done natively waits for
  /// JavaScript's budget (`setBudget`) when less is left.
  fn frame_pixels(&self, peer: u32) -> f64 {
    self
      .surfaces
      .iter()
      .filter(|s| s.peer == peer)
      .map(|s| (s.width * s.height) as f64)
      .sum()
  }

  /// A read of `peer`'s socket done natively (reads.rs): the messages taken as `takeWaltham`
  /// takes them, within the budget JavaScript gave, the rest kept for JavaScript, flags and
  /// what was written as a notice (`takePeerNotice`). Nothing is read while JavaScript queued
  /// output to the compositor since it last looked, or with less budget than a frame.
  fn waltham_read(&mut self, peer: u32, fd: RawFd) -> Report {
    let need = self.frame_pixels(peer);
    let Some(p) = self.peers.get(&peer) else {
      return READABLE;
    };
    // The peer's own cell too: its pings are answered here.
    if dirty(&self.display.dirty) || dirty(&p.dirty) || held(&p.dirty) || need == 0.0 || p.budget < need {
      return READABLE;
    }
    let budget = p.budget;
    reads::read(fd, |read| match read {
      Read::Nothing => 0,
      Read::ToJs => READABLE,
      Read::Bytes(bytes) => {
        self.native_reads += 1.0;
        let mut io = [0.0; IO_LEN];
        io[IO_BUDGET] = budget;
        let at = self
          .waltham_bytes(peer, bytes, 0, bytes.len() as u32, &mut io)
          .map_or(0, |at| at as usize);
        let flags = io[IO_FLAGS] as u32;
        if let Some(p) = self.peers.get_mut(&peer) {
          p.budget -= io[IO_PIXELS];
          p.pixels += io[IO_PIXELS];
          p.messages += io[IO_MESSAGES];
          p.notice |= flags;
        }
        let mut report = reads::leave(fd, &bytes[at..], reads::waltham_size);
        if flags != 0 {
          report |= READABLE | NOTICE;
        }
        report
      }
    })
  }

  /// A read of the compositor's socket done natively: the events taken as `takeWayland` takes
  /// them, the rest kept for JavaScript, flags as a notice (`takeDisplayNotice`). Nothing is
  /// read while JavaScript queued output to a transmitter answered here since it last looked.
  fn wayland_read(&mut self, fd: RawFd) -> Report {
    let peers = &self.peers;
    if held(&self.display.dirty)
      || self
        .surfaces
        .iter()
        .any(|s| peers.get(&s.peer).is_none_or(|p| dirty(&p.dirty)))
    {
      return READABLE;
    }
    reads::read(fd, |read| match read {
      Read::Nothing => 0,
      Read::ToJs => READABLE,
      Read::Bytes(bytes) => {
        self.native_reads += 1.0;
        let mut io = [0.0; IO_LEN];
        let at = self
          .wayland_bytes(bytes, 0, bytes.len() as u32, &mut io)
          .map_or(0, |at| at as usize);
        let flags = io[IO_FLAGS] as u32;
        self.display.notice |= flags;
        let mut report = reads::leave(fd, &bytes[at..], reads::wayland_size);
        if flags != 0 {
          report |= READABLE | NOTICE;
        }
        report
      }
    })
  }
}

/// Stop reading a socket natively, if `hook` is the one on it.
fn unhook(hook: &mut Option<(RawFd, reads::Hook)>) {
  if let Some((fd, h)) = hook.take() {
    reads::clear_hook_if(fd, &h);
  }
}

/// The receiver's steady frames (see the module comment), for JavaScript.
#[napi]
pub struct SteadyFrames {
  inner: Rc<RefCell<Frames>>,
}

#[napi]
impl SteadyFrames {
  #[napi(constructor)]
  pub fn new(wire: SteadyWire) -> Self {
    SteadyFrames {
      inner: Rc::new(RefCell::new(Frames::new(wire))),
    }
  }

  /// Take over a surface (see `SteadySurface`). Throws for a spec that does not hold together.
  #[napi]
  pub fn adopt(&self, spec: SteadySurface) -> Result<()> {
    self.inner.borrow_mut().adopt(spec)
  }

  /// Give every adopted surface of `peer` back; the highest object id the peer created is in
  /// each state.
  #[napi]
  pub fn release(&self, peer: u32) -> Vec<SteadyState> {
    self.inner.borrow_mut().release(peer)
  }

  /// Give one surface back (null when it is not adopted).
  #[napi]
  pub fn release_surface(&self, key: u32) -> Option<SteadyState> {
    self.inner.borrow_mut().release_surface(key)
  }

  /// What the peer's adopted surfaces did so far: commits, tiles, tile bytes, frames presented,
  /// real presentations that confirmed the predictions.
  #[napi]
  pub fn counters(&self, peer: u32) -> Vec<f64> {
    self.inner.borrow().counters(peer)
  }

  /// The peer is gone: forget what was staged for it, and its hook.
  #[napi]
  pub fn forget_peer(&self, peer: u32) {
    let mut f = self.inner.borrow_mut();
    if let Some(p) = f.peers.get_mut(&peer) {
      unhook(&mut p.hook);
    }
    f.forget_peer(peer);
  }

  /// Bytes staged for the display (`peer` 0) or a peer, for JavaScript to queue; null: none.
  #[napi]
  pub fn take_staged(&self, peer: u32) -> Option<Buffer> {
    self.inner.borrow_mut().take_staged(peer)
  }

  /// Handle the leading messages of `buf[start, end)`, read from `peer`'s Waltham connection,
  /// that belong to adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  #[napi]
  pub fn take_waltham(
    &self,
    peer: u32,
    buf: Uint8ArraySlice<'_>,
    start: u32,
    end: u32,
    mut io: Float64ArraySlice<'_>,
  ) -> Result<u32> {
    // SAFETY: valid during this synchronous call; nothing else reaches the memory meanwhile.
    let io = unsafe { io.as_mut() };
    self.inner.borrow_mut().waltham_bytes(peer, &buf, start, end, io)
  }

  /// Handle the leading events of `buf[start, end)`, read from the compositor, that belong to
  /// adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  #[napi]
  pub fn take_wayland(
    &self,
    buf: Uint8ArraySlice<'_>,
    start: u32,
    end: u32,
    mut io: Float64ArraySlice<'_>,
  ) -> Result<u32> {
    // SAFETY: as in take_waltham.
    let io = unsafe { io.as_mut() };
    self.inner.borrow_mut().wayland_bytes(&buf, start, end, io)
  }

  /// Read `peer`'s socket `fd` natively while it has adopted surfaces (the poller calls this
  /// side when the socket is readable, and JavaScript hears only of what is left: reads.rs),
  /// within the budget of `setBudget`. Kept until `unhookPeer` or `forgetPeer`.
  #[napi]
  pub fn hook_peer(&self, peer: u32, fd: i32) {
    let mut f = self.inner.borrow_mut();
    let Some(p) = f.peers.get_mut(&peer) else {
      return;
    };
    unhook(&mut p.hook);
    p.hook = Some(reads::hook_state(&self.inner, fd, move |f: &mut Frames, fd| {
      f.waltham_read(peer, fd)
    }));
  }

  /// JavaScript reads `peer`'s socket again.
  #[napi]
  pub fn unhook_peer(&self, peer: u32) {
    if let Some(p) = self.inner.borrow_mut().peers.get_mut(&peer) {
      unhook(&mut p.hook);
    }
  }

  /// The pixels `peer`'s native reads may write from now on (what JavaScript's budget allows).
  #[napi]
  pub fn set_budget(&self, peer: u32, pixels: f64) {
    if let Some(p) = self.inner.borrow_mut().peers.get_mut(&peer) {
      p.budget = pixels;
    }
  }

  /// What native reads of `peer` left for JavaScript since the last call: flags (FLAG_*),
  /// pixels written (to charge), messages taken (to count).
  #[napi]
  pub fn take_peer_notice(&self, peer: u32) -> Vec<f64> {
    let mut f = self.inner.borrow_mut();
    let Some(p) = f.peers.get_mut(&peer) else {
      return vec![0.0; 3];
    };
    let out = vec![p.notice as f64, p.pixels, p.messages];
    p.notice = 0;
    p.pixels = 0.0;
    p.messages = 0.0;
    out
  }

  /// Read the compositor's socket `fd` natively while surfaces are adopted. Kept until
  /// `unhookDisplay`.
  #[napi]
  pub fn hook_display(&self, fd: i32) {
    let mut f = self.inner.borrow_mut();
    unhook(&mut f.display.hook);
    f.display.hook = Some(reads::hook_state(&self.inner, fd, |f: &mut Frames, fd| {
      f.wayland_read(fd)
    }));
  }

  /// JavaScript reads the compositor's socket again.
  #[napi]
  pub fn unhook_display(&self) {
    unhook(&mut self.inner.borrow_mut().display.hook);
  }

  /// Flags native reads of the compositor's socket left (FLAG_PEER_STAGED); 0: none.
  #[napi]
  pub fn take_display_notice(&self) -> u32 {
    std::mem::take(&mut self.inner.borrow_mut().display.notice)
  }

  /// Reads of sockets done natively so far.
  #[napi(getter)]
  pub fn native_reads(&self) -> f64 {
    self.inner.borrow().native_reads
  }
}

impl Drop for SteadyFrames {
  fn drop(&mut self) {
    if let Ok(mut f) = self.inner.try_borrow_mut() {
      unhook(&mut f.display.hook);
      for p in f.peers.values_mut() {
        unhook(&mut p.hook);
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::fd::memfd_create;
  use crate::fuzz::WIRE;
  use crate::shm::Mapping;
  use crate::socket::socket_pair;

  const W: u32 = 16;
  const H: u32 = 8;

  fn wire() -> SteadyWire {
    SteadyWire {
      begin: 30,
      tile: 31,
      frame: 20,
      feedback: 40,
      commit: 24,
      sync: 2,
      callback_done: 2,
      feedback_presented: 41,
      delete_id: 3,
      wl_attach: 1,
      wl_damage_buffer: 9,
      wl_frame: 3,
      wl_commit: 6,
      wl_callback_done: 0,
      wl_buffer_release: 0,
      wl_delete_id: 1,
      wp_feedback: 1,
      wp_sync_output: 0,
      wp_presented: 1,
      wp_discarded: 2,
      wp_kind_vsync: 1,
      format_xrgb: 1,
      tiles: WIRE,
    }
  }

  struct Setup {
    frames: Frames,
    /// Our ends of the display's and the peer's sockets.
    display: i32,
    peer: i32,
    maps: Vec<Mapping>,
    /// The transmitter's connection's cells (serial, last ping), shared with the frames.
    cells: Box<[f64; 2]>,
    /// Its next object ids (the transmitter's, ours), shared with the frames.
    ids: Box<[f64; 2]>,
    /// Every fd made for it, closed when it goes.
    fds: Vec<i32>,
  }

  impl Drop for Setup {
    fn drop(&mut self) {
      for &fd in &self.fds {
        // SAFETY: fds this setup made and nothing else closes.
        unsafe { libc::close(fd) };
      }
    }
  }

  fn read_all(fd: i32) -> Vec<u8> {
    let mut out = vec![0u8; 65536];
    // SAFETY: a valid buffer of that length.
    let n = unsafe { libc::recv(fd, out.as_mut_ptr().cast(), out.len(), libc::MSG_DONTWAIT) };
    out.truncate(n.max(0) as usize);
    out
  }

  fn setup(stale: Vec<i32>) -> Setup {
    setup_held(stale, 60_000)
  }

  fn setup_held(stale: Vec<i32>, hold_ms: u32) -> Setup {
    setup_with(stale, hold_ms, |_| {})
  }

  /// A surface whose predictions (`presentation` mode, the last presentation at `last_time_ns`,
  /// `refresh_ns`, `lag_ns`) are checked with real presentations (wp_presentation 5, feedback
  /// ids 30 and 31) every `check_ms`.
  fn setup_checked(
    presentation: u32,
    last_time_ns: i128,
    refresh_ns: u32,
    lag_ns: i128,
    check_ms: u32,
  ) -> Setup {
    setup_with(vec![0, 0], 60_000, |spec| {
      spec.presentation = presentation;
      spec.last_time_ns = last_time_ns as f64;
      spec.refresh_ns = refresh_ns;
      spec.seq_lo = 100;
      spec.flags = 1;
      spec.lag_ns = lag_ns as f64;
      spec.wp_presentation = 5;
      spec.feedback_ids = vec![30, 31];
      spec.check_ms = check_ms;
    })
  }

  /// A surface followed (mode 3) from a presentation at `last_time_ns` (60 Hz, sequence 100,
  /// vsync), feedback ids `feedback_ids` lent, a check_every of a minute.
  fn setup_following(last_time_ns: i128, feedback_ids: Vec<u32>) -> Setup {
    setup_with(vec![0, 0], 60_000, |spec| {
      spec.presentation = 3;
      spec.last_time_ns = last_time_ns as f64;
      spec.refresh_ns = 16_666_667;
      spec.seq_lo = 100;
      spec.flags = 1;
      spec.wp_presentation = 5;
      spec.feedback_ids = feedback_ids;
      spec.check_ms = 60_000;
    })
  }

  /// The lent feedback ids that wp_presentation.feedback requests in `sent` (to the compositor)
  /// asked with, in order.
  fn asked_ids(sent: &[u8]) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut at = 0;
    while at + 8 <= sent.len() {
      let word = rd32(sent, at + 4);
      if rd32(sent, at) == 5 && word & 0xffff == 1 {
        ids.push(rd32(sent, at + 12));
      }
      at += (word >> 16).max(8) as usize;
    }
    ids
  }

  fn setup_with(stale: Vec<i32>, hold_ms: u32, tweak: impl FnOnce(&mut SteadySurface)) -> Setup {
    let display = socket_pair().unwrap();
    let peer = socket_pair().unwrap();
    let size = (W * H * 4) as f64;
    let fds = vec![
      memfd_create("a".into(), size).unwrap(),
      memfd_create("b".into(), size).unwrap(),
    ];
    let fds_made = fds.clone();
    let maps: Vec<Mapping> = fds
      .iter()
      .map(|&fd| Mapping::map(fd, 0, size as usize, true).unwrap())
      .collect();
    let mut cells = Box::new([0.0f64; 2]);
    // SAFETY: the cells live in the setup as long as the frames that use them.
    let serial = unsafe { Float64Array::with_external_data(cells.as_mut_ptr(), 2, |_, _| {}) };
    // The transmitter created ids up to 50.
    let mut id_cells = Box::new([51.0f64, 0xff00_0000u32 as f64]);
    // SAFETY: as the cells above.
    let ids = unsafe { Float64Array::with_external_data(id_cells.as_mut_ptr(), 2, |_, _| {}) };
    let mut frames = Frames::new(wire());
    let mut spec = SteadySurface {
      key: 7,
      peer: 1,
      peer_fd: peer[0],
      ids,
      surface: 19,
      contents: vec![6],
      presentations: vec![9],
      width: W,
      height: H,
      format: 1,
      codecs: (1 << 0) | (1 << 3) | (1 << 7),
      max_callbacks: 4,
      max_feedbacks: 4,
      display_fd: display[0],
      peer_dirty: vec![0u8; 2].into(),
      display_dirty: vec![0u8; 2].into(),
      serial,
      wl_surface: 14,
      callback_ids: vec![20, 21],
      buffers: maps
        .iter()
        // SAFETY: the mappings live in the setup as long as the frames that use them.
        .map(|m: &Mapping| unsafe { Uint8Array::with_external_data(m.as_ptr(), m.len(), |_, _| {}) })
        .collect(),
      wl_buffers: vec![18, 22],
      busy: vec![true, false],
      stale,
      current: 0,
      presentation: 0,
      last_time_ns: 0.0,
      refresh_ns: 0,
      seq_hi: 0,
      seq_lo: 0,
      flags: 0,
      lag_ns: 0.0,
      hold_ms,
      wp_presentation: 0,
      clock: libc::CLOCK_MONOTONIC as u32,
      feedback_ids: vec![],
      check_ms: 0,
    };
    tweak(&mut spec);
    frames.adopt(spec).unwrap();
    Setup {
      frames,
      display: display[1],
      peer: peer[1],
      maps,
      cells,
      ids: id_cells,
      fds: [display.clone(), peer.clone(), fds_made].concat(),
    }
  }

  fn tile(x: u32, y: u32, w: u32, h: u32, codec: u32, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    waltham(&mut m, 31, 6, &[19, x, y, w, h, codec, data.len() as u32]);
    m.extend_from_slice(data);
    m.resize(m.len().div_ceil(4) * 4, 0);
    let size = m.len() as u16;
    m[2..4].copy_from_slice(&size.to_le_bytes());
    m
  }

  fn frame_messages(extra: &[u8]) -> Vec<u8> {
    frame_with_ids(extra, 51)
  }

  /// A frame whose callback and feedback are the transmitter's ids `first` and `first + 1`.
  fn frame_with_ids(extra: &[u8], first: u32) -> Vec<u8> {
    let mut m = Vec::new();
    waltham(&mut m, 30, 6, &[19, W, H, 1]);
    m.extend_from_slice(&tile(2, 1, 2, 2, 3, &[1, 2, 3, 255]));
    m.extend_from_slice(extra);
    waltham(&mut m, 20, 19, &[first]);
    waltham(&mut m, 40, 9, &[19, first + 1]);
    waltham(&mut m, 24, 19, &[]);
    m
  }

  fn pixel(map: &Mapping, x: u32, y: u32) -> [u8; 4] {
    // SAFETY: inside the mapping.
    let p = unsafe { std::slice::from_raw_parts(map.as_ptr(), map.len()) };
    let at = ((y * W + x) * 4) as usize;
    [p[at], p[at + 1], p[at + 2], p[at + 3]]
  }

  #[test]
  fn predicts_presentations_as_the_display_does() {
    // The cases DisplayPresentation.expected is checked against too (presentation.test.ts).
    let cases = include_str!("../../../shared/display/presentation-vectors.txt");
    let mut n = 0;
    for line in cases
      .lines()
      .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
      let (given, want) = line.split_once("->").expect("a case");
      let g: Vec<i128> = given.split_whitespace().map(|v| v.parse().unwrap()).collect();
      let w: Vec<i128> = want.split_whitespace().map(|v| v.parse().unwrap()).collect();
      let (time, seq) = predict(g[0] as u32, g[1], g[2] as u32, g[3] as u64, g[4], g[5]);
      assert_eq!((time, seq as i128), (w[0], w[1]), "{line}");
      n += 1;
    }
    assert!(n >= 10, "{n} cases");
  }

  #[test]
  fn a_steady_frame_goes_to_the_compositor_and_its_done_to_the_transmitter() {
    let mut s = setup(vec![0, 1, 0, 0, 16, 8]);
    // The shown buffer's content, which the new one catches up with where tiles do not write.
    // SAFETY: inside the mapping.
    unsafe { *s.maps[0].as_ptr().add(((5 * W + 9) * 4) as usize) = 77 };
    let msgs = frame_messages(&[]);
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    let next = s
      .frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next as usize, msgs.len());
    assert_eq!(io[IO_MESSAGES], 5.0);
    assert_eq!(io[IO_PIXELS], 4.0);
    assert_eq!(io[IO_FLAGS], 0.0);
    assert_eq!(pixel(&s.maps[1], 2, 1), [1, 2, 3, 255]);
    assert_eq!(pixel(&s.maps[1], 3, 2), [1, 2, 3, 255]);
    assert_eq!(pixel(&s.maps[1], 9, 5)[0], 77);
    let mut want = Vec::new();
    wayland(&mut want, 14, 1, &[22, 0, 0]);
    wayland(&mut want, 14, 9, &[2, 1, 2, 2]);
    wayland(&mut want, 14, 3, &[20]);
    wayland(&mut want, 14, 6, &[]);
    assert_eq!(read_all(s.display), want);

    let mut events = Vec::new();
    wayland(&mut events, 20, 0, &[1234]);
    wayland(&mut events, 1, 1, &[20]);
    wayland(&mut events, 22, 0, &[]);
    wayland(&mut events, 99, 0, &[]);
    let next = s
      .frames
      .wayland_bytes(&events, 0, events.len() as u32, &mut io)
      .unwrap();
    // The last event is for an object of JavaScript's.
    assert_eq!(next as usize, events.len() - 8);
    let mut answers = Vec::new();
    waltham(&mut answers, 41, 52, &[0, 0, 0, 0, 0]);
    waltham(&mut answers, 3, 1, &[52]);
    waltham(&mut answers, 2, 51, &[1234]);
    waltham(&mut answers, 3, 1, &[51]);
    assert_eq!(read_all(s.peer), answers);

    let st = s.frames.release(1);
    assert_eq!(st.len(), 1);
    assert_eq!(
      (st[0].current, st[0].pending, st[0].in_flight, st[0].last_id),
      (1, -1, 0, 52)
    );
    assert_eq!(st[0].busy, vec![true, false]);
    assert_eq!(st[0].free_callback_ids, vec![20, 21]);
    // Buffer 0 misses the tile now; buffer 1 is the newest.
    assert_eq!(st[0].stale, vec![1, 2, 1, 2, 2, 0]);
    assert_eq!((st[0].commits, st[0].tiles, st[0].presented), (1.0, 1.0, 1.0));
  }

  /// wp_presentation_feedback.presented of lent feedback `id`: at `t` (CLOCK_MONOTONIC ns).
  fn presented(out: &mut Vec<u8>, id: u32, t: i128, refresh: u32, seq: u32, flags: u32) {
    let sec = (t / 1_000_000_000) as u64;
    let nsec = (t % 1_000_000_000) as u32;
    wayland(
      out,
      id,
      1,
      &[(sec >> 32) as u32, sec as u32, nsec, refresh, 0, seq, flags],
    );
  }

  /// One frame of the checked surface through: its messages, then `events` of the compositor.
  /// Returns what the compositor was sent, and where each read stopped.
  fn checked_frame(s: &mut Setup, first: u32, events: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    let msgs = frame_with_ids(&[], first);
    let taken = s
      .frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap() as usize;
    let sent = read_all(s.display);
    let handled = s
      .frames
      .wayland_bytes(events, 0, events.len() as u32, &mut io)
      .unwrap() as usize;
    (sent, taken, handled)
  }

  /// The compositor's answer to a frame: done of wl_callback `cb`, its delete_id, the other
  /// buffer released.
  fn done(out: &mut Vec<u8>, cb: u32, other: u32) {
    wayland(out, cb, 0, &[1234]);
    wayland(out, 1, 1, &[cb]);
    wayland(out, other, 0, &[]);
  }

  #[test]
  fn a_real_presentation_now_and_then_checks_the_predictions_and_renews_the_hold() {
    let (r, last) = (16_666_667u32, 5_000_000_000i128);
    let mut s = setup_checked(1, last, r, 0, 60_000);
    // The first commit asks for its presentation with a lent feedback id, before the commit.
    let t = last + 5 * r as i128 + 100;
    let mut events = Vec::new();
    done(&mut events, 20, 18);
    wayland(&mut events, 30, 0, &[7]); // sync_output
    presented(&mut events, 30, t, r, 105, 1);
    wayland(&mut events, 1, 1, &[30]);
    let before = Instant::now();
    let (sent, taken, handled) = checked_frame(&mut s, 51, &events);
    let mut want = Vec::new();
    wayland(&mut want, 14, 1, &[22, 0, 0]);
    wayland(&mut want, 14, 9, &[2, 1, 2, 2]);
    wayland(&mut want, 14, 3, &[20]);
    wayland(&mut want, 5, 1, &[14, 30]);
    wayland(&mut want, 14, 6, &[]);
    assert_eq!(sent, want);
    assert_eq!(taken, frame_with_ids(&[], 51).len());
    assert_eq!(handled, events.len());
    let surface = &s.frames.surfaces[0];
    assert_eq!((surface.last_time_ns, surface.seq, surface.checks), (t, 105, 1.0));
    assert!(
      surface.deadline >= before + Duration::from_millis(60_000),
      "the hold starts again"
    );
    assert!(surface.asked.is_empty());

    // The next commit (with the wl_callback id freed again), within check_ms, asks for none; the
    // feedback id is free again.
    let mut events = Vec::new();
    done(&mut events, 20, 22);
    let (sent, taken, handled) = checked_frame(&mut s, 53, &events);
    assert_eq!((taken, handled), (frame_with_ids(&[], 53).len(), events.len()));
    let mut want = Vec::new();
    wayland(&mut want, 14, 1, &[18, 0, 0]);
    wayland(&mut want, 14, 9, &[2, 1, 2, 2]);
    wayland(&mut want, 14, 3, &[20]);
    wayland(&mut want, 14, 6, &[]);
    assert_eq!(sent, want);
    let st = s.frames.release(1);
    assert_eq!(
      (st[0].free_feedback_ids.clone(), st[0].checks),
      (vec![30, 31], 1.0)
    );
  }

  /// The wthp_presentation_feedback.presented events in `bytes` (the peer's): (feedback id,
  /// age us, refresh, seq, flags) each.
  fn feedbacks_presented(bytes: &[u8]) -> Vec<(u32, i32, u32, u64, u32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
      let size = rd16(bytes, at + 2);
      if rd16(bytes, at + 4) == 41 && size == 32 {
        let arg = |k: usize| rd32(bytes, at + 12 + 4 * k);
        out.push((
          rd32(bytes, at + 8),
          arg(0) as i32,
          arg(1),
          ((arg(2) as u64) << 32) | arg(3) as u64,
          arg(4),
        ));
      }
      at += size.max(12);
    }
    out
  }

  #[test]
  fn in_real_presentation_mode_every_commit_asks_one_and_each_moves_the_predictions_on() {
    let (r, last) = (16_666_667u32, monotonic_ns() - 1_000_000_000);
    let mut s = setup_following(last, vec![30, 31, 32]);
    // Frame 1 asks with 30; its callback comes, answered from the last presentation.
    let mut events = Vec::new();
    done(&mut events, 20, 18);
    let (sent, taken, handled) = checked_frame(&mut s, 51, &events);
    assert_eq!((taken, handled), (frame_with_ids(&[], 51).len(), events.len()));
    assert_eq!(asked_ids(&sent), vec![30]);
    let answers = feedbacks_presented(&read_all(s.peer));
    assert_eq!(answers.len(), 1);
    assert_eq!((answers[0].0, answers[0].2), (52, r));
    assert!(
      answers[0].3 > 100,
      "moved on by whole refreshes from the last one"
    );
    // Frame 2 asks with 31 while 30 is still out (once a check was in flight, modes 1 and 2 ask
    // no other); then frame 1's presentation comes, off any phase, without vsync, 10 ms ahead:
    // the predictions move on to it, the hold starts again, and frame 2 is answered from it.
    let t1 = monotonic_ns() + 10_000_000;
    let mut events = Vec::new();
    wayland(&mut events, 30, 0, &[7]);
    presented(&mut events, 30, t1, r, 200, 6);
    wayland(&mut events, 1, 1, &[30]);
    done(&mut events, 20, 22);
    let before = Instant::now();
    let (sent, taken, handled) = checked_frame(&mut s, 53, &events);
    assert_eq!((taken, handled), (frame_with_ids(&[], 53).len(), events.len()));
    assert_eq!(asked_ids(&sent), vec![31]);
    let surface = &s.frames.surfaces[0];
    assert_eq!((surface.last_time_ns, surface.seq, surface.flags), (t1, 200, 6));
    assert!(surface.deadline >= before + Duration::from_millis(60_000));
    assert_eq!((surface.misses, surface.expired), (0, false));
    let answers = feedbacks_presented(&read_all(s.peer));
    assert_eq!(answers.len(), 1);
    let (id, age, refresh, seq, flags) = answers[0];
    assert_eq!((id, refresh, seq, flags), (54, r, 200, 6));
    assert!((-10_000..0).contains(&age), "still to come: {age}");
    // Frame 3 asks with 30, freed by its delete_id (31 is out); 31 discarded changes nothing.
    let mut events = Vec::new();
    wayland(&mut events, 31, 2, &[]);
    wayland(&mut events, 1, 1, &[31]);
    done(&mut events, 20, 18);
    let (sent, _, handled) = checked_frame(&mut s, 55, &events);
    assert_eq!(handled, events.len());
    assert_eq!(asked_ids(&sent), vec![30]);
    assert_eq!(s.frames.surfaces[0].seq, 200);
    // The next two commits ask with 31 (freed by its delete_id) and 32; with all three out, the
    // next asks none and still goes.
    for (k, (first, other, want)) in [(57, 22, vec![31]), (59, 18, vec![32]), (61, 22, vec![])]
      .into_iter()
      .enumerate()
    {
      let mut events = Vec::new();
      done(&mut events, 20, other);
      let (sent, taken, _) = checked_frame(&mut s, first, &[]);
      assert_eq!(taken, frame_with_ids(&[], first).len(), "frame {k}");
      assert_eq!(asked_ids(&sent), want, "frame {k}");
      let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
      s.frames
        .wayland_bytes(&events, 0, events.len() as u32, &mut io)
        .unwrap();
    }
    // Given back: the ids out are not free ones.
    let st = s.frames.release(1);
    assert!(st[0].free_feedback_ids.is_empty());
  }

  #[test]
  fn in_real_presentation_mode_a_frame_without_feedback_asks_as_the_steady_modes_do() {
    let mut s = setup_following(monotonic_ns() - 1_000_000_000, vec![30, 31]);
    let asked = |sent: &[u8], id: u32| asked_ids(sent).contains(&id);
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    // A frame with the transmitter's feedback asks with 30.
    let (sent, _, _) = checked_frame(&mut s, 51, &[]);
    assert!(asked(&sent, 30));
    let mut events = Vec::new();
    done(&mut events, 20, 18);
    s.frames
      .wayland_bytes(&events, 0, events.len() as u32, &mut io)
      .unwrap();
    // One without, while 30 is out: none (once a check_every, one out at most).
    let mut plain = Vec::new();
    waltham(&mut plain, 30, 6, &[19, W, H, 1]);
    plain.extend_from_slice(&tile(2, 1, 2, 2, 3, &[1, 2, 3, 255]));
    waltham(&mut plain, 20, 19, &[53]);
    waltham(&mut plain, 24, 19, &[]);
    let taken = s
      .frames
      .waltham_bytes(1, &plain, 0, plain.len() as u32, &mut io)
      .unwrap();
    assert_eq!(taken as usize, plain.len());
    assert!(!asked(&read_all(s.display), 31), "no feedback wanted: none asked");
    let mut events = Vec::new();
    done(&mut events, 20, 22);
    s.frames
      .wayland_bytes(&events, 0, events.len() as u32, &mut io)
      .unwrap();
    // The next with feedback asks with 31 while 30 is still out.
    let (sent, taken, _) = checked_frame(&mut s, 54, &[]);
    assert_eq!(taken, frame_with_ids(&[], 54).len());
    assert!(asked(&sent, 31));
  }

  #[test]
  fn a_display_that_shows_itself_steady_while_followed_is_predicted_from_then_on() {
    let r = 16_666_667u32;
    let vsync_at = |n: i128| 5_000_000_000 + n * r as i128;
    // How frame k is presented (its callback came at `done`): (time, flags); then the mode
    // after 12 frames and after how many presentations it changed (None: it did not).
    type At = fn(i128, i128, i128) -> (i128, u32);
    let cases: [(At, u32, Option<usize>); 4] = [
      // A refresh after the callback, 40 us either way (weston headless): the lag.
      (
        |done, k, _| (done + 16_666_667 + if k % 2 == 0 { 40_000 } else { -40_000 }, 0),
        2,
        Some(9),
      ),
      // On the vertical blank's phase with vsync: the phase.
      (|_, k, v| (v + 3 * k * 16_666_667, 1), 1, Some(9)),
      // The same without vsync, and a lag that varies: neither.
      (|_, k, v| (v + 3 * k * 16_666_667, 0), 3, None),
      (|done, k, _| (done + (1 + (k * 7) % 10) * 1_000_000, 0), 3, None),
    ];
    for (i, (at, mode, changed)) in cases.into_iter().enumerate() {
      let mut s = setup_following(vsync_at(0), vec![30, 31]);
      let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
      let mut asked = 0;
      let mut seen = None;
      // As weston presents: a frame's presentation comes after the next frame's callback (the
      // lent wl_callback id is the same for both). Each (feedback id, frame, its callback's time).
      let mut out: Option<(u32, i128, i128)> = None;
      for k in 0..12 {
        let (sent, taken, _) = checked_frame(&mut s, 51 + 2 * k as u32, &[]);
        assert_eq!(
          taken,
          frame_with_ids(&[], 51 + 2 * k as u32).len(),
          "case {i}, frame {k}"
        );
        let id = asked_ids(&sent).first().copied();
        let mut events = Vec::new();
        done(&mut events, 20, [18, 22][k % 2]);
        s.frames
          .wayland_bytes(&events, 0, events.len() as u32, &mut io)
          .unwrap();
        let asked_now = id.map(|id| {
          let c = s.frames.surfaces[0]
            .asked
            .iter()
            .find(|c| c.id == id)
            .expect("asked");
          (id, k as i128, c.done_ns.expect("its callback came"))
        });
        if let Some((id, j, d)) = out.take() {
          let (t, flags) = at(d, j, vsync_at(1));
          let mut events = Vec::new();
          presented(&mut events, id, t, r, 0, flags);
          wayland(&mut events, 1, 1, &[id]);
          let handled = s
            .frames
            .wayland_bytes(&events, 0, events.len() as u32, &mut io)
            .unwrap();
          assert_eq!(handled as usize, events.len(), "case {i}, frame {k}");
          if seen.is_none() && s.frames.surfaces[0].presentation != 3 {
            seen = Some(asked);
          }
        }
        if asked_now.is_some() {
          asked += 1;
        }
        out = asked_now;
      }
      let surface = &s.frames.surfaces[0];
      assert_eq!((surface.presentation, seen), (mode, changed), "case {i}");
      assert!(!surface.expired, "case {i}");
      // Once steady, no other is asked for within check_every (the one asked with the
      // presentation that made it steady is still out).
      assert_eq!(
        asked,
        changed.map_or(12, |n| n + 1),
        "case {i}: real presentations asked"
      );
    }
  }

  #[test]
  fn presentations_off_the_phase_twice_in_a_row_give_the_surface_back() {
    let (r, last) = (16_666_667u32, 5_000_000_000i128);
    let on = |k: i128| Some((last + k * r as i128 + 200, r, 1));
    // What a check finds: presented (at, refresh, flags), or None: discarded.
    type Found = Option<(i128, u32, u32)>;
    let offs: [Found; 3] = [
      Some((last + 3 * r as i128 + r as i128 / 2, r, 1)),
      Some((last + 3 * r as i128, r, 0)),
      Some((last + 3 * r as i128, r + 100_000, 1)),
    ];
    // (what the checks of the first frames find, whether the next frame is taken).
    let mut cases: Vec<(Vec<Found>, bool)> = Vec::new();
    for off in offs {
      cases.push((vec![off, off], false));
      cases.push((vec![off, on(6)], true));
      cases.push((vec![on(3), off], true));
      cases.push((vec![off, None], true));
      // A confirmation in between: not in a row.
      cases.push((vec![off, on(6), off], true));
    }
    cases.push((vec![None, None], true));
    for (i, (found, taken)) in cases.into_iter().enumerate() {
      let found_len = found.len();
      let mut s = setup_checked(1, last, r, 0, 0);
      // check_ms 0: each frame asks, with the id the delete_id before freed; the compositor
      // answers each, frees the wl_callback and releases the other buffer.
      for (k, f) in found.into_iter().enumerate() {
        let mut events = Vec::new();
        done(&mut events, 20, [18, 22][k % 2]);
        match f {
          Some((t, refresh, flags)) => presented(&mut events, 30, t, refresh, 104, flags),
          None => wayland(&mut events, 30, 2, &[]),
        }
        wayland(&mut events, 1, 1, &[30]);
        let (sent, next, handled) = checked_frame(&mut s, 51 + 2 * k as u32, &events);
        assert_eq!(
          (next, handled),
          (frame_with_ids(&[], 51 + 2 * k as u32).len(), events.len()),
          "case {i}, frame {k}"
        );
        let mut ask = Vec::new();
        wayland(&mut ask, 5, 1, &[14, 30]);
        assert!(
          sent.windows(ask.len()).any(|w| w == ask),
          "case {i}, frame {k}: asked"
        );
      }
      let first = 51 + 2 * found_len as u32;
      let (sent, next, _) = checked_frame(&mut s, first, &[]);
      if taken {
        assert_eq!(next, frame_with_ids(&[], first).len(), "case {i}");
      } else {
        assert_eq!((next, sent.len()), (0, 0), "case {i}: given back");
      }
    }
  }

  #[test]
  fn presentation_times_are_placed_on_the_monotonic_clock_as_javascript_places_them() {
    let now = monotonic_ns();
    assert_eq!(to_monotonic(libc::CLOCK_MONOTONIC as u32, 123_456), 123_456);
    let real = std::time::SystemTime::now()
      .duration_since(std::time::UNIX_EPOCH)
      .unwrap()
      .as_nanos() as i128;
    // 5 ms ago on the realtime clock is 5 ms ago on the monotonic one.
    let t = to_monotonic(libc::CLOCK_REALTIME as u32, real - 5_000_000);
    assert!((t - (now - 5_000_000)).abs() < 2_000_000, "{t} vs {now}");
    // Any other clock (weston's CLOCK_MONOTONIC_RAW): when the event is read.
    let t = to_monotonic(libc::CLOCK_MONOTONIC_RAW as u32, 1);
    assert!(t >= now && t - now < 2_000_000);
  }

  #[test]
  fn on_a_display_predicted_by_its_lag_the_presentation_is_checked_against_the_frame_callback() {
    let (r, lag) = (16_666_667u32, 3_000_000i128);
    // (ns off the lag, whether the presentation comes before the frame callback), then whether
    // it counts as a miss (off the lag) and whether the hold is renewed.
    for (i, (off, early, missed, renewed)) in [
      (0i128, false, false, true),
      (5_000_000, false, true, false),
      (0, true, false, false),
    ]
    .into_iter()
    .enumerate()
    {
      let mut s = setup_checked(2, monotonic_ns() - 50_000_000, r, lag, 60_000);
      let adopted = s.frames.surfaces[0].deadline;
      let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
      let msgs = frame_with_ids(&[], 51);
      s.frames
        .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
        .unwrap();
      let mut cb = Vec::new();
      done(&mut cb, 20, 18);
      let mut fb = Vec::new();
      if early {
        presented(&mut fb, 30, monotonic_ns() + lag, r, 0, 0);
        s.frames.wayland_bytes(&fb, 0, fb.len() as u32, &mut io).unwrap();
        s.frames.wayland_bytes(&cb, 0, cb.len() as u32, &mut io).unwrap();
      } else {
        s.frames.wayland_bytes(&cb, 0, cb.len() as u32, &mut io).unwrap();
        // Measured from when the callback was read, not from now: a test thread delayed
        // between the two must not move the presentation off the lag.
        let check = s.frames.surfaces[0].asked.first().expect("a check in flight");
        let done = check.done_ns.expect("the frame callback came");
        presented(&mut fb, 30, done + lag + off, r, 0, 0);
        let handled = s.frames.wayland_bytes(&fb, 0, fb.len() as u32, &mut io).unwrap();
        assert_eq!(handled as usize, fb.len(), "case {i}");
      }
      let surface = &s.frames.surfaces[0];
      assert_eq!(
        (surface.misses, surface.expired),
        (missed as u32, false),
        "case {i}"
      );
      assert_eq!(surface.deadline > adopted, renewed, "case {i}");
      assert_eq!(surface.checks, if renewed { 1.0 } else { 0.0 }, "case {i}");
      if renewed {
        assert!(
          (surface.lag_ns - lag).abs() < 1_000_000,
          "case {i}: the lag moves on to the measured one"
        );
      }
    }
  }

  #[test]
  fn a_surface_held_past_its_hold_goes_back_at_its_next_frame() {
    // Two frames in a row; the compositor answers the first (done, its delete_id, the other
    // buffer released). Held 60 s, the second is taken too; held 0 ms, it goes back to
    // JavaScript, which asks the compositor for a real presentation.
    for (hold_ms, taken) in [(60_000, true), (0, false)] {
      let mut s = setup_held(vec![0, 0], hold_ms);
      let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
      let first = frame_with_ids(&[], 51);
      let next = s
        .frames
        .waltham_bytes(1, &first, 0, first.len() as u32, &mut io)
        .unwrap();
      assert_eq!(next as usize, first.len());
      let mut events = Vec::new();
      wayland(&mut events, 20, 0, &[1234]);
      wayland(&mut events, 1, 1, &[20]);
      wayland(&mut events, 18, 0, &[]);
      let next = s
        .frames
        .wayland_bytes(&events, 0, events.len() as u32, &mut io)
        .unwrap();
      assert_eq!(next as usize, events.len());
      let second = frame_with_ids(&[], 53);
      let next = s
        .frames
        .waltham_bytes(1, &second, 0, second.len() as u32, &mut io)
        .unwrap();
      if taken {
        assert_eq!(
          (next as usize, io[IO_FLAGS] as u32),
          (second.len(), 0),
          "held {hold_ms} ms"
        );
      } else {
        assert_eq!(
          (next, io[IO_FLAGS] as u32),
          (0, FLAG_RELEASE),
          "held {hold_ms} ms"
        );
      }
    }
  }

  #[test]
  fn the_transmitters_ping_is_answered_with_the_next_serial_and_an_id_out_of_step_goes_back() {
    let mut s = setup(vec![0, 0]);
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    // wth_display.sync with callback id `id`; where the native side stopped.
    let ping = |s: &mut Setup, id: u32, io: &mut [f64]| {
      let mut m = Vec::new();
      waltham(&mut m, 2, 1, &[id]);
      (
        s.frames.waltham_bytes(1, &m, 0, m.len() as u32, io).unwrap(),
        m.len(),
      )
    };
    let before = epoch_ms();
    let (next, len) = ping(&mut s, 51, &mut io);
    assert_eq!(next as usize, len);
    // Answered and noted here: nothing for JavaScript to do.
    assert_eq!(io[IO_FLAGS] as u32, 0);
    assert_eq!(s.cells[0], 1.0);
    assert!(
      s.cells[1] >= before && s.cells[1] <= epoch_ms(),
      "the ping's time: {}",
      s.cells[1]
    );
    let mut answers = Vec::new();
    waltham(&mut answers, 2, 51, &[1]);
    waltham(&mut answers, 3, 1, &[51]);
    assert_eq!(read_all(s.peer), answers);
    // Another id than the next one: JavaScript's, with the surface back.
    let (next, _) = ping(&mut s, 53, &mut io);
    assert_eq!((next, io[IO_FLAGS] as u32), (0, FLAG_RELEASE));
    assert_eq!(s.frames.release(1)[0].last_id, 51);
  }

  #[test]
  fn what_is_not_steady_stops_before_it_and_asks_for_the_surface_back() {
    let mut s = setup(vec![0, 0]);
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    // A tile outside the buffer: nothing written, nothing consumed past begin.
    let mut msgs = Vec::new();
    waltham(&mut msgs, 30, 6, &[19, W, H, 1]);
    let begin = msgs.len();
    msgs.extend_from_slice(&tile(15, 0, 2, 1, 0, &[9; 8]));
    let next = s
      .frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next as usize, begin);
    assert_eq!(io[IO_FLAGS], FLAG_RELEASE as f64);
    let st = s.frames.release(1);
    assert_eq!(st[0].pending, 1);
    assert!(s.frames.release(1).is_empty());

    for bad in [
      // another size
      {
        let mut m = Vec::new();
        waltham(&mut m, 30, 6, &[19, W + 1, H, 1]);
        m
      },
      // a codec not announced (zstd)
      {
        let mut m = Vec::new();
        waltham(&mut m, 30, 6, &[19, W, H, 1]);
        m.extend_from_slice(&tile(0, 0, 1, 1, 2, &[0; 4]));
        m
      },
      // a frame callback that skips an id
      {
        let mut m = Vec::new();
        waltham(&mut m, 20, 19, &[53]);
        m
      },
      // a message of another kind
      {
        let mut m = Vec::new();
        waltham(&mut m, 25, 19, &[]);
        m
      },
    ] {
      let mut s = setup(vec![0, 0]);
      let end = bad.len() as u32;
      let next = s.frames.waltham_bytes(1, &bad, 0, end, &mut io).unwrap();
      assert!(next < end, "{bad:?} was taken");
      assert_eq!(io[IO_FLAGS], FLAG_RELEASE as f64);
    }
  }

  #[test]
  fn another_surface_of_the_transmitter_is_left_to_javascript_and_the_adopted_one_stays() {
    let mut s = setup(vec![0, 0]);
    let mut io = [1e9, 0.0, 0.0, 0.0, 0.0, 0.0];
    // Surface 23 is not handed over: each message of its frame (on the transmitter's content 6
    // and presentation 9, which surface 19 uses too) stops the read before it, and surface 19 is
    // not asked back. JavaScript checks that each is what its opcode says (receiver/steady.ts).
    let mut other_tile = tile(0, 0, 1, 1, 3, &[1, 2, 3, 255]);
    other_tile[12..16].copy_from_slice(&23u32.to_le_bytes());
    let msg = |opcode: u32, target: u32, args: &[u32]| {
      let mut m = Vec::new();
      waltham(&mut m, opcode, target, args);
      m
    };
    for (what, m) in [
      ("begin", msg(30, 6, &[23, W, H, 1])),
      ("tile", other_tile),
      ("frame", msg(20, 23, &[51])),
      ("feedback", msg(40, 9, &[23, 52])),
      ("commit", msg(24, 23, &[])),
    ] {
      let next = s.frames.waltham_bytes(1, &m, 0, m.len() as u32, &mut io).unwrap();
      assert_eq!((next, io[IO_FLAGS]), (0, 0.0), "{what}");
    }
    // JavaScript handles that frame: its callback and feedback take the ids 51 and 52, and its
    // connection's counter moves on ...
    s.ids[0] = 53.0;
    // ... so surface 19's next frame, with 53 and 54, is taken here, and the counter says so.
    let msgs = frame_with_ids(&[], 53);
    let next = s
      .frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    assert_eq!((next as usize, io[IO_FLAGS]), (msgs.len(), 0.0));
    assert_eq!(s.ids[0], 55.0);
    // An id out of that sequence on the adopted surface still asks for it back.
    let skip = msg(20, 19, &[56]);
    let next = s
      .frames
      .waltham_bytes(1, &skip, 0, skip.len() as u32, &mut io)
      .unwrap();
    assert_eq!((next, io[IO_FLAGS]), (0, FLAG_RELEASE as f64));
    assert_eq!(s.frames.release(1)[0].last_id, 54);
  }

  #[test]
  fn the_budget_and_a_frame_in_flight_stop_it_too() {
    let mut s = setup(vec![0, 0]);
    let msgs = frame_messages(&[]);
    let mut io = [3.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let next = s
      .frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next, 28, "the 2x2 tile is past a budget of 3 pixels");
    let mut s = setup(vec![0, 0]);
    io[IO_BUDGET] = 1e9;
    s.frames
      .waltham_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    read_all(s.display);
    // The next commit while the first is in flight goes back to JavaScript, which merges.
    let mut second = Vec::new();
    waltham(&mut second, 20, 19, &[53]);
    waltham(&mut second, 24, 19, &[]);
    let next = s
      .frames
      .waltham_bytes(1, &second, 0, second.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next, 16);
    assert_eq!(io[IO_FLAGS], FLAG_RELEASE as f64);
    let st = s.frames.release(1);
    assert_eq!(
      (
        st[0].in_flight,
        st[0].flight_callbacks.clone(),
        st[0].pending_callbacks.clone()
      ),
      (20, vec![51], vec![53])
    );
    assert_eq!(st[0].flight_feedbacks, vec![52]);
  }

  #[test]
  fn hostile_bytes_never_panic_and_stop_at_a_message_boundary() {
    use crate::codec::content::Rng;
    use crate::fuzz::Budget;
    let budget = Budget::from_env(1000, 0x57ead);
    let mut rng = Rng(budget.seed);
    let mut inputs = 0u64;
    let mut s = setup(vec![0, 0]);
    while budget.more(inputs) {
      inputs += 1;
      if s.frames.surfaces.is_empty() || inputs.is_multiple_of(64) {
        // Every other surface checks its predictions on each commit (phase or lag).
        s = if inputs.is_multiple_of(128) {
          setup(vec![0, 1, 0, 0, W as i32, H as i32])
        } else {
          setup_checked(1 + rng.next() % 2, 5_000_000_000, 16_666_667, 3_000_000, 0)
        };
      }
      // A valid frame, then (mostly) bytes of it changed, cut or moved; sizes in the headers too.
      let mut msgs = frame_messages(&tile(5, 5, 3, 2, 7, &[1, 0, 0, 0, 2, 0, 0, 0]));
      for _ in 0..rng.next() % 7 {
        let at = rng.next() as usize % msgs.len();
        match rng.next() % 4 {
          0 => msgs[at] = rng.next() as u8,
          1 => msgs.truncate(at),
          2 => {
            let by = rng.next() as usize % (msgs.len() - at).max(1);
            msgs[at..].rotate_left(by)
          }
          _ => {
            let word = (rng.next() % 3) as usize * 4;
            if at + word + 4 <= msgs.len() {
              msgs[at + word..at + word + 4].copy_from_slice(&rng.next().to_le_bytes());
            }
          }
        }
        if msgs.is_empty() {
          break;
        }
      }
      let mut io = [(rng.next() % 200) as f64, 0.0, 0.0, 0.0, 0.0, 0.0];
      let end = msgs.len() as u32;
      let next = s.frames.waltham_bytes(1, &msgs, 0, end, &mut io).unwrap();
      // What it took is whole messages, as their headers say.
      let mut at = 0usize;
      while at < next as usize {
        let size = rd16(&msgs, at + 2);
        assert!(size >= 12, "seed {}: took a message of {size} bytes", budget.seed);
        at += size;
      }
      assert_eq!(
        at, next as usize,
        "seed {}: stopped inside a message",
        budget.seed
      );
      // The compositor's answers (done, delete_id, release) and the lent feedback ids' events
      // (sync_output, presented, discarded: of any length, and their delete_id), in any order.
      let mut parts = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
      wayland(&mut parts[0], 20 + rng.next() % 3, rng.next() % 2, &[rng.next()]);
      wayland(&mut parts[1], 1, 1, &[20 + rng.next() % 3]);
      wayland(&mut parts[2], 18 + rng.next() % 5, 0, &[]);
      let words: Vec<u32> = (0..rng.next() % 9).map(|_| rng.next()).collect();
      wayland(&mut parts[3], 30 + rng.next() % 2, rng.next() % 4, &words);
      wayland(&mut parts[4], 1, 1, &[30 + rng.next() % 2]);
      parts.rotate_left(rng.next() as usize % 5);
      let events = parts.concat();
      let cut = rng.next() as usize % (events.len() + 1);
      s.frames
        .wayland_bytes(&events[..cut], 0, cut as u32, &mut io)
        .unwrap();
      read_all(s.display);
      read_all(s.peer);
      if io[IO_FLAGS] as u32 & FLAG_RELEASE != 0 {
        s.frames.release(1);
      }
    }
    budget.report("steady frames", inputs);
  }

  #[test]
  fn subtract_leaves_the_rest() {
    let a = Rect {
      x: 0,
      y: 0,
      w: 10,
      h: 10,
    };
    let b = Rect {
      x: 2,
      y: 3,
      w: 4,
      h: 4,
    };
    let mut out = Vec::new();
    subtract(a, b, &mut out);
    let area: usize = out.iter().map(|r| r.w * r.h).sum();
    assert_eq!(area, 100 - 16);
    assert!(out.iter().all(|r| intersect(*r, b).is_none()));
    out.clear();
    subtract(
      a,
      Rect {
        x: 20,
        y: 20,
        w: 1,
        h: 1,
      },
      &mut out,
    );
    assert_eq!(out, vec![a]);
  }

  #[test]
  fn stale_lists_collapse_to_their_bounds() {
    let mut list = Vec::new();
    for i in 0..=MAX_STALE {
      add_rect(
        &mut list,
        Rect {
          x: i * 2,
          y: 0,
          w: 1,
          h: 1,
        },
        MAX_STALE,
      );
    }
    assert_eq!(
      list,
      vec![Rect {
        x: 0,
        y: 0,
        w: MAX_STALE * 2 + 1,
        h: 1
      }]
    );
    // A rectangle inside one already there adds nothing.
    add_rect(
      &mut list,
      Rect {
        x: 3,
        y: 0,
        w: 1,
        h: 1,
      },
      MAX_STALE,
    );
    assert_eq!(list.len(), 1);
  }

  #[test]
  fn messages_have_their_layouts() {
    let mut out = Vec::new();
    waltham(&mut out, 24, 9, &[]);
    assert_eq!(out, [0, 0, 12, 0, 24, 0, 0, 0, 9, 0, 0, 0]);
    out.clear();
    wayland(&mut out, 14, 3, &[20]);
    assert_eq!(out, [14, 0, 0, 0, 3, 0, 12, 0, 20, 0, 0, 0]);
  }
}
