//! The transmitter's steady commits, without JavaScript.
//!
//! Once an application's window is mirrored steadily (a toplevel alone, the same size, shared
//! memory buffers the transmitter has seen, one frame at a time), each of its frames is the same
//! few requests: `wl_surface.attach`, `damage` or `damage_buffer`, `frame`, maybe
//! `wp_presentation.feedback`, `commit`; and the receiver answers with `wthp_callback.done`,
//! maybe `wthp_presentation_feedback.presented`, and `wth_display.delete_id`. JavaScript hands
//! such a window over (`adopt`, `addBuffer`) and gives each batch of bytes it reads from the
//! application (`takeApp`) or the receiver (`takeLink`) to this first:
//!
//! - From the application, whole commits (attach .. commit) of adopted surfaces are taken: a
//!   commit of one damage rectangle is encoded straight from the application's buffer (nothing
//!   outside the rectangle read; the content's cells it touched are brought up to date from the
//!   mirror later, `settle`: before anything else reads them), one of several is copied into
//!   the scene's content where it differs first (as the virtual display does,
//!   `copy_changed_into` on its grid); either is encoded against the link's mirror by the
//!   same one-pass encoder (`SharedEncoder`), and sent as `wthp_content.begin`, tiles,
//!   `wthp_surface.frame`, maybe `wthp_presentation.feedback` and `wthp_surface.commit`. A
//!   commit's requests of another of the application's windows, one not handed over, are left
//!   to JavaScript and the adopted ones stay (`COMMIT_OTHER`: JavaScript checks the target's
//!   interface; the ids they create are no longer taken as free here). A commit of an adopted
//!   window that is not steady (a second one while one is in flight, a link with output queued
//!   or without room for it, a surface held longer than `holdMs`) sends that window back alone
//!   (`COMMIT_BACK`), as does a frame the link's socket did not take whole (JavaScript queues
//!   the rest, and keeps large frames). At the first message of that application that is
//!   anything else (another request, another buffer, an id not freed), its surfaces go back
//!   (`COMMIT_RELEASE`) before that message's commit starts: JavaScript takes their state (the
//!   frame in flight and what answers it) and handles the message itself. The ids a commit may
//!   create are those the transmitter freed of any of the application's adopted windows (it
//!   reuses them across its windows).
//! - From the receiver, the answers of frames in flight are taken: the buffer is released, the
//!   presentation feedbacks are answered with how the receiver showed the frame and the frame
//!   callbacks with the time, each followed by `wl_display.delete_id`. Other messages are left
//!   to JavaScript (input, configures, the ping's answer), which takes a surface back before it
//!   changes anything of it.
//!
//! Writes go straight to the sockets when JavaScript has nothing queued for them (it says so in
//! `io`), else, and for what a full socket did not take, they are kept for JavaScript to queue
//! (`takeStaged`). Layouts as in steady.rs; every opcode comes from the caller's generated tables.
//!
//! While windows are handed over, both sockets are read here too (`hookApp`, `hookLink`,
//! reads.rs): the poller calls this side when the application's or the receiver's socket is
//! readable, the read is taken as `takeApp` / `takeLink` take it, and JavaScript hears only of
//! what is left (bytes kept for its next read, and flags as a notice, `takeNotice` /
//! `takeLinkNotice`). Without JavaScript's `io`, whether it queued output on the other socket
//! comes from its connections' shared cells (`dirty`): set, the read is left to JavaScript,
//! which writes what it queued first. Object ids of the link come from its connection's shared
//! counters (`ids`), so both sides hand them out in one sequence.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;

use napi::bindgen_prelude::{Buffer, Float64Array, Float64ArraySlice, Uint8Array, Uint8ArraySlice};
use napi_derive::napi;

use crate::error::{invalid, Result};
use crate::frame::{FrameEncoder, SharedEncoder};
use crate::pixels::Rect;
use crate::poller::READABLE;
use crate::reads::{self, Read, Report, NOTICE};
use crate::refine::copy_changed_into;
use crate::shm::{Mapping, ShmMapping};
use crate::socket::{send_parts_raw, send_room};
use crate::steady::{bounding, flush, input, monotonic_ns, rd16, rd32, take_bytes, waltham, wayland};

/// `io` slots: the link's / the application's connection has output queued in JavaScript (in);
/// flags, messages handled, bytes written to the link (out).
const IO_LINK_QUEUED: usize = 0;
const IO_APP_QUEUED: usize = 1;
const IO_FLAGS: usize = 2;
const IO_MESSAGES: usize = 3;
const IO_LINK_BYTES: usize = 4;
pub const COMMIT_IO_LEN: usize = 5;

/// Flags: the application's surfaces (`takeApp`) must go back before JavaScript handles the
/// next message.
pub const COMMIT_RELEASE: u32 = 1;
/// Bytes for an application are staged (`takeStaged(app, 0)`).
pub const COMMIT_APP_STAGED: u32 = 2;
/// Bytes for the link are staged (`takeStaged(0, link)`).
pub const COMMIT_LINK_STAGED: u32 = 4;
/// Stopped before a commit's request of a surface not handed over (`Scan::Other`): JavaScript
/// checks that it is one (its target a wl_surface or wp_presentation) before it handles it, else
/// takes the application's surfaces back first.
pub const COMMIT_OTHER: u32 = 8;
/// A window goes back alone (`releaseBack`) before JavaScript handles the next message: its
/// commit was not steady (a frame in flight, the link's socket without room for it, ...) or its
/// frame was not taken whole; the application's other windows stay.
pub const COMMIT_BACK: u32 = 16;

/// The virtual display's cut of damage to what changed: grid and most rectangles (compositor.ts).
const CHANGED_GRID: usize = 64;
const MAX_CHANGED_RECTS: usize = 48;
/// Damage rectangles of a commit kept; more become their bounding box (compositor.ts).
const MAX_DAMAGE_RECTS: usize = 256;
/// Bytes of a frame's messages besides its pixels, at most about (headers of tiles and requests).
const SEND_MARGIN: usize = 64 * 1024;
/// Ids waiting for their `wth_display.delete_id` kept at most (a receiver may never send it).
const MAX_DELETING: usize = 64;
/// Damage the link encodes as rectangles; more: the whole surface (remote.ts, MAX_DAMAGE_RECTS).
const MAX_LINK_DAMAGE: usize = 64;

/// Wire numbers, from the generated protocol tables.
#[napi(object)]
#[derive(Clone, Copy)]
pub struct CommitWire {
  /// Wayland requests of the application (opcodes of their interfaces) ...
  pub wl_attach: u32,
  pub wl_damage: u32,
  pub wl_damage_buffer: u32,
  pub wl_frame: u32,
  pub wl_commit: u32,
  pub wp_feedback: u32,
  /// ... and events to it.
  pub wl_buffer_release: u32,
  pub wl_callback_done: u32,
  pub wl_delete_id: u32,
  pub wp_presented: u32,
  /// Waltham requests to the receiver (global opcodes) ...
  pub begin: u32,
  pub frame: u32,
  pub feedback: u32,
  pub commit: u32,
  /// ... and its events.
  pub callback_done: u32,
  pub feedback_presented: u32,
  pub feedback_discarded: u32,
  pub delete_id: u32,
}

/// A window handed over by JavaScript.
#[napi(object)]
pub struct CommitSurface {
  /// JavaScript's key for the surface.
  pub key: u32,
  /// The application: a key, its socket, its wl_surface and wp_presentation objects, and ids it
  /// may use for new objects (ids the transmitter freed; any other new id goes back).
  pub app: u32,
  pub app_fd: i32,
  /// Whether JavaScript queued output to the application since it last looked (its Wayland
  /// connection's `nativeState`): a read of the link done natively leaves the answers to
  /// JavaScript then.
  pub app_dirty: Uint8Array,
  pub wl_surface: u32,
  pub presentations: Vec<u32>,
  pub free_ids: Vec<u32>,
  /// The link: a key, its socket, and two cells of its Waltham connection, shared with
  /// JavaScript: the next ids of each side (`ids[0]`: the objects this side creates; JavaScript
  /// and this side hand them out in one sequence), and whether JavaScript queued output since
  /// it last looked (`dirty[0]`: a read done natively leaves the application to JavaScript then).
  pub link: u32,
  pub link_fd: i32,
  pub ids: Float64Array,
  pub dirty: Uint8Array,
  /// Waltham ids: the wthp_surface, the wthp_content, the wthp_presentation (0: none).
  pub surface: u32,
  pub content: u32,
  pub presentation: u32,
  pub width: u32,
  pub height: u32,
  /// Waltham format value.
  pub format: u32,
  /// Codecs the encoder may use (bit per codec).
  pub codecs: u32,
  /// The scene's content (width * 4 bytes a row), updated in place as the display does (or from
  /// the mirror, `settle`, after commits encoded straight from the application's buffer).
  pub pixels: Uint8Array,
  /// Where frames are encoded: JavaScript's buffer of the encoder's `outputBound`, lent while
  /// the surface is adopted.
  pub out: Uint8Array,
  /// Given back at the first commit this long after the hand-over.
  pub hold_ms: u32,
}

/// What JavaScript takes back.
#[napi(object)]
pub struct CommitState {
  pub key: u32,
  /// The next id of the objects the link's side creates.
  pub next_id: u32,
  /// The frame in flight: its wthp_callback (0: none) and wthp_presentation_feedback (0: none,
  /// or answered already), the application's buffer held for it, its wl_callbacks and
  /// wp_presentation_feedbacks.
  pub in_flight: u32,
  pub flight_feedback: u32,
  pub flight_buffer: u32,
  pub flight_callbacks: Vec<u32>,
  pub flight_feedbacks: Vec<u32>,
  /// How the receiver showed it, when it said so: CLOCK_MONOTONIC ns, refresh ns, sequence
  /// high and low, flags; empty: it did not (yet).
  pub shown: Vec<f64>,
  /// Ids of the link whose `wth_display.delete_id` has not come yet.
  pub deleting: Vec<u32>,
  /// Milliseconds since the frame in flight went out (0: none).
  pub flight_ms: f64,
  /// A buffer read since the hand-over faulted (the application shrank its file).
  pub truncated: bool,
  /// Counted since the hand-over.
  pub commits: f64,
  pub presented: f64,
  pub tiles: f64,
  pub unchanged_tiles: f64,
  pub raw_bytes: f64,
  pub wire_bytes: f64,
}

struct Buf {
  wl: u32,
  map: Mapping,
  stride: usize,
}

struct Flight {
  sent: Instant,
  callback: u32,
  feedback: u32,
  feedback_answered: bool,
  buffer: u32,
  callbacks: Vec<u32>,
  feedbacks: Vec<u32>,
  shown: Option<[f64; 5]>,
}

struct Surface {
  key: u32,
  app: u32,
  link: u32,
  wl_surface: u32,
  presentations: Vec<u32>,
  free_ids: Vec<u32>,
  surface: u32,
  content: u32,
  presentation: u32,
  width: usize,
  height: usize,
  format: u32,
  codecs: u32,
  pixels: Uint8Array,
  /// Cells (`CHANGED_GRID` square) of the content that exact encodes left behind: the mirror
  /// holds their pixels (`settle`).
  behind: Vec<bool>,
  encoder: SharedEncoder,
  out: Uint8Array,
  bufs: Vec<Buf>,
  flight: Option<Flight>,
  deleting: Vec<u32>,
  deadline: Instant,
  /// Goes back alone (COMMIT_BACK).
  back: bool,
  truncated: bool,
  commits: f64,
  presented: f64,
  tiles: f64,
  unchanged_tiles: f64,
  raw_bytes: f64,
  wire_bytes: f64,
}

struct Out {
  fd: i32,
  staged: Vec<u8>,
  /// JavaScript's cell: output queued since it last looked (apps only; links have theirs).
  dirty: Option<Uint8Array>,
}

impl Out {
  /// JavaScript queued output to it since it last looked.
  fn dirty(&self) -> bool {
    self
      .dirty
      .as_ref()
      .is_some_and(|d| d.first().is_none_or(|&d| d != 0))
  }

  /// JavaScript holds the start of a message read from it.
  fn held(&self) -> bool {
    self
      .dirty
      .as_ref()
      .is_none_or(|d| d.get(1).is_none_or(|&d| d != 0))
  }
}

struct Link {
  out: Out,
  ids: Float64Array,
  dirty: Uint8Array,
  /// Messages taken by reads done natively, not yet counted by JavaScript.
  messages: f64,
}

impl Link {
  fn next_id(&self) -> u32 {
    self.ids.first().map_or(0, |&v| v as u32)
  }

  /// Hand out `n` ids from the next one on; returns the first.
  fn take_ids(&mut self, n: u32) -> u32 {
    let first = self.next_id();
    // SAFETY: JavaScript's cell, alive while held here; nothing else reaches it during a call.
    if let Some(cell) = unsafe { self.ids.as_mut() }.first_mut() {
      *cell = (first + n) as f64;
    }
    first
  }

  /// JavaScript queued output on the link since it last looked.
  fn dirty(&self) -> bool {
    self.dirty.first().is_none_or(|&d| d != 0)
  }

  /// JavaScript holds the start of a message read from the link.
  fn held(&self) -> bool {
    self.dirty.get(1).is_none_or(|&d| d != 0)
  }
}

/// One commit of the application, parsed and checked, not applied yet.
#[derive(Default)]
struct Group {
  surface: Option<usize>,
  attach: Option<usize>,
  damage: Vec<Rect>,
  callbacks: Vec<u32>,
  feedbacks: Vec<u32>,
  messages: f64,
}

enum Scan {
  /// A whole commit ends before this offset.
  Commit(usize),
  /// Nothing of an adopted surface here: JavaScript goes on.
  Stop,
  /// A commit's request of another of the application's surfaces, one not handed over:
  /// JavaScript handles it and the adopted ones stay; the id it creates (a frame callback, a
  /// presentation feedback), if any, is JavaScript's object from then on.
  Other(Option<u32>),
  /// A commit of an adopted surface cut by the end of the bytes.
  Cut,
  /// Not steady: the application's surfaces go back.
  Release,
}

/// Steady commits of the transmitter's adopted windows (see the module comment): the state,
/// shared by JavaScript's object and the hooks of the sockets read natively.
pub struct Commits {
  wire: CommitWire,
  surfaces: Vec<Surface>,
  apps: HashMap<u32, Out>,
  links: HashMap<u32, Link>,
  changed: Vec<[usize; 4]>,
  damage: Vec<i32>,
  /// Flags of reads done natively, per application and per link, for JavaScript
  /// (`takeNotice`, `takeLinkNotice`).
  notices: HashMap<u32, u32>,
  link_notices: HashMap<u32, u32>,
  /// Applications and links whose socket is read natively: its fd and the hook on it.
  hooked: HashMap<u32, (RawFd, reads::Hook)>,
  hooked_links: HashMap<u32, (RawFd, reads::Hook)>,
  /// Reads of applications' and links' sockets done natively.
  native_reads: f64,
  /// A commit cut by the end of a read stops `app_bytes` (a read done natively carries it over)
  /// rather than giving the surfaces back.
  carry_cuts: bool,
  /// The last `app_bytes` stopped at such a cut.
  cut: bool,
}

/// `r` (x, y, width, height as the client sent them) inside a `w` x `h` buffer.
fn clip(x: i32, y: i32, width: i32, height: i32, w: usize, h: usize) -> Option<Rect> {
  let x0 = (x as i64).clamp(0, w as i64);
  let y0 = (y as i64).clamp(0, h as i64);
  let x1 = (x as i64 + width as i64).clamp(0, w as i64);
  let y1 = (y as i64 + height as i64).clamp(0, h as i64);
  (x1 > x0 && y1 > y0).then(|| Rect {
    x: x0 as usize,
    y: y0 as usize,
    w: (x1 - x0) as usize,
    h: (y1 - y0) as usize,
  })
}

/// `id` waits for its delete_id; the oldest is forgotten past MAX_DELETING.
fn forget_later(deleting: &mut Vec<u32>, id: u32) {
  if deleting.len() >= MAX_DELETING {
    deleting.remove(0);
  }
  deleting.push(id);
}

impl Surface {
  /// Brings the content up to date where exact encodes left it behind, from the mirror, which
  /// holds what they sent (nothing else encodes the surface while it is adopted, so the mirror
  /// is free here; a cell it could not give stays marked).
  fn settle(&mut self) {
    if !self.behind.iter().any(|&b| b) {
      return;
    }
    let g = CHANGED_GRID;
    let cols = self.width.div_ceil(g);
    let row = self.width * 4;
    // SAFETY: JavaScript's content array, alive while held here and not touched by JavaScript
    // while the surface is adopted; nothing else reaches it during this call.
    let dst = unsafe { self.pixels.as_mut() };
    for (i, b) in self.behind.iter_mut().enumerate() {
      if !*b {
        continue;
      }
      let (x, y) = ((i % cols) * g, (i / cols) * g);
      let cell = Rect {
        x,
        y,
        w: g.min(self.width - x),
        h: g.min(self.height - y),
      };
      if self.encoder.copy_mirror(cell, dst, row) {
        *b = false;
      }
    }
  }

  /// Marks the cells of `r` as left behind by an exact encode.
  fn leave_behind(&mut self, r: Rect) {
    let g = CHANGED_GRID;
    let cols = self.width.div_ceil(g);
    for cy in r.y / g..=(r.y + r.h - 1) / g {
      self.behind[cy * cols + r.x / g..=cy * cols + (r.x + r.w - 1) / g].fill(true);
    }
  }

  fn state(self, next_id: u32) -> CommitState {
    let mut st = CommitState {
      key: self.key,
      next_id,
      in_flight: 0,
      flight_feedback: 0,
      flight_buffer: 0,
      flight_callbacks: vec![],
      flight_feedbacks: vec![],
      shown: vec![],
      deleting: self.deleting,
      flight_ms: 0.0,
      truncated: self.truncated,
      commits: self.commits,
      presented: self.presented,
      tiles: self.tiles,
      unchanged_tiles: self.unchanged_tiles,
      raw_bytes: self.raw_bytes,
      wire_bytes: self.wire_bytes,
    };
    if let Some(f) = self.flight {
      st.in_flight = f.callback;
      st.flight_ms = f.sent.elapsed().as_secs_f64() * 1000.0;
      st.flight_feedback = if f.feedback_answered { 0 } else { f.feedback };
      st.flight_buffer = f.buffer;
      st.flight_callbacks = f.callbacks;
      st.flight_feedbacks = f.feedbacks;
      st.shown = f.shown.map(|s| s.to_vec()).unwrap_or_default();
    }
    st
  }
}

impl Commits {
  pub fn new(wire: CommitWire) -> Self {
    Commits {
      wire,
      surfaces: Vec::new(),
      apps: HashMap::new(),
      links: HashMap::new(),
      changed: Vec::new(),
      damage: Vec::new(),
      notices: HashMap::new(),
      link_notices: HashMap::new(),
      hooked: HashMap::new(),
      hooked_links: HashMap::new(),
      native_reads: 0.0,
      carry_cuts: false,
      cut: false,
    }
  }

  /// Take over a window (see `CommitSurface`) whose link mirror is `encoder`; its buffers follow
  /// (`addBuffer`). Throws for a spec that does not hold together.
  pub fn adopt(&mut self, spec: CommitSurface, encoder: &FrameEncoder) -> Result<()> {
    let (w, h) = (spec.width as usize, spec.height as usize);
    if w == 0 || h == 0 || spec.pixels.len() < w * h * 4 {
      return Err(invalid("SteadyCommits.adopt: no size, or the content is smaller"));
    }
    if spec.out.len() < encoder.shared().bound(w, h) {
      return Err(invalid(
        "SteadyCommits.adopt: the output buffer is smaller than the encoder's bound",
      ));
    }
    if self.surfaces.iter().any(|s| s.key == spec.key) {
      return Err(invalid("SteadyCommits.adopt: the surface is adopted already"));
    }
    let encoder = encoder.shared();
    if !encoder.ready(w, h) {
      return Err(invalid("SteadyCommits.adopt: the mirror does not hold this size"));
    }
    let app = self.apps.entry(spec.app).or_insert(Out {
      fd: spec.app_fd,
      staged: Vec::new(),
      dirty: None,
    });
    app.fd = spec.app_fd;
    app.dirty = Some(spec.app_dirty);
    if spec.ids.is_empty() || spec.dirty.is_empty() {
      return Err(invalid("SteadyCommits.adopt: no id or output cell of the link"));
    }
    let link = self.links.entry(spec.link).or_insert(Link {
      out: Out {
        fd: spec.link_fd,
        staged: Vec::new(),
        dirty: None,
      },
      ids: spec.ids,
      dirty: spec.dirty,
      messages: 0.0,
    });
    link.out.fd = spec.link_fd;
    self.surfaces.push(Surface {
      key: spec.key,
      app: spec.app,
      link: spec.link,
      wl_surface: spec.wl_surface,
      presentations: spec.presentations,
      free_ids: spec.free_ids,
      surface: spec.surface,
      content: spec.content,
      presentation: spec.presentation,
      width: w,
      height: h,
      format: spec.format,
      codecs: spec.codecs,
      pixels: spec.pixels,
      behind: vec![false; w.div_ceil(CHANGED_GRID) * h.div_ceil(CHANGED_GRID)],
      out: spec.out,
      encoder,
      bufs: Vec::new(),
      flight: None,
      deleting: Vec::new(),
      deadline: Instant::now() + Duration::from_millis(spec.hold_ms as u64),
      back: false,
      truncated: false,
      commits: 0.0,
      presented: 0.0,
      tiles: 0.0,
      unchanged_tiles: 0.0,
      raw_bytes: 0.0,
      wire_bytes: 0.0,
    });
    Ok(())
  }

  /// A wl_buffer the adopted surface `key` may attach: `stride` bytes a row of the surface's
  /// size, at the start of `mapping`.
  pub fn add_buffer(&mut self, key: u32, wl_buffer: u32, mapping: &ShmMapping, stride: u32) -> Result<()> {
    let Some(s) = self.surfaces.iter_mut().find(|s| s.key == key) else {
      return Err(invalid("SteadyCommits.addBuffer: the surface is not adopted"));
    };
    let Some(map) = mapping.shared() else {
      return Err(invalid("SteadyCommits.addBuffer: the buffer is unmapped"));
    };
    let stride = stride as usize;
    if stride < s.width * 4 || map.len() < stride * (s.height - 1) + s.width * 4 {
      return Err(invalid(
        "SteadyCommits.addBuffer: the buffer is smaller than the surface",
      ));
    }
    s.bufs.retain(|b| b.wl != wl_buffer);
    s.bufs.push(Buf {
      wl: wl_buffer,
      map,
      stride,
    });
    Ok(())
  }

  /// Give every adopted surface of application `app` back.
  pub fn release_app(&mut self, app: u32) -> Vec<CommitState> {
    self.release_where(|s| s.app == app)
  }

  /// Give every adopted surface of link `link` back.
  pub fn release_link(&mut self, link: u32) -> Vec<CommitState> {
    self.release_where(|s| s.link == link)
  }

  /// Give back the windows of application `app` that go back alone (COMMIT_BACK).
  pub fn release_back(&mut self, app: u32) -> Vec<CommitState> {
    self.release_where(|s| s.app == app && s.back)
  }

  /// The window of commit `g` goes back alone.
  fn back(&mut self, g: &Group) {
    if let Some(i) = g.surface {
      self.surfaces[i].back = true;
    }
  }

  /// Give one surface back (null when it is not adopted).
  pub fn release_surface(&mut self, key: u32) -> Option<CommitState> {
    self.release_where(|s| s.key == key).pop()
  }

  fn release_where(&mut self, pick: impl Fn(&Surface) -> bool) -> Vec<CommitState> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < self.surfaces.len() {
      if pick(&self.surfaces[i]) {
        let mut s = self.surfaces.swap_remove(i);
        s.settle();
        let next_id = self.links.get(&s.link).map_or(0, |l| l.next_id());
        out.push(s.state(next_id));
      } else {
        i += 1;
      }
    }
    out
  }

  /// Bring the content of adopted surface `key` up to date (see `Surface::settle`).
  pub fn settle(&mut self, key: u32) {
    if let Some(s) = self.surfaces.iter_mut().find(|s| s.key == key) {
      s.settle();
    }
  }

  /// What the link's adopted surfaces did so far: commits, frames presented, tiles, bytes of
  /// tile messages.
  pub fn counters(&self, link: u32) -> Vec<f64> {
    let mut c = vec![0.0; 4];
    for s in self.surfaces.iter().filter(|s| s.link == link) {
      c[0] += s.commits;
      c[1] += s.presented;
      c[2] += s.tiles;
      c[3] += s.wire_bytes;
    }
    c
  }

  /// Surfaces of `link` whose frame has been in flight for `ms` or longer (the receiver does not
  /// present them: JavaScript's frame clock answers such frames in the end).
  pub fn overdue(&self, link: u32, ms: u32) -> Vec<u32> {
    let limit = Duration::from_millis(ms as u64);
    self
      .surfaces
      .iter()
      .filter(|s| s.link == link && s.flight.as_ref().is_some_and(|f| f.sent.elapsed() >= limit))
      .map(|s| s.key)
      .collect()
  }

  /// An application or a link is gone: forget what was staged for it.
  pub fn forget(&mut self, app: u32, link: u32) {
    self.apps.remove(&app);
    self.links.remove(&link);
  }

  /// Bytes staged for application `app` (or, with `app` 0, for link `link`), for JavaScript to
  /// queue; null: none.
  pub fn take_staged(&mut self, app: u32, link: u32) -> Option<Buffer> {
    let staged = if app != 0 {
      &mut self.apps.get_mut(&app)?.staged
    } else {
      &mut self.links.get_mut(&link)?.out.staged
    };
    take_bytes(staged)
  }

  /// Handle the leading commits of `buf[start, end)`, read from application `app`, that belong
  /// to adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  pub(crate) fn app_bytes(
    &mut self,
    app: u32,
    buf: &[u8],
    start: u32,
    end: u32,
    io: &mut [f64],
  ) -> Result<u32> {
    let bytes = input("SteadyCommits.takeApp", buf, start, end, io, COMMIT_IO_LEN)?;
    let mut at = start as usize;
    let mut flags = 0u32;
    let mut messages = 0.0;
    let mut written = 0.0;
    let mut links: Vec<u32> = Vec::new();
    if self.surfaces.iter().any(|s| s.app == app) {
      loop {
        let mut g = Group::default();
        match self.scan(app, bytes, at, &mut g) {
          Scan::Stop => break,
          Scan::Other(id) => {
            self.taken(app, id.as_slice());
            flags |= COMMIT_OTHER;
            break;
          }
          // A read done natively carries the commit's start into its next read.
          Scan::Cut if self.carry_cuts => {
            self.cut = true;
            break;
          }
          Scan::Cut | Scan::Release => {
            flags |= COMMIT_RELEASE;
            break;
          }
          Scan::Commit(next) => {
            let queued = io[IO_LINK_QUEUED] != 0.0;
            match self.apply(&g, queued) {
              Some((link, n)) => {
                at = next;
                messages += g.messages;
                written += n;
                if !links.contains(&link) {
                  links.push(link);
                }
                if self.links.get(&link).is_some_and(|l| !l.out.staged.is_empty()) {
                  // The socket did not take the frame whole: JavaScript queues the rest and
                  // takes the window back (its flow control, buffers it reuses).
                  self.back(&g);
                  flags |= COMMIT_BACK;
                  break;
                }
              }
              None => {
                self.back(&g);
                flags |= COMMIT_BACK;
                break;
              }
            }
          }
        }
      }
    }
    for link in links {
      if self.links.get(&link).is_some_and(|l| !l.out.staged.is_empty()) {
        flags |= COMMIT_LINK_STAGED;
      }
    }
    io[IO_FLAGS] = flags as f64;
    io[IO_MESSAGES] = messages;
    io[IO_LINK_BYTES] = written;
    Ok(at as u32)
  }

  /// Whether application `app` may create an object with `id` in the commit `g`: an id the
  /// transmitter freed of any of its windows handed over (the application reuses them across
  /// its windows), not taken yet.
  fn free_id(&self, app: u32, g: &Group, id: u32) -> bool {
    !g.callbacks.contains(&id)
      && !g.feedbacks.contains(&id)
      && self
        .surfaces
        .iter()
        .any(|s| s.app == app && s.free_ids.contains(&id))
  }

  /// `ids` of application `app` are in use (objects of an adopted window, or JavaScript's).
  fn taken(&mut self, app: u32, ids: &[u32]) {
    for s in self.surfaces.iter_mut().filter(|s| s.app == app) {
      s.free_ids.retain(|id| !ids.contains(id));
    }
  }

  /// Parse and check the commit starting at `at` into `g`.
  fn scan(&self, app: u32, bytes: &[u8], at: usize, g: &mut Group) -> Scan {
    let w = self.wire;
    let end = bytes.len();
    let mut p = at;
    loop {
      if end - p < 8 {
        // Nothing more, or a commit cut by the read: JavaScript must not see half of it.
        return if p == at { Scan::Stop } else { Scan::Cut };
      }
      let id = rd32(bytes, p);
      let word = rd32(bytes, p + 4);
      let (size, opcode) = ((word >> 16) as usize, word & 0xffff);
      if size >= 8 && size.is_multiple_of(4) && p + size > end && p != at {
        return Scan::Cut;
      }
      if size < 8 || !size.is_multiple_of(4) || p + size > end {
        return if size >= 8 && p == at {
          Scan::Stop
        } else {
          Scan::Release
        };
      }
      let feedback = opcode == w.wp_feedback && size == 16;
      let target = if feedback { rd32(bytes, p + 8) } else { id };
      let found = self
        .surfaces
        .iter()
        .position(|s| s.app == app && s.wl_surface == target && (!feedback || s.presentations.contains(&id)));
      let Some(i) = found else {
        let request = feedback
          || (opcode == w.wl_attach && size == 20)
          || ((opcode == w.wl_damage || opcode == w.wl_damage_buffer) && size == 24)
          || (opcode == w.wl_frame && size == 12)
          || (opcode == w.wl_commit && size == 8);
        return if p == at && request {
          Scan::Other(match opcode {
            _ if feedback => Some(rd32(bytes, p + 12)),
            _ if opcode == w.wl_frame => Some(rd32(bytes, p + 8)),
            _ => None,
          })
        } else {
          Scan::Release
        };
      };
      if g.surface.is_some_and(|k| k != i) {
        return Scan::Release;
      }
      g.surface = Some(i);
      let s = &self.surfaces[i];
      let arg = |k: usize| rd32(bytes, p + 8 + 4 * k);
      if feedback {
        let new = arg(1);
        if !self.free_id(app, g, new) {
          return Scan::Release;
        }
        g.feedbacks.push(new);
      } else if opcode == w.wl_attach && size == 20 {
        let Some(b) = s.bufs.iter().position(|b| b.wl == arg(0)) else {
          return Scan::Release;
        };
        if arg(1) != 0 || arg(2) != 0 {
          return Scan::Release;
        }
        g.attach = Some(b);
      } else if (opcode == w.wl_damage || opcode == w.wl_damage_buffer) && size == 24 {
        let (x, y, rw, rh) = (arg(0) as i32, arg(1) as i32, arg(2) as i32, arg(3) as i32);
        if let Some(r) = clip(x, y, rw, rh, s.width, s.height) {
          g.damage.push(r);
          if g.damage.len() > MAX_DAMAGE_RECTS {
            let b = bounding(&g.damage);
            g.damage.clear();
            g.damage.push(b);
          }
        }
      } else if opcode == w.wl_frame && size == 12 {
        let new = arg(0);
        if !self.free_id(app, g, new) {
          return Scan::Release;
        }
        g.callbacks.push(new);
      } else if opcode == w.wl_commit && size == 8 {
        g.messages += 1.0;
        return Scan::Commit(p + size);
      } else {
        return Scan::Release;
      }
      g.messages += 1.0;
      p += size;
    }
  }

  /// Apply a commit: copy, encode and send the frame. None when it is not steady (nothing was
  /// changed then, or the surface's pixels went out of step and the mirror starts over); else
  /// the link and the bytes sent or staged.
  fn apply(&mut self, g: &Group, link_queued: bool) -> Option<(u32, f64)> {
    let w = self.wire;
    let i = g.surface?;
    let b = g.attach?;
    let s = &mut self.surfaces[i];
    let link = self.links.get_mut(&s.link)?;
    if s.flight.is_some()
      || (g.callbacks.is_empty() && g.feedbacks.is_empty())
      || link_queued
      || !link.out.staged.is_empty()
      || Instant::now() >= s.deadline
      || !s.encoder.ready(s.width, s.height)
    {
      return None;
    }
    let (width, height) = (s.width, s.height);
    let row = width * 4;
    // A frame the socket may not take whole stays in JavaScript (its queue reuses its buffers;
    // bytes staged here would be a new buffer each time). What it takes at most: its pixels at
    // 4 bytes; unless the last frame over this mirror took less than an eighth of that (a window
    // that damages all of itself but scrolls or changes a little), then twice what that one
    // took. A frame that takes more after all is staged in part, and the window goes back
    // (app_bytes); frames that take much of their pixels are judged by the most, as before.
    let area: usize = g.damage.iter().map(|r| r.w * r.h).sum();
    let likely = match s.encoder.last_bytes(s.width, s.height) {
      Some(n) if 8 * n <= area * 4 => 2 * n,
      _ => area * 4,
    };
    if likely + SEND_MARGIN > send_room(link.out.fd) {
      return None;
    }
    // One damage rectangle over a mirror in step: encoded straight from the application's
    // buffer (the content is brought up to date from the mirror when something else reads it,
    // `settle`). Else the display's copy first: only what differs, cut to where it differed.
    let exact = g.damage.len() == 1 && s.encoder.exact_ready(width, height);
    self.damage.clear();
    let damage = if exact {
      let r = g.damage[0];
      self.damage.extend([r.x, r.y, r.w, r.h].map(|v| v as i32));
      Some(&self.damage[..])
    } else {
      // The content is read and written here: up to date first.
      s.settle();
      self.changed.clear();
      let buf = &s.bufs[b];
      let src = buf.map.bytes();
      // SAFETY: JavaScript's content array, alive while held here; JavaScript does not touch it
      // while the surface is adopted, and nothing else reaches it during this call.
      let dst = unsafe { s.pixels.as_mut() };
      for r in &g.damage {
        let before = self.changed.len();
        if !copy_changed_into(
          src,
          buf.stride,
          dst,
          row,
          *r,
          CHANGED_GRID,
          MAX_CHANGED_RECTS,
          &mut self.changed,
        ) {
          self.changed.truncate(before);
          self.changed.push([r.x, r.y, r.w, r.h]);
        }
      }
      if self.changed.len() > MAX_LINK_DAMAGE {
        None
      } else {
        for c in &self.changed {
          self.damage.extend(c.iter().map(|&v| v as i32));
        }
        Some(&self.damage[..])
      }
    };
    let buf = &s.bufs[b];
    if !exact && buf.map.truncated() {
      // JavaScript reads it again, finds it truncated and tells the client. The mirror
      // starts over so that nothing copied here is taken for sent.
      s.truncated = true;
      s.encoder.reset();
      return None;
    }
    let (src, stride): (&[u8], usize) = if exact {
      (buf.map.bytes(), buf.stride)
    } else {
      // SAFETY: as above.
      (unsafe { s.pixels.as_mut() }, row)
    };
    // SAFETY: JavaScript's buffer lent for this surface alone, distinct from the content and the
    // application's buffer.
    let out = unsafe { s.out.as_mut() };
    let result = s.encoder.encode(
      src, stride, width, height, damage, exact, s.codecs, s.content, s.surface, out,
    );
    let stats = match result {
      Ok(st) if !(exact && buf.map.truncated()) => st,
      _ => {
        // The content moved on while the mirror may not have (or the buffer shrank under the
        // encode, which JavaScript tells the client): send everything next time.
        s.truncated |= buf.map.truncated();
        s.settle();
        s.encoder.reset();
        return None;
      }
    };
    let with_feedback = !g.feedbacks.is_empty() && s.presentation != 0;
    let callback = link.take_ids(if with_feedback { 2 } else { 1 });
    let feedback = if with_feedback { callback + 1 } else { 0 };
    let mut head = Vec::with_capacity(28);
    if stats.tiles > 0 {
      waltham(
        &mut head,
        w.begin,
        s.content,
        &[s.surface, width as u32, height as u32, s.format],
      );
    }
    let mut tail = Vec::with_capacity(48);
    waltham(&mut tail, w.frame, s.surface, &[callback]);
    if feedback != 0 {
      waltham(&mut tail, w.feedback, s.presentation, &[s.surface, feedback]);
    }
    waltham(&mut tail, w.commit, s.surface, &[]);
    let tiles = &out[..stats.bytes as usize];
    let total = head.len() + tiles.len() + tail.len();
    let sent = send_parts_raw(link.out.fd, &[&head[..], tiles, &tail[..]])
      .ok()
      .flatten()
      .unwrap_or(0);
    let mut at = 0;
    for part in [&head[..], tiles, &tail[..]] {
      let skip = sent.saturating_sub(at).min(part.len());
      link.out.staged.extend_from_slice(&part[skip..]);
      at += part.len();
    }
    if exact {
      s.leave_behind(g.damage[0]);
    }
    s.flight = Some(Flight {
      sent: Instant::now(),
      callback,
      feedback,
      feedback_answered: feedback == 0,
      buffer: s.bufs[b].wl,
      callbacks: g.callbacks.clone(),
      feedbacks: g.feedbacks.clone(),
      shown: None,
    });
    s.commits += 1.0;
    s.tiles += stats.tiles as f64;
    s.unchanged_tiles += stats.unchanged_tiles as f64;
    s.raw_bytes += stats.raw_bytes;
    s.wire_bytes += stats.bytes;
    let (app, link) = (s.app, s.link);
    self.taken(app, &g.callbacks);
    self.taken(app, &g.feedbacks);
    Some((link, total as f64))
  }

  /// Handle the leading answers of `buf[start, end)`, read from link `link`, to frames of
  /// adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  pub(crate) fn link_bytes(
    &mut self,
    link: u32,
    buf: &[u8],
    start: u32,
    end: u32,
    io: &mut [f64],
  ) -> Result<u32> {
    let w = self.wire;
    let bytes = input("SteadyCommits.takeLink", buf, start, end, io, COMMIT_IO_LEN)?;
    let mut at = start as usize;
    let mut messages = 0.0;
    let mut answered: Vec<u32> = Vec::new();
    while end as usize - at >= 12 {
      let size = rd16(bytes, at + 2);
      if size < 12 || at + size > end as usize {
        break;
      }
      let opcode = rd16(bytes, at + 4) as u32;
      let target = rd32(bytes, at + 8);
      let mine = |s: &Surface| s.link == link;
      let handled = if opcode == w.delete_id && target == 1 && size == 16 {
        let gone = rd32(bytes, at + 12);
        match self
          .surfaces
          .iter_mut()
          .find(|s| mine(s) && s.deleting.contains(&gone))
        {
          Some(s) => {
            s.deleting.retain(|&d| d != gone);
            true
          }
          None => false,
        }
      } else if let Some(i) = self.surfaces.iter().position(|s| {
        mine(s)
          && s
            .flight
            .as_ref()
            .is_some_and(|f| f.callback == target || (f.feedback == target && !f.feedback_answered))
      }) {
        let s = &mut self.surfaces[i];
        let f = s.flight.as_mut().expect("found in flight");
        if target == f.callback && opcode == w.callback_done && size == 16 {
          forget_later(&mut s.deleting, target);
          let app = s.app;
          self.frame_done(i);
          if !answered.contains(&app) {
            answered.push(app);
          }
          true
        } else if target == f.feedback && opcode == w.feedback_presented && size == 32 {
          let v = |k: usize| rd32(bytes, at + 12 + 4 * k);
          let (age, refresh, hi, lo, fl) = (v(0) as i32, v(1), v(2), v(3), v(4));
          f.feedback_answered = true;
          forget_later(&mut s.deleting, target);
          // All zero: the receiver's display does not report presentation times.
          if age != 0 || refresh != 0 || hi != 0 || lo != 0 || fl != 0 {
            let time = monotonic_ns() - age as i128 * 1000;
            f.shown = Some([time as f64, refresh as f64, hi as f64, lo as f64, fl as f64]);
          }
          true
        } else if target == f.feedback && opcode == w.feedback_discarded && size == 12 {
          f.feedback_answered = true;
          forget_later(&mut s.deleting, target);
          true
        } else {
          false
        }
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
    let queued = io[IO_APP_QUEUED] != 0.0;
    for app in answered {
      if let Some(a) = self.apps.get_mut(&app) {
        if flush(a.fd, &mut a.staged, queued) {
          flags |= COMMIT_APP_STAGED;
        }
      }
    }
    io[IO_FLAGS] = flags as f64;
    io[IO_MESSAGES] = messages;
    io[IO_LINK_BYTES] = 0.0;
    Ok(at as u32)
  }

  /// The receiver showed surface `i`'s frame: the buffer goes back, then the presentation
  /// feedbacks and frame callbacks are answered (as compositor.ts, sendFrameDone).
  fn frame_done(&mut self, i: usize) {
    let w = self.wire;
    let s = &mut self.surfaces[i];
    let Some(f) = s.flight.take() else { return };
    let Some(out) = self.apps.get_mut(&s.app) else {
      return;
    };
    let out = &mut out.staged;
    wayland(out, f.buffer, w.wl_buffer_release, &[]);
    let now = monotonic_ns();
    if !f.feedbacks.is_empty() {
      let [time, refresh, hi, lo, flags] = f.shown.unwrap_or([now as f64, 0.0, 0.0, 0.0, 0.0]);
      let t = if f.shown.is_some() { time as i128 } else { now };
      let sec = (t / 1_000_000_000) as u64;
      let nsec = (t % 1_000_000_000) as u32;
      for &fb in &f.feedbacks {
        wayland(
          out,
          fb,
          w.wp_presented,
          &[
            (sec >> 32) as u32,
            sec as u32,
            nsec,
            refresh as u32,
            hi as u32,
            lo as u32,
            flags as u32,
          ],
        );
        wayland(out, 1, w.wl_delete_id, &[fb]);
      }
    }
    let ms = (now / 1_000_000) as u64 as u32;
    for &cb in &f.callbacks {
      wayland(out, cb, w.wl_callback_done, &[ms]);
      wayland(out, 1, w.wl_delete_id, &[cb]);
    }
    s.free_ids.extend(f.feedbacks.iter().chain(f.callbacks.iter()));
    s.presented += 1.0;
  }
}

impl Commits {
  /// A read of application `app`'s socket done natively (reads.rs): the commits taken as
  /// `takeApp` takes them, the rest kept for JavaScript, flags as a notice (`takeNotice`).
  /// Nothing is read while JavaScript queued output on one of its links since it last looked:
  /// JavaScript reads then, and writes what it queued first.
  fn app_read(&mut self, app: u32, fd: RawFd) -> Report {
    let links = &self.links;
    if self.apps.get(&app).is_none_or(Out::held)
      || self
        .surfaces
        .iter()
        .any(|s| s.app == app && links.get(&s.link).is_none_or(Link::dirty))
    {
      return READABLE;
    }
    reads::read(fd, |read| match read {
      Read::Nothing => 0,
      Read::ToJs => READABLE,
      Read::Bytes(bytes) => {
        self.native_reads += 1.0;
        let mut io = [0.0; COMMIT_IO_LEN];
        self.carry_cuts = true;
        self.cut = false;
        let at = self
          .app_bytes(app, bytes, 0, bytes.len() as u32, &mut io)
          .map_or(0, |at| at as usize);
        self.carry_cuts = false;
        // A commit cut by the read is carried whole into the next read; anything else the read
        // left goes to JavaScript.
        let cut = self.cut;
        let mut report = reads::leave(fd, &bytes[at..], |rest| {
          if cut {
            None
          } else {
            reads::wayland_size(rest)
          }
        });
        let flags = io[IO_FLAGS] as u32;
        if flags != 0 {
          *self.notices.entry(app).or_default() |= flags;
          report |= READABLE | NOTICE;
        }
        report
      }
    })
  }

  /// A read of link `link`'s socket done natively: the answers taken as `takeLink` takes them,
  /// the rest kept for JavaScript, flags as a notice (`takeLinkNotice`). Nothing is read while
  /// JavaScript queued output to one of the applications answered here since it last looked.
  fn link_read(&mut self, link: u32, fd: RawFd) -> Report {
    let apps = &self.apps;
    if self.links.get(&link).is_none_or(Link::held)
      || self
        .surfaces
        .iter()
        .any(|s| s.link == link && apps.get(&s.app).is_none_or(Out::dirty))
    {
      return READABLE;
    }
    reads::read(fd, |read| match read {
      Read::Nothing => 0,
      Read::ToJs => READABLE,
      Read::Bytes(bytes) => {
        self.native_reads += 1.0;
        let mut io = [0.0; COMMIT_IO_LEN];
        let at = self
          .link_bytes(link, bytes, 0, bytes.len() as u32, &mut io)
          .map_or(0, |at| at as usize);
        if let Some(l) = self.links.get_mut(&link) {
          l.messages += io[IO_MESSAGES];
        }
        let mut report = reads::leave(fd, &bytes[at..], reads::waltham_size);
        let flags = io[IO_FLAGS] as u32;
        if flags != 0 {
          *self.link_notices.entry(link).or_default() |= flags;
          report |= READABLE | NOTICE;
        }
        report
      }
    })
  }

  fn unhook(&mut self, app: u32) {
    if let Some((fd, hook)) = self.hooked.remove(&app) {
      reads::clear_hook_if(fd, &hook);
    }
  }

  fn unhook_link(&mut self, link: u32) {
    if let Some((fd, hook)) = self.hooked_links.remove(&link) {
      reads::clear_hook_if(fd, &hook);
    }
  }
}

/// The transmitter's steady commits (see the module comment), for JavaScript.
#[napi]
pub struct SteadyCommits {
  inner: Rc<RefCell<Commits>>,
}

#[napi]
impl SteadyCommits {
  #[napi(constructor)]
  pub fn new(wire: CommitWire) -> Self {
    SteadyCommits {
      inner: Rc::new(RefCell::new(Commits::new(wire))),
    }
  }

  /// Take over a window (see `CommitSurface`) whose link mirror is `encoder`; its buffers follow
  /// (`addBuffer`). Throws for a spec that does not hold together.
  #[napi]
  pub fn adopt(&self, spec: CommitSurface, encoder: &FrameEncoder) -> Result<()> {
    self.inner.borrow_mut().adopt(spec, encoder)
  }

  /// A wl_buffer the adopted surface `key` may attach: `stride` bytes a row of the surface's
  /// size, at the start of `mapping`.
  #[napi]
  pub fn add_buffer(&self, key: u32, wl_buffer: u32, mapping: &ShmMapping, stride: u32) -> Result<()> {
    self
      .inner
      .borrow_mut()
      .add_buffer(key, wl_buffer, mapping, stride)
  }

  /// Give every adopted surface of application `app` back (its socket is read by JavaScript
  /// again).
  #[napi]
  pub fn release_app(&self, app: u32) -> Vec<CommitState> {
    let mut c = self.inner.borrow_mut();
    c.unhook(app);
    c.release_app(app)
  }

  /// Give every adopted surface of link `link` back.
  #[napi]
  pub fn release_link(&self, link: u32) -> Vec<CommitState> {
    self.inner.borrow_mut().release_link(link)
  }

  /// Give back the windows of application `app` that go back alone (COMMIT_BACK).
  #[napi]
  pub fn release_back(&self, app: u32) -> Vec<CommitState> {
    self.inner.borrow_mut().release_back(app)
  }

  /// Give one surface back (null when it is not adopted).
  #[napi]
  pub fn release_surface(&self, key: u32) -> Option<CommitState> {
    self.inner.borrow_mut().release_surface(key)
  }

  /// Bring the content of adopted surface `key` up to date: commits encoded straight from the
  /// application's buffer leave it behind (the mirror holds their pixels). For JavaScript, before
  /// it reads the content of a surface handed over.
  #[napi]
  pub fn settle(&self, key: u32) {
    self.inner.borrow_mut().settle(key);
  }

  /// What the link's adopted surfaces did so far: commits, frames presented, tiles, bytes of
  /// tile messages.
  #[napi]
  pub fn counters(&self, link: u32) -> Vec<f64> {
    self.inner.borrow().counters(link)
  }

  /// Surfaces of `link` whose frame has been in flight for `ms` or longer (the receiver does not
  /// present them: JavaScript's frame clock answers such frames in the end).
  #[napi]
  pub fn overdue(&self, link: u32, ms: u32) -> Vec<u32> {
    self.inner.borrow().overdue(link, ms)
  }

  /// An application or a link is gone: forget what was staged for it (and the application's
  /// hook).
  #[napi]
  pub fn forget(&self, app: u32, link: u32) {
    let mut c = self.inner.borrow_mut();
    c.unhook(app);
    c.unhook_link(link);
    c.notices.remove(&app);
    c.link_notices.remove(&link);
    c.forget(app, link);
  }

  /// Bytes staged for application `app` (or, with `app` 0, for link `link`), for JavaScript to
  /// queue; null: none.
  #[napi]
  pub fn take_staged(&self, app: u32, link: u32) -> Option<Buffer> {
    self.inner.borrow_mut().take_staged(app, link)
  }

  /// Handle the leading commits of `buf[start, end)`, read from application `app`, that belong
  /// to adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  #[napi]
  pub fn take_app(
    &self,
    app: u32,
    buf: Uint8ArraySlice<'_>,
    start: u32,
    end: u32,
    mut io: Float64ArraySlice<'_>,
  ) -> Result<u32> {
    // SAFETY: valid during this synchronous call; nothing else reaches the memory meanwhile.
    let io = unsafe { io.as_mut() };
    self.inner.borrow_mut().app_bytes(app, &buf, start, end, io)
  }

  /// Handle the leading answers of `buf[start, end)`, read from link `link`, to frames of
  /// adopted surfaces; returns where JavaScript goes on. `io`: see IO_*.
  #[napi]
  pub fn take_link(
    &self,
    link: u32,
    buf: Uint8ArraySlice<'_>,
    start: u32,
    end: u32,
    mut io: Float64ArraySlice<'_>,
  ) -> Result<u32> {
    // SAFETY: as in take_app.
    let io = unsafe { io.as_mut() };
    self.inner.borrow_mut().link_bytes(link, &buf, start, end, io)
  }

  /// Read application `app`'s socket `fd` natively while it has adopted surfaces (the poller
  /// calls this side when the socket is readable, and JavaScript hears only of what is left:
  /// reads.rs). Kept until `releaseApp` or `forget`.
  #[napi]
  pub fn hook_app(&self, app: u32, fd: i32) {
    let mut c = self.inner.borrow_mut();
    c.unhook(app);
    let hook = reads::hook_state(&self.inner, fd, move |c: &mut Commits, fd| c.app_read(app, fd));
    c.hooked.insert(app, hook);
  }

  /// JavaScript reads application `app`'s socket again.
  #[napi]
  pub fn unhook_app(&self, app: u32) {
    self.inner.borrow_mut().unhook(app);
  }

  /// Read link `link`'s socket `fd` natively while it has adopted surfaces (as `hookApp`).
  /// Kept until `unhookLink` or `forget`.
  #[napi]
  pub fn hook_link(&self, link: u32, fd: i32) {
    let mut c = self.inner.borrow_mut();
    c.unhook_link(link);
    let hook = reads::hook_state(&self.inner, fd, move |c: &mut Commits, fd| c.link_read(link, fd));
    c.hooked_links.insert(link, hook);
  }

  /// JavaScript reads link `link`'s socket again.
  #[napi]
  pub fn unhook_link(&self, link: u32) {
    self.inner.borrow_mut().unhook_link(link);
  }

  /// Flags a native read left for link `link` (COMMIT_APP_STAGED); 0: none.
  #[napi]
  pub fn take_link_notice(&self, link: u32) -> u32 {
    self.inner.borrow_mut().link_notices.remove(&link).unwrap_or(0)
  }

  /// Messages of link `link` taken by native reads since the last call.
  #[napi]
  pub fn take_link_messages(&self, link: u32) -> f64 {
    let mut c = self.inner.borrow_mut();
    c.links
      .get_mut(&link)
      .map_or(0.0, |l| std::mem::take(&mut l.messages))
  }

  /// Flags a native read left for application `app` (COMMIT_RELEASE, COMMIT_LINK_STAGED), for
  /// JavaScript to act on as after `takeApp`; 0: none.
  #[napi]
  pub fn take_notice(&self, app: u32) -> u32 {
    self.inner.borrow_mut().notices.remove(&app).unwrap_or(0)
  }

  /// Reads of applications' and links' sockets done natively so far.
  #[napi(getter)]
  pub fn native_reads(&self) -> f64 {
    self.inner.borrow().native_reads
  }
}

impl Drop for SteadyCommits {
  fn drop(&mut self) {
    if let Ok(mut c) = self.inner.try_borrow_mut() {
      let c = &mut *c;
      let hooks: Vec<_> = c.hooked.drain().chain(c.hooked_links.drain()).collect();
      for (_, (fd, hook)) in hooks {
        reads::clear_hook_if(fd, &hook);
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::fd::memfd_create;
  use crate::fuzz::WIRE;
  use crate::socket::socket_pair;

  const W: u32 = 40;
  const H: u32 = 24;
  /// Ids: the application's wl_surface, wp_presentation, buffers; the link's wthp objects.
  const WL_SURFACE: u32 = 11;
  const PRESENTATION: u32 = 9;
  const BUFFERS: [u32; 2] = [30, 31];
  const SURFACE: u32 = 19;
  const CONTENT: u32 = 6;
  const WTH_PRESENTATION: u32 = 8;
  const FIRST_ID: u32 = 50;

  fn wire() -> CommitWire {
    CommitWire {
      wl_attach: 1,
      wl_damage: 2,
      wl_damage_buffer: 9,
      wl_frame: 3,
      wl_commit: 6,
      wp_feedback: 1,
      wl_buffer_release: 0,
      wl_callback_done: 0,
      wl_delete_id: 1,
      wp_presented: 1,
      begin: 30,
      frame: 20,
      feedback: 40,
      commit: 24,
      callback_done: 2,
      feedback_presented: 41,
      feedback_discarded: 42,
      delete_id: 3,
    }
  }

  struct Setup {
    commits: Commits,
    /// Our ends of the application's and the link's sockets.
    app: i32,
    link: i32,
    maps: Vec<Mapping>,
    content: Vec<u8>,
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
    let mut out = vec![0u8; 1 << 20];
    // SAFETY: a valid buffer of that length.
    let n = unsafe { libc::recv(fd, out.as_mut_ptr().cast(), out.len(), libc::MSG_DONTWAIT) };
    out.truncate(n.max(0) as usize);
    out
  }

  /// A window of application 1 on link 1 (their sockets `fds`): key, wl_surface, Waltham
  /// surface, freed ids; its content `content`, which must outlive the commits that use it.
  fn window_spec(
    key: u32,
    wl_surface: u32,
    surface: u32,
    free_ids: Vec<u32>,
    fds: (i32, i32),
    content: &mut [u8],
    encoder: &FrameEncoder,
  ) -> CommitSurface {
    CommitSurface {
      key,
      app: 1,
      app_fd: fds.0,
      app_dirty: vec![0u8; 2].into(),
      wl_surface,
      presentations: vec![PRESENTATION],
      free_ids,
      link: 1,
      link_fd: fds.1,
      ids: vec![FIRST_ID as f64, 0.0].into(),
      dirty: vec![0u8; 2].into(),
      surface,
      content: CONTENT,
      presentation: WTH_PRESENTATION,
      width: W,
      height: H,
      format: 1,
      codecs: 1,
      // SAFETY: the caller keeps `content` as long as the commits that use it.
      pixels: unsafe { Uint8Array::with_external_data(content.as_mut_ptr(), content.len(), |_, _| {}) },
      out: vec![0u8; encoder.shared().bound(W as usize, H as usize)].into(),
      hold_ms: 60_000,
    }
  }

  /// An encoder whose mirror of Waltham surface `surface` (W x H) holds black.
  fn black_encoder(surface: u32) -> FrameEncoder {
    let encoder = FrameEncoder::new(WIRE, 16, 1 << 16).unwrap();
    let black = vec![0u8; (W * H * 4) as usize];
    let mut out = vec![0u8; encoder.shared().bound(W as usize, H as usize)];
    encoder
      .shared()
      .encode(
        &black,
        (W * 4) as usize,
        W as usize,
        H as usize,
        None,
        false,
        1,
        CONTENT,
        surface,
        &mut out,
      )
      .unwrap();
    encoder
  }

  /// An adopted window of W x H whose mirror holds black, with two buffers of black.
  fn setup() -> Setup {
    let app = socket_pair().unwrap();
    let link = socket_pair().unwrap();
    let mut fds = vec![app[0], app[1], link[0], link[1]];
    let mut maps = Vec::new();
    for _ in BUFFERS {
      let fd = memfd_create("commits-test".into(), (W * H * 4) as f64).unwrap();
      fds.push(fd);
      maps.push(Mapping::map(fd, 0, (W * H * 4) as usize, true).unwrap());
    }
    let encoder = black_encoder(SURFACE);
    let mut content = vec![0u8; (W * H * 4) as usize];
    let mut commits = Commits::new(wire());
    commits
      .adopt(
        window_spec(
          1,
          WL_SURFACE,
          SURFACE,
          vec![40, 41],
          (app[0], link[0]),
          &mut content,
          &encoder,
        ),
        &encoder,
      )
      .unwrap();
    for (i, m) in maps.iter().enumerate() {
      commits.surfaces[0].bufs.push(Buf {
        wl: BUFFERS[i],
        map: m.share(),
        stride: (W * 4) as usize,
      });
    }
    Setup {
      commits,
      app: app[1],
      link: link[1],
      maps,
      content,
      fds,
    }
  }

  fn paint(map: &Mapping, x: u32, y: u32, w: u32, h: u32, px: [u8; 4]) {
    for yy in y..y + h {
      for xx in x..x + w {
        let at = ((yy * W + xx) * 4) as usize;
        // SAFETY: inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(px.as_ptr(), map.as_ptr().add(at), 4) };
      }
    }
  }

  /// attach, damage_buffer, frame, feedback, commit.
  fn commit_messages(buffer: u32, rect: [u32; 4], callback: u32, feedback: u32) -> Vec<u8> {
    let mut m = Vec::new();
    wayland(&mut m, WL_SURFACE, 1, &[buffer, 0, 0]);
    wayland(&mut m, WL_SURFACE, 9, &rect);
    wayland(&mut m, WL_SURFACE, 3, &[callback]);
    wayland(&mut m, PRESENTATION, 1, &[WL_SURFACE, feedback]);
    wayland(&mut m, WL_SURFACE, 6, &[]);
    m
  }

  /// Waltham messages as (opcode, target, first argument).
  fn waltham_messages(bytes: &[u8]) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
      let size = rd16(bytes, at + 2);
      let first = if size >= 16 { rd32(bytes, at + 12) } else { 0 };
      out.push((rd16(bytes, at + 4) as u32, rd32(bytes, at + 8), first));
      at += size;
    }
    out
  }

  #[test]
  fn a_steady_commit_goes_to_the_receiver_and_its_answers_to_the_application() {
    let mut s = setup();
    paint(&s.maps[0], 3, 2, 5, 4, [1, 2, 3, 255]);
    let msgs = commit_messages(BUFFERS[0], [0, 0, W, H], 40, 41);
    let mut io = [0.0; COMMIT_IO_LEN];
    let next = s
      .commits
      .app_bytes(1, &msgs, 0, msgs.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next as usize, msgs.len());
    assert_eq!(io[IO_FLAGS], 0.0);
    assert_eq!(io[IO_MESSAGES], 5.0);
    // One damage rectangle: encoded straight from the buffer, the content brought up to date
    // from the mirror when asked (before anything else reads it).
    let at = ((2 * W + 3) * 4) as usize;
    assert_eq!(&s.content[at..at + 4], &[0, 0, 0, 0]);
    s.commits.settle(1);
    assert_eq!(&s.content[at..at + 4], &[1, 2, 3, 255]);
    let sent = read_all(s.link);
    assert_eq!(io[IO_LINK_BYTES], sent.len() as f64);
    let m = waltham_messages(&sent);
    assert_eq!(m[0], (30, CONTENT, SURFACE));
    // Tiles of the changed grid cell only (16 x 16 grid: one cell), then the frame's requests.
    let tiles: Vec<_> = m[1..m.len() - 3].iter().collect();
    assert!(!tiles.is_empty() && tiles.iter().all(|t| t.0 == WIRE.tile_opcode && t.1 == CONTENT));
    assert_eq!(
      m[m.len() - 3..],
      [
        (20, SURFACE, FIRST_ID),
        (40, WTH_PRESENTATION, SURFACE),
        (24, SURFACE, 0)
      ]
    );

    // The receiver's answers: presentation, done, delete_ids; then a message of JavaScript's.
    let mut answers = Vec::new();
    waltham(&mut answers, 41, FIRST_ID + 1, &[250, 16_666_667, 0, 77, 1]);
    waltham(&mut answers, 2, FIRST_ID, &[1234]);
    waltham(&mut answers, 3, 1, &[FIRST_ID]);
    waltham(&mut answers, 3, 1, &[FIRST_ID + 1]);
    waltham(&mut answers, 2, 99, &[5]);
    let next = s
      .commits
      .link_bytes(1, &answers, 0, answers.len() as u32, &mut io)
      .unwrap();
    assert_eq!(next as usize, answers.len() - 16);
    assert_eq!(io[IO_MESSAGES], 4.0);
    let got = read_all(s.app);
    // release, presented + delete_id, done + delete_id.
    assert_eq!(got.len(), 8 + 36 + 12 + 12 + 12);
    assert_eq!((rd32(&got, 0), rd32(&got, 4)), (BUFFERS[0], 8 << 16));
    assert_eq!((rd32(&got, 8), rd32(&got, 12) & 0xffff), (41, 1));
    // Refresh, sequence and flags as the receiver said.
    assert_eq!(
      [
        rd32(&got, 16 + 12),
        rd32(&got, 16 + 16),
        rd32(&got, 16 + 20),
        rd32(&got, 16 + 24)
      ],
      [16_666_667, 0, 77, 1]
    );
    assert_eq!([rd32(&got, 44), rd32(&got, 52)], [1, 41]);
    assert_eq!([rd32(&got, 56), rd32(&got, 68), rd32(&got, 76)], [40, 1, 40]);
    let st = s.commits.release_surface(1).unwrap();
    assert_eq!(
      (st.in_flight, st.commits, st.presented, st.next_id),
      (0, 1.0, 1.0, FIRST_ID + 2)
    );
  }

  /// A second window of the application, adopted as the first: wl_surface 12, buffers 32 and
  /// 33, Waltham surface 21, freed ids 44 and 45; black, as its mirror.
  fn adopt_second(s: &mut Setup) -> Vec<u8> {
    let encoder = black_encoder(21);
    let mut content = vec![0u8; (W * H * 4) as usize];
    let fds = (s.fds[0], s.fds[2]);
    s.commits
      .adopt(
        window_spec(2, 12, 21, vec![44, 45], fds, &mut content, &encoder),
        &encoder,
      )
      .unwrap();
    for wl in [32, 33] {
      let fd = memfd_create("commits-test".into(), (W * H * 4) as f64).unwrap();
      s.fds.push(fd);
      let map = Mapping::map(fd, 0, (W * H * 4) as usize, true).unwrap();
      s.commits.surfaces[1].bufs.push(Buf {
        wl,
        map: map.share(),
        stride: (W * 4) as usize,
      });
      s.maps.push(map);
    }
    content
  }

  /// attach, damage_buffer, frame, feedback, commit of `wl_surface`.
  fn commit_of(wl_surface: u32, buffer: u32, callback: u32, feedback: u32) -> Vec<u8> {
    let mut m = Vec::new();
    wayland(&mut m, wl_surface, 1, &[buffer, 0, 0]);
    wayland(&mut m, wl_surface, 9, &[0, 0, 4, 4]);
    wayland(&mut m, wl_surface, 3, &[callback]);
    wayland(&mut m, PRESENTATION, 1, &[wl_surface, feedback]);
    wayland(&mut m, wl_surface, 6, &[]);
    m
  }

  #[test]
  fn the_windows_of_one_application_leave_each_other_handed_over() {
    let mut io = [0.0; COMMIT_IO_LEN];
    let take = |s: &mut Setup, bytes: &[u8], io: &mut [f64]| {
      s.commits.app_bytes(1, bytes, 0, bytes.len() as u32, io).unwrap() as usize
    };
    // A commit of a window not handed over (wl_surface 90): each of its requests is left to
    // JavaScript, the others stay, and the ids it creates are JavaScript's objects from then on.
    let mut s = setup();
    let _second = adopt_second(&mut s);
    let other = commit_of(90, 70, 40, 44);
    let mut at = 0;
    while at < other.len() {
      let size = (rd32(&other, at + 4) >> 16) as usize;
      let part = &other[at..];
      assert_eq!(
        (take(&mut s, part, &mut io), io[IO_FLAGS] as u32),
        (0, COMMIT_OTHER),
        "at {at}"
      );
      at += size;
    }
    assert!(read_all(s.link).is_empty());
    let first = commit_of(WL_SURFACE, BUFFERS[0], 40, 41);
    assert_eq!(
      (take(&mut s, &first, &mut io), io[IO_FLAGS] as u32),
      (0, COMMIT_RELEASE),
      "40 is not free"
    );
    assert_eq!(s.commits.release_app(1).len(), 2);

    // Ids freed by one window may be used by the other (the application reuses them across its
    // windows); a commit that is not steady sends its window back alone.
    let mut s = setup();
    let _second = adopt_second(&mut s);
    let second = commit_of(12, 32, 40, 41);
    assert_eq!(
      (take(&mut s, &second, &mut io), io[IO_FLAGS] as u32),
      (second.len(), 0)
    );
    assert!(!read_all(s.link).is_empty(), "the second window's frame went out");
    io[IO_LINK_QUEUED] = 1.0;
    let first = commit_of(WL_SURFACE, BUFFERS[0], 44, 45);
    assert_eq!(
      (take(&mut s, &first, &mut io), io[IO_FLAGS] as u32),
      (0, COMMIT_BACK)
    );
    let back = s.commits.release_back(1);
    assert_eq!(back.iter().map(|st| st.key).collect::<Vec<_>>(), vec![1]);
    let left = s.commits.release_app(1);
    assert_eq!(
      left
        .iter()
        .map(|st| (st.key, st.in_flight != 0))
        .collect::<Vec<_>>(),
      vec![(2, true)]
    );
  }

  #[test]
  fn what_is_not_steady_goes_back_before_its_commit() {
    let mut io = [0.0; COMMIT_IO_LEN];
    // Each case: one commit taken first (in flight), then the bytes; where JavaScript goes on.
    let first = commit_messages(BUFFERS[0], [0, 0, 4, 4], 40, 41);
    let mut other = Vec::new();
    wayland(&mut other, 77, 0, &[]);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
      (
        "a second commit in flight",
        commit_messages(BUFFERS[1], [0, 0, 4, 4], 40, 41),
        true,
      ),
      (
        "an unknown buffer",
        commit_messages(99, [0, 0, 4, 4], 40, 41),
        false,
      ),
      (
        "an id not freed",
        commit_messages(BUFFERS[1], [0, 0, 4, 4], 42, 41),
        false,
      ),
      ("another object's request", other, false),
      (
        "a commit cut short",
        commit_messages(BUFFERS[1], [0, 0, 4, 4], 40, 41)[..40].to_vec(),
        false,
      ),
    ];
    for (what, bytes, in_flight) in cases {
      let mut s = setup();
      if in_flight {
        s.commits
          .app_bytes(1, &first, 0, first.len() as u32, &mut io)
          .unwrap();
        assert_eq!(io[IO_FLAGS], 0.0, "{what}");
        read_all(s.link);
      }
      let next = s
        .commits
        .app_bytes(1, &bytes, 0, bytes.len() as u32, &mut io)
        .unwrap();
      assert_eq!(next, 0, "{what}");
      assert_eq!(io[IO_FLAGS] as u32 & COMMIT_RELEASE, COMMIT_RELEASE, "{what}");
      assert!(read_all(s.link).is_empty(), "{what}");
      let st = s.commits.release_app(1).pop().unwrap();
      assert_eq!(st.in_flight != 0, in_flight, "{what}");
      if in_flight {
        assert_eq!(
          (
            st.flight_callbacks.clone(),
            st.flight_feedbacks.clone(),
            st.flight_buffer
          ),
          (vec![40], vec![41], BUFFERS[0])
        );
      }
    }
  }

  #[test]
  fn hostile_bytes_never_panic_and_stop_at_a_message_boundary() {
    use crate::codec::content::Rng;
    use crate::fuzz::Budget;
    let budget = Budget::from_env(1000, 0xc0331);
    let mut rng = Rng(budget.seed);
    let mut inputs = 0u64;
    let mut s = setup();
    while budget.more(inputs) {
      inputs += 1;
      if s.commits.surfaces.is_empty() || inputs.is_multiple_of(32) {
        s = setup();
      }
      let from_app = rng.next().is_multiple_of(2);
      let mut msgs = if from_app {
        commit_messages(
          BUFFERS[(rng.next() % 2) as usize],
          [rng.next() % W, rng.next() % H, 9, 9],
          40,
          41,
        )
      } else {
        let mut m = Vec::new();
        waltham(&mut m, 41, FIRST_ID + 1, &[1, 2, 3, 4, 5]);
        waltham(&mut m, 2, FIRST_ID, &[9]);
        waltham(&mut m, 3, 1, &[FIRST_ID]);
        m
      };
      for _ in 0..1 + rng.next() % 6 {
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
      let mut io = [0.0; COMMIT_IO_LEN];
      let end = msgs.len() as u32;
      let next = if from_app {
        s.commits.app_bytes(1, &msgs, 0, end, &mut io).unwrap()
      } else {
        s.commits.link_bytes(1, &msgs, 0, end, &mut io).unwrap()
      };
      // What it took is whole messages, as their headers say.
      let mut at = 0usize;
      while at < next as usize {
        let size = if from_app {
          (rd32(&msgs, at + 4) >> 16) as usize
        } else {
          rd16(&msgs, at + 2)
        };
        assert!(size >= 8);
        at += size;
      }
      assert_eq!(at, next as usize);
      read_all(s.link);
      read_all(s.app);
    }
  }
}
