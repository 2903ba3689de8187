//! The transmitter's half of the tile pipeline (shared/remote/tiles.ts) in one pass per commit.
//!
//! A `FrameEncoder` keeps the mirror of what the receiver has for one surface. `encode` takes the
//! new pixels (any stride: a view of the client's own buffer will do), the commit's damage and the
//! codecs the receiver decodes, and writes the finished `wthp_content.tile` messages straight into
//! an output buffer the caller hands to the socket: the grid tiles the damage touches are compared
//! with the mirror (a band of tiles row by row, across the tiles not yet seen to change, so
//! unchanged rows are read in order), a changed uniform tile becomes one `solid` pixel (merged with
//! its uniform neighbours), the other changed tiles merge into horizontal runs cut to their changed
//! rows and to the damage, a run goes out in bands that fit a Waltham message, each band as the
//! smallest of `lz4_spans` (its changed pixels), LZ4 of its pixels, or raw (for an xrgb8888 source
//! whose receiver takes them, LZ4 and raw of its pixels packed to 3 bytes: `lz4_rgb`, `raw_rgb`,
//! rgb24.rs), and the mirror is brought up to date. Before that, a damaged area whose rows moved up
//! or down (a scroll, scroll.rs) is sent as one `copy` tile of the pixels the receiver has, and the
//! mirror moved the same way, so that only the rows that are new remain to diff. One call, no
//! allocation per tile, no JavaScript per tile.
//!
//! The Waltham message layout (../shared/vectors/waltham/README.md): an 8-byte header of four
//! little-endian u16 (0, total size, opcode, 0), the target object id, then the arguments, each
//! padded to 4 bytes; `data` is a u32 length, the bytes and padding whose bytes repeat the
//! reference writer's "N" count. Opcode and codec numbers come from the caller, who takes them
//! from the generated protocol tables: nothing of the wire is copied here.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use napi::bindgen_prelude::{
  AsyncTask, Float64ArraySlice, Int32Array, Int32ArraySlice, Uint8Array, Uint8ArraySlice,
};
use napi::{Env, Task};
use napi_derive::napi;

use crate::codec::{self, Codec};
use crate::error::{error, invalid, Result};
use crate::mirror::Mirror;
use crate::pixels::{check_rect, copy, disjoint, row, span_stream_rows, uniform, views, Rect};
use crate::rgb24;
use crate::scroll::{self, Search};

/// Bytes of a tile message besides its data: header 8, target 4, surface 4, x/y/width/height/
/// codec 20, data length 4.
pub const TILE_OVERHEAD: usize = 40;
/// Largest Waltham message, header included.
pub const MAX_MESSAGE: usize = 65535;
/// Largest tile data that keeps the message (with padding) within the limit.
pub const MAX_TILE_DATA: usize = (MAX_MESSAGE - TILE_OVERHEAD) & !3;
/// Above this share of the raw size the span stream of a band is dense (most pixels changed)
/// and LZ4 of the plain pixels is tried as well.
const DENSE_SPANS: f64 = 0.75;
/// A band whose best encoding is above this share of its raw size is taken for incompressible:
/// the rest of its run goes raw. With zstd (chosen when the link is the bottleneck) every tenth
/// saved counts; with LZ4 a band that saves less than a quarter costs more CPU on both sides
/// than its bytes cost the link (video with camera grain: LZ4 keeps about 91 %).
const INCOMPRESSIBLE_ZSTD: f64 = 0.9;
const INCOMPRESSIBLE_LZ4: f64 = 0.75;
/// Frames in a row that found nothing to gain (no scroll; nothing LZ4 could shrink) after which
/// the search or the compression is left out for the most frames (2^3 - 1 = 7).
const BACK_OFF: u32 = 3;

/// Work left out after frames it did not pay: after the 1st, 2nd, 3rd such frame in a row, for
/// the next 1, 3, then 7 frames, so it is tried again within 8.
#[derive(Default)]
struct BackOff {
  misses: u32,
  skip: u32,
}

impl BackOff {
  /// Whether this frame leaves the work out (counted down).
  fn skips(&mut self) -> bool {
    if self.skip == 0 {
      return false;
    }
    self.skip -= 1;
    true
  }

  fn paid(&mut self) {
    *self = BackOff::default();
  }

  fn missed(&mut self) {
    self.misses = (self.misses + 1).min(BACK_OFF);
    self.skip = (1 << self.misses) - 1;
  }
}

/// The wire numbers the encoder writes, from the generated protocol tables.
#[napi(object)]
#[derive(Clone, Copy)]
pub struct FrameWire {
  /// Opcode of `wthp_content.tile`.
  pub tile_opcode: u32,
  pub codec_raw: u32,
  pub codec_lz4: u32,
  pub codec_zstd: u32,
  pub codec_solid: u32,
  pub codec_lz4_spans: u32,
  pub codec_copy: u32,
  /// `raw_rgb` and `lz4_rgb`: 3-byte pixels, for xrgb8888 sources only (the caller leaves them
  /// out of the codec mask of an argb8888 source).
  pub codec_raw_rgb: u32,
  pub codec_lz4_rgb: u32,
}

/// What one `encode` wrote.
#[napi(object)]
#[derive(Default)]
pub struct FrameStats {
  /// Bytes of messages written at the start of the output.
  pub bytes: f64,
  /// Tile messages written.
  pub tiles: u32,
  /// Grid tiles inside the damage whose pixels changed.
  pub changed_tiles: u32,
  /// Grid tiles inside the damage whose pixels the receiver already had.
  pub unchanged_tiles: u32,
  /// Bytes of the pixels the tiles cover, before encoding.
  pub raw_bytes: f64,
  /// Pixels sent as a `copy` of pixels the receiver had (a scroll).
  pub copied_pixels: f64,
  /// The receiver's buffer starts over from transparent black (a new size, or the first encode
  /// after `reset`): all of the image was sent, whatever the damage.
  pub reset: bool,
}

/// Numbers `encode` writes to its `stats` array: the fields of `FrameStats` in their order
/// (`reset` as 1 or 0).
const STATS_LEN: usize = 7;

impl FrameStats {
  fn write_to(&self, out: &mut [f64]) {
    let values = [
      self.bytes,
      self.tiles as f64,
      self.changed_tiles as f64,
      self.unchanged_tiles as f64,
      self.raw_bytes,
      self.copied_pixels,
      if self.reset { 1.0 } else { 0.0 },
    ];
    out[..STATS_LEN].copy_from_slice(&values);
  }
}

/// A uniform rectangle waiting to be written (it may still grow right or down).
#[derive(Clone, Copy)]
struct Solid {
  r: Rect,
  pixel: u32,
  dead: bool,
}

/// The output buffer, written front to back; every write is bounds-checked.
struct Out<'a> {
  buf: &'a mut [u8],
  at: usize,
}

impl Out<'_> {
  fn overflow() -> crate::error::Error {
    error(
      "ENOBUFS",
      "FrameEncoder.encode: the output buffer is too small for this frame",
    )
  }

  /// Starts a tile message: reserves its fixed part, returns where it starts.
  fn begin_tile(
    &mut self,
    wire: &FrameWire,
    target: u32,
    surface: u32,
    r: Rect,
    codec: u32,
  ) -> Result<usize> {
    let start = self.at;
    let head = self
      .buf
      .get_mut(start..start + TILE_OVERHEAD)
      .ok_or_else(Out::overflow)?;
    let words: [u32; 8] = [
      target, surface, r.x as u32, r.y as u32, r.w as u32, r.h as u32, codec, 0,
    ];
    head[0..2].copy_from_slice(&0u16.to_le_bytes());
    // size (2..4) is written by `end_tile`
    head[4..6].copy_from_slice(&(wire.tile_opcode as u16).to_le_bytes());
    head[6..8].copy_from_slice(&0u16.to_le_bytes());
    for (i, w) in words.iter().enumerate() {
      head[8 + 4 * i..12 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    self.at = start + TILE_OVERHEAD;
    Ok(start)
  }

  /// Room for up to `cap` data bytes of the message being written.
  fn data(&mut self, cap: usize) -> Result<&mut [u8]> {
    let end = self.at.checked_add(cap).ok_or_else(Out::overflow)?;
    self.buf.get_mut(self.at..end).ok_or_else(Out::overflow)
  }

  /// Ends the tile started at `start` as `codec` (which may differ from the one `begin_tile`
  /// wrote) with `len` data bytes.
  fn end_tile_as(&mut self, start: usize, codec: u32, len: usize) -> Result<()> {
    // The codec word of the message (target, surface, x, y, w, h, codec).
    self.buf[start + 32..start + 36].copy_from_slice(&codec.to_le_bytes());
    self.end_tile(start, len)
  }

  /// Ends the message started at `start` with `len` data bytes written by `data`.
  fn end_tile(&mut self, start: usize, len: usize) -> Result<()> {
    let padded = (len + 3) & !3;
    let size = TILE_OVERHEAD + padded;
    debug_assert!(size <= MAX_MESSAGE);
    // N: the reference writer's scatter-list count (header 2, six words, data 2 or 3).
    let n: u32 = 2 + 6 + if len.is_multiple_of(4) { 2 } else { 3 };
    let pad_bytes = n.to_le_bytes();
    let tail = self.buf.get_mut(start..start + size).ok_or_else(Out::overflow)?;
    tail[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    tail[TILE_OVERHEAD - 4..TILE_OVERHEAD].copy_from_slice(&(len as u32).to_le_bytes());
    for (i, b) in tail[TILE_OVERHEAD + len..size].iter_mut().enumerate() {
      *b = pad_bytes[i];
    }
    self.at = start + size;
    Ok(())
  }
}

/// For each of `cells` (the compared parts of grid tiles in one band: the same rows, left to
/// right, none of them inside `copied`), the first and one-past-last row of the cell where `src`
/// and `mirror` differ, into `out` at the cell's tile column (left `None` when nothing differs).
/// The pixels of `copied` are left out: they were compared when the copy was found. Rows are
/// compared across adjacent cells at once, down to the row where each cell first differs (a
/// title bar, a margin or an unchanged line is one comparison a row, read in order); the last row
/// of a changed cell is then looked for from the bottom up.
fn band_changes(
  src: &[u8],
  src_stride: usize,
  mirror: &Mirror,
  cells: &[(usize, Rect)],
  copied: Option<Rect>,
  out: &mut [Option<(usize, usize)>],
) {
  let Some(&(_, band)) = cells.first() else {
    return;
  };
  let (y0, h) = (band.y, band.h);
  // Whether pixels x0..x1 of row y differ, the copy's columns left out where it covers row y.
  let differs = |y: usize, x0: usize, x1: usize| {
    let part = |a: usize, b: usize| {
      a < b && src[y * src_stride + 4 * a..y * src_stride + 4 * b] != *mirror.px(y, a, b - a)
    };
    match copied.filter(|c| c.y <= y && y < c.y + c.h) {
      Some(c) => part(x0, x1.min(c.x)) || part(x0.max(c.x + c.w), x1),
      None => part(x0, x1),
    }
  };
  // Cells (indices into `cells`) not yet seen to differ.
  let mut open: Vec<usize> = (0..cells.len()).collect();
  for i in 0..h {
    if open.is_empty() {
      break;
    }
    let y = y0 + i;
    let (mut k, mut found) = (0, false);
    while k < open.len() {
      // A run of adjacent open cells: one comparison, then each cell when the run differs.
      let mut e = k + 1;
      while e < open.len() && cells[open[e - 1]].1.x + cells[open[e - 1]].1.w == cells[open[e]].1.x {
        e += 1;
      }
      let last = cells[open[e - 1]].1;
      if differs(y, cells[open[k]].1.x, last.x + last.w) {
        for &u in &open[k..e] {
          let (tx, c) = cells[u];
          if e - k == 1 || differs(y, c.x, c.x + c.w) {
            out[tx] = Some((i, i + 1));
            found = true;
          }
        }
      }
      k = e;
    }
    if found {
      open.retain(|&u| out[cells[u].0].is_none());
    }
  }
  for &(tx, c) in cells {
    if let Some((first, _)) = out[tx] {
      let last = (first + 1..h)
        .rev()
        .find(|&i| differs(y0 + i, c.x, c.x + c.w))
        .unwrap_or(first);
      out[tx] = Some((first, last + 1));
    }
  }
}

/// Copies the rows of `r` in `src` (any stride) to `out`, packed.
fn pack(src: &[u8], src_stride: usize, r: Rect, out: &mut [u8]) {
  let row_bytes = r.w * 4;
  for i in 0..r.h {
    out[i * row_bytes..(i + 1) * row_bytes].copy_from_slice(&src[row(src_stride, r, i)]);
  }
}

/// The smallest rectangle holding all of `rects` (which are not empty).
fn bounds(rects: &[Rect]) -> Rect {
  let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
  for r in rects {
    (x0, y0) = (x0.min(r.x), y0.min(r.y));
    (x1, y1) = (x1.max(r.x + r.w), y1.max(r.y + r.h));
  }
  if x1 <= x0 || y1 <= y0 {
    return Rect {
      x: 0,
      y: 0,
      w: 0,
      h: 0,
    };
  }
  Rect {
    x: x0,
    y: y0,
    w: x1 - x0,
    h: y1 - y0,
  }
}

struct Pass<'a> {
  wire: &'a FrameWire,
  target: u32,
  surface: u32,
  codecs: u32,
  max_data: usize,
  src: &'a [u8],
  src_stride: usize,
  mirror: &'a mut Mirror,
  width: usize,
  out: Out<'a>,
  spans: &'a mut [u8],
  plain: &'a mut [u8],
  packed: &'a mut [u8],
  /// Whether runs try the spans and LZ4 (else they go raw at once).
  compress: bool,
  /// In this frame: a band compressed well; a band that tried went raw.
  saved: bool,
  gave_up: bool,
  stats: FrameStats,
}

impl Pass<'_> {
  fn has(&self, codec: u32) -> bool {
    codec < 32 && self.codecs & (1 << codec) != 0
  }

  /// Sends rectangle `r` of a run as bands of at most `max_data` raw bytes, each with the
  /// smallest codec, and brings the mirror up to date. A codec that saved nothing on a band is
  /// not tried again on the rest of the run, nor are the spans once the plain pixels beat them;
  /// once a band saves less than a tenth the rest goes raw (noise: trying costs a pass per codec
  /// and saves nothing).
  fn run(&mut self, r: Rect) -> Result<()> {
    let row_bytes = r.w * 4;
    let max_rows = (self.max_data / row_bytes).max(1);
    let band_rows = r.h.div_ceil(r.h.div_ceil(max_rows));
    let wire = *self.wire;
    let mut use_spans = self.compress && self.has(wire.codec_lz4_spans);
    // An xrgb8888 source whose receiver takes 3-byte pixels (the caller only allows them then):
    // raw bands go `raw_rgb`, and LZ4 compresses the pixels packed to 3 bytes (`lz4_rgb`).
    // A band with a pixel whose 4th byte is not 0xff goes in 4-byte pixels, and so does the rest
    // of its run: compositors differ in what they show of that byte (weston 10 shows the pixel
    // black), so the receiver must get it as the application wrote it.
    let mut rgb = self.has(wire.codec_raw_rgb);
    let mut raw_id = if rgb { wire.codec_raw_rgb } else { wire.codec_raw };
    // The pixels' compressor: zstd when the caller allows it (a slow link; it codes the 4th byte
    // almost for free), else LZ4.
    let (plain_codec, mut plain_id) = if self.has(wire.codec_zstd) {
      (Codec::Zstd, wire.codec_zstd)
    } else if self.has(wire.codec_lz4_rgb) {
      (Codec::Lz4, wire.codec_lz4_rgb)
    } else {
      (Codec::Lz4, wire.codec_lz4)
    };
    let mut plain_rgb = plain_codec == Codec::Lz4 && plain_id == wire.codec_lz4_rgb;
    let mut use_lz4 = self.compress && self.has(plain_id);
    let incompressible = if plain_codec == Codec::Zstd {
      INCOMPRESSIBLE_ZSTD
    } else {
      INCOMPRESSIBLE_LZ4
    };
    let mut by = r.y;
    while by < r.y + r.h {
      let bh = band_rows.min(r.y + r.h - by);
      let band = Rect {
        x: r.x,
        y: by,
        w: r.w,
        h: bh,
      };
      by += bh;
      let raw = row_bytes * bh;
      if rgb && !use_spans && !use_lz4 {
        // The run goes raw in 3-byte pixels: packed straight into the message (room for 4-byte
        // ones, should a pixel not be opaque), each source row copied to the mirror while it is
        // in the cache.
        let msg = self
          .out
          .begin_tile(&wire, self.target, self.surface, band, raw_id)?;
        let dst = self.out.data(raw)?;
        let mut opaque = true;
        for i in 0..bh {
          let s = &self.src[row(self.src_stride, band, i)];
          opaque &= rgb24::pack_row(s, &mut dst[i * r.w * 3..(i + 1) * r.w * 3]);
          self.mirror.px_mut(band.y + i, band.x, band.w).copy_from_slice(s);
        }
        let len = if opaque {
          raw / 4 * 3
        } else {
          // A pixel whose 4th byte counts: this band and the rest of the run in 4-byte pixels.
          rgb = false;
          raw_id = wire.codec_raw;
          pack(self.src, self.src_stride, band, dst);
          raw
        };
        self.out.end_tile_as(msg, raw_id, len)?;
        self.stats.tiles += 1;
        continue;
      }
      let tried = use_spans || use_lz4;
      // What `plain` holds of this band: nothing, its 4-byte or its 3-byte pixels.
      let mut in_plain: Option<bool> = None;
      if rgb {
        if rgb24::pack(self.src, self.src_stride, band, &mut self.plain[..raw / 4 * 3]) {
          in_plain = Some(true);
        } else {
          rgb = false;
          raw_id = wire.codec_raw;
          if plain_rgb {
            plain_rgb = false;
            plain_id = wire.codec_lz4;
            use_lz4 = use_lz4 && self.has(plain_id);
          }
        }
      }
      // What the band costs sent raw, in 4- or 3-byte pixels: every codec must beat it.
      let raw_out = if rgb { raw / 4 * 3 } else { raw };
      // The spans of the changed pixels, LZ4-compressed into `packed`.
      let mut best: Option<(u32, usize)> = None; // the span encoding, in `packed`
      let mut dense = true;
      if use_spans {
        let (src, src_stride, mirror) = (self.src, self.src_stride, &*self.mirror);
        match span_stream_rows(
          |i| &src[row(src_stride, band, i)],
          |i| mirror.row_of(band, i),
          band.w,
          band.h,
          &mut self.spans[..raw - 1],
        ) {
          Some(0) => continue, // nothing changed in these rows
          Some(n) => {
            dense = n as f64 > DENSE_SPANS * raw as f64;
            if let Some(m) = codec::compress(Codec::Lz4, &self.spans[..n], &mut self.packed[..raw_out - 1], 0)
            {
              best = Some((wire.codec_lz4_spans, m));
            }
          }
          None => {}
        }
        if best.is_none() {
          use_spans = false;
        }
      }
      // The band's rows are contiguous in the source: its 4-byte pixels are a view of it.
      let contiguous = band.x == 0 && r.w == self.width && self.src_stride == row_bytes;
      let start = band.y * self.src_stride;
      let msg = self
        .out
        .begin_tile(&wire, self.target, self.surface, band, raw_id)?;
      let mut written: Option<(u32, usize)> = None;
      if use_lz4 && (best.is_none() || dense) {
        let limit = best.map_or(raw_out, |(_, n)| n) - 1;
        if limit > 0 {
          let plain: &[u8] = if plain_rgb {
            &self.plain[..raw / 4 * 3] // packed above
          } else if contiguous {
            &self.src[start..start + raw]
          } else {
            pack(self.src, self.src_stride, band, &mut self.plain[..raw]);
            in_plain = Some(false);
            &self.plain[..raw]
          };
          // Straight into the message.
          let dst = self.out.data(limit)?;
          if let Some(n) = codec::compress(plain_codec, plain, dst, 1) {
            written = Some((plain_id, n));
          }
        }
        if written.is_none() && best.is_none() {
          use_lz4 = false;
        }
      }
      let (codec, len) = match (written, best) {
        (Some(w), _) => w,
        (None, Some((codec, n))) => {
          self.out.data(n)?.copy_from_slice(&self.packed[..n]);
          (codec, n)
        }
        (None, None) => {
          let dst = self.out.data(raw_out)?;
          match (rgb, in_plain) {
            (true, Some(true)) | (false, Some(false)) => dst.copy_from_slice(&self.plain[..raw_out]),
            (true, _) => {
              rgb24::pack(self.src, self.src_stride, band, dst);
            }
            (false, _) if contiguous => dst.copy_from_slice(&self.src[start..start + raw]),
            (false, _) => pack(self.src, self.src_stride, band, dst),
          }
          (raw_id, raw_out)
        }
      };
      if codec == raw_id || len as f64 > incompressible * raw_out as f64 {
        self.gave_up |= tried;
        use_spans = false;
        use_lz4 = false;
      } else {
        self.saved = true;
        if codec == plain_id && best.is_some() {
          // Most pixels change (scrolling, video): the plain pixels won over the spans; the rest
          // of the run skips the span pass and its compression.
          use_spans = false;
        }
      }
      self.out.end_tile_as(msg, codec, len)?;
      self.stats.tiles += 1;
      self.mirror.copy_from(self.src, self.src_stride, band);
    }
    Ok(())
  }
}

/// What a frame encoder keeps between frames: the mirror of what the receiver has for one
/// surface, and scratch space. Locked by each encode, which may run on a worker thread.
struct EncoderState {
  mirror: Mirror,
  width: usize,
  height: usize,
  spans: Vec<u8>,
  plain: Vec<u8>,
  packed: Vec<u8>,
  /// Grid tiles whose mirror pixels are unknown (`forget`): the next encode that damages one
  /// sends all of its pixels.
  stale: Vec<bool>,
  /// The scroll search, after frames of new content all over.
  scroll: BackOff,
  /// The shift of the last scroll found (mirror row - new row), tried first by the next search.
  last_shift: Option<isize>,
  /// The spans and LZ4, after frames where every run that tried them went raw.
  lz4: BackOff,
  /// Bytes of the last frame encoded over this mirror: what the next one likely takes.
  last_bytes: Option<usize>,
}

impl EncoderState {
  fn needs_reset(&self, width: usize, height: usize) -> bool {
    self.mirror.is_empty() || width != self.width || height != self.height
  }

  /// Forget what the receiver has: the next encode sends everything.
  fn forget_mirror(&mut self) {
    self.mirror = Mirror::default();
    self.stale = Vec::new();
    self.width = 0;
    self.height = 0;
    self.last_bytes = None;
  }
}

/// What does not change between frames.
#[derive(Clone, Copy)]
struct EncoderConfig {
  wire: FrameWire,
  tile: usize,
  max_data: usize,
}

/// The mirror of one surface on one receiver, and the one-pass encoder that keeps it.
#[napi]
pub struct FrameEncoder {
  cfg: EncoderConfig,
  state: Arc<Mutex<EncoderState>>,
  /// An `encodeAsync` has not settled yet.
  busy: Arc<AtomicBool>,
}

fn busy() -> crate::error::Error {
  error("EBUSY", "FrameEncoder: an encode of this surface is in flight")
}

impl FrameEncoder {
  /// The state, unless an encode holds it (`encodeAsync` in flight).
  fn state(&self) -> Result<MutexGuard<'_, EncoderState>> {
    if self.busy.load(SeqCst) {
      return Err(busy());
    }
    match self.state.try_lock() {
      Ok(st) => Ok(st),
      Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
      Err(TryLockError::WouldBlock) => Err(busy()),
    }
  }
}

/// A handle on a `FrameEncoder`'s mirror for native code that encodes across calls (the
/// transmitter's steady commits): the same mirror, the same lock and busy flag.
pub(crate) struct SharedEncoder {
  cfg: EncoderConfig,
  state: Arc<Mutex<EncoderState>>,
  busy: Arc<AtomicBool>,
}

impl SharedEncoder {
  /// `encode` of `src` (`stride` bytes per row) as tile messages to `target` for `surface`.
  /// `exact`: `src` is a client's buffer, right inside the one damage rectangle only (see
  /// `exact_ready`); nothing else of it is read.
  #[allow(clippy::too_many_arguments)]
  pub(crate) fn encode(
    &self,
    src: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    damage: Option<&[i32]>,
    exact: bool,
    codecs: u32,
    target: u32,
    surface: u32,
    out: &mut [u8],
  ) -> Result<FrameStats> {
    let encoder = FrameEncoder {
      cfg: self.cfg,
      state: Arc::clone(&self.state),
      busy: Arc::clone(&self.busy),
    };
    let mut st = encoder.state()?;
    let frame = Frame::new(
      stride as u32,
      width as u32,
      height as u32,
      codecs,
      target,
      surface,
    );
    encode_frame(&self.cfg, &mut st, src, Frame { exact, ..frame }, damage, out)
  }

  /// Whether an `exact` encode of a `width` x `height` image may run: the mirror holds this size
  /// and every pixel of it is known to be the receiver's (nothing `forget`-ten).
  pub(crate) fn exact_ready(&self, width: usize, height: usize) -> bool {
    match self.state.try_lock() {
      Ok(st) => !self.busy.load(SeqCst) && !st.needs_reset(width, height) && !st.stale.iter().any(|&s| s),
      Err(_) => false,
    }
  }

  /// Copies `r` of the mirror to the same place of `dst` (`stride` bytes per row): what the
  /// receiver has, which is the surface's content where exact encodes wrote it. False when the
  /// mirror is busy or does not cover `r` (nothing is copied then).
  pub(crate) fn copy_mirror(&self, r: Rect, dst: &mut [u8], stride: usize) -> bool {
    let Ok(st) = self.state.try_lock() else {
      return false;
    };
    if self.busy.load(SeqCst)
      || r.x + r.w > st.width
      || r.y + r.h > st.height
      || check_rect("copy_mirror", dst.len(), stride, r).is_err()
    {
      return false;
    }
    st.mirror.copy_to(r, dst, stride);
    true
  }

  /// Forget the mirror: the next encode sends everything.
  pub(crate) fn reset(&self) {
    if let Ok(mut st) = self.state.lock() {
      st.forget_mirror();
    }
  }

  /// Bytes the last encode over a mirror of this size wrote (None: none yet, or busy).
  pub(crate) fn last_bytes(&self, width: usize, height: usize) -> Option<usize> {
    let st = self.state.try_lock().ok()?;
    if self.busy.load(SeqCst) || st.needs_reset(width, height) {
      return None;
    }
    st.last_bytes
  }

  /// Whether the mirror holds an image of this size (else the next encode starts over).
  pub(crate) fn ready(&self, width: usize, height: usize) -> bool {
    match self.state.try_lock() {
      Ok(st) => !self.busy.load(SeqCst) && !st.needs_reset(width, height),
      Err(_) => false,
    }
  }

  /// An output size that always holds one encode of a `width` x `height` image.
  pub(crate) fn bound(&self, width: usize, height: usize) -> usize {
    let tiles = width.div_ceil(self.cfg.tile) * height.div_ceil(self.cfg.tile);
    width * height * 4 + (2 * tiles + height.div_ceil(self.cfg.tile) + 1) * (TILE_OVERHEAD + 4)
  }
}

impl FrameEncoder {
  pub(crate) fn shared(&self) -> SharedEncoder {
    SharedEncoder {
      cfg: self.cfg,
      state: Arc::clone(&self.state),
      busy: Arc::clone(&self.busy),
    }
  }
}

#[napi]
impl FrameEncoder {
  /// `tileSize`: grid size in pixels (at least 4); `maxData`: largest tile data (at most what
  /// fits a Waltham message).
  #[napi(constructor)]
  pub fn new(wire: FrameWire, tile_size: u32, max_data: u32) -> Result<Self> {
    let max_data = (max_data as usize).min(MAX_TILE_DATA);
    let tile = tile_size as usize;
    if tile < 4 || tile * 4 > max_data {
      return Err(invalid(format!("FrameEncoder: tile size {tile} is out of range")));
    }
    Ok(FrameEncoder {
      cfg: EncoderConfig { wire, tile, max_data },
      state: Arc::new(Mutex::new(EncoderState {
        mirror: Mirror::default(),
        width: 0,
        height: 0,
        spans: vec![0; max_data],
        plain: vec![0; max_data],
        packed: vec![0; max_data],
        stale: Vec::new(),
        scroll: BackOff::default(),
        last_shift: None,
        lz4: BackOff::default(),
        last_bytes: None,
      })),
      busy: Arc::new(AtomicBool::new(false)),
    })
  }

  /// Forget what the receiver has: the next encode sends everything.
  #[napi]
  pub fn reset(&self) -> Result<()> {
    self.state()?.forget_mirror();
    Ok(())
  }

  /// Marks the mirror inside `rects` (x, y, width, height quadruples in pixels) as unknown:
  /// the receiver got something else there (a lossy tile). The next encode whose damage
  /// touches one of those grid tiles sends every pixel of it, whatever the mirror held.
  #[napi]
  pub fn forget(&self, rects: Int32ArraySlice<'_>) -> Result<()> {
    if !rects.len().is_multiple_of(4) {
      return Err(invalid(
        "FrameEncoder.forget: rects is not a list of x, y, width, height",
      ));
    }
    let t = self.cfg.tile;
    let mut st = self.state()?;
    if st.mirror.is_empty() {
      return Ok(());
    }
    let (w, h) = (st.width, st.height);
    let cols = w.div_ceil(t);
    for q in rects.chunks_exact(4) {
      let (x0, y0) = (q[0].clamp(0, w as i32) as usize, q[1].clamp(0, h as i32) as usize);
      let x1 = (q[0] as i64 + q[2].max(0) as i64).clamp(0, w as i64) as usize;
      let y1 = (q[1] as i64 + q[3].max(0) as i64).clamp(0, h as i64) as usize;
      if x1 <= x0 || y1 <= y0 {
        continue;
      }
      for ty in y0 / t..=(y1 - 1) / t {
        st.stale[ty * cols + x0 / t..=ty * cols + (x1 - 1) / t].fill(true);
      }
    }
    Ok(())
  }

  /// Whether the next encode of a `width` x `height` image starts a new buffer on the receiver
  /// (from transparent black).
  #[napi]
  pub fn needs_reset(&self, width: u32, height: u32) -> Result<bool> {
    Ok(self.state()?.needs_reset(width as usize, height as usize))
  }

  /// Bytes of the mirror (for memory accounting).
  #[napi(getter)]
  pub fn mirror_bytes(&self) -> Result<f64> {
    Ok(self.state()?.mirror.len() as f64)
  }

  /// An output size that always holds the messages of one encode of a `width` x `height`
  /// image: every pixel raw plus the overhead of two messages per grid tile and one per row.
  #[napi]
  pub fn output_bound(&self, width: u32, height: u32) -> f64 {
    self.shared().bound(width as usize, height as usize) as f64
  }

  /// Encodes what changed in `src` (`width` x `height` pixels, `srcStride` bytes per row) inside
  /// `damage` (x, y, width, height quadruples in buffer pixels; null: everything) as tile messages
  /// to object `target` (the wthp_content) for `surface`, using the codecs of the mask `codecs`
  /// (1 << codec), into `out`, and records it as sent. A new size (see `needsReset`) starts the
  /// mirror from transparent black and implies full damage. Throws ENOBUFS, with the mirror
  /// partly updated, when `out` is smaller than `outputBound`; ERANGE when `src` is too short;
  /// EBUSY while an `encodeAsync` runs. What it wrote goes to `stats` (at least 7 numbers, the
  /// fields of `FrameStats` in their order: no object is made for every frame); EINVAL, before
  /// anything is encoded, when it is shorter.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn encode(
    &self,
    src: Uint8ArraySlice<'_>,
    src_stride: u32,
    width: u32,
    height: u32,
    damage: Option<Int32ArraySlice<'_>>,
    codecs: u32,
    target: u32,
    surface: u32,
    mut out: Uint8ArraySlice<'_>,
    mut stats: Float64ArraySlice<'_>,
  ) -> Result<()> {
    if stats.len() < STATS_LEN {
      return Err(invalid(format!(
        "FrameEncoder.encode: stats has {} numbers, {STATS_LEN} needed",
        stats.len()
      )));
    }
    let written = {
      let (src, out) = views("FrameEncoder.encode", &src, &mut out)?;
      let mut st = self.state()?;
      let frame = Frame::new(src_stride, width, height, codecs, target, surface);
      encode_frame(&self.cfg, &mut st, src, frame, damage.as_deref(), out)?
    };
    // SAFETY: valid during this synchronous call; written only once the views above are gone,
    // so an array that shares memory with `src` or `out` aliases nothing while they are used.
    written.write_to(unsafe { stats.as_mut() });
    Ok(())
  }

  /// `encode` on a worker thread of libuv's pool: resolves with its stats, or rejects with its
  /// error. Until it settles, `src` and `out` must not be written (nor `out` read) and every
  /// other call of this encoder throws EBUSY.
  #[napi(ts_return_type = "Promise<FrameStats>")]
  #[allow(clippy::too_many_arguments)]
  pub fn encode_async(
    &self,
    src: Uint8Array,
    src_stride: u32,
    width: u32,
    height: u32,
    damage: Option<Int32Array>,
    codecs: u32,
    target: u32,
    surface: u32,
    out: Uint8Array,
  ) -> Result<AsyncTask<EncodeTask>> {
    {
      let input: &[u8] = &src;
      let output: &[u8] = &out;
      if !disjoint(input, output) {
        return Err(invalid("FrameEncoder.encodeAsync: input and output overlap"));
      }
    }
    drop(self.state()?);
    // Busy from now until the promise settles, not only while the worker runs.
    self.busy.store(true, SeqCst);
    let frame = Frame::new(src_stride, width, height, codecs, target, surface);
    Ok(AsyncTask::new(EncodeTask {
      cfg: self.cfg,
      state: Arc::clone(&self.state),
      busy: Arc::clone(&self.busy),
      src,
      out,
      damage,
      frame,
    }))
  }
}

/// One frame's geometry and addressing.
#[derive(Clone, Copy)]
struct Frame {
  src_stride: usize,
  w: usize,
  h: usize,
  codecs: u32,
  target: u32,
  surface: u32,
  /// `src` holds the surface's pixels inside the damage only (a client's buffer, whose rest may
  /// be older than what was shown): nothing outside the one damage rectangle is read.
  exact: bool,
}

impl Frame {
  /// From the arguments of `encode` and `encodeAsync`.
  fn new(src_stride: u32, width: u32, height: u32, codecs: u32, target: u32, surface: u32) -> Frame {
    Frame {
      src_stride: src_stride as usize,
      w: width as usize,
      h: height as usize,
      codecs,
      target,
      surface,
      exact: false,
    }
  }
}

/// The work of one `encodeAsync`.
pub struct EncodeTask {
  cfg: EncoderConfig,
  state: Arc<Mutex<EncoderState>>,
  busy: Arc<AtomicBool>,
  src: Uint8Array,
  out: Uint8Array,
  damage: Option<Int32Array>,
  frame: Frame,
}

impl Task for EncodeTask {
  type Output = FrameStats;
  type JsValue = FrameStats;

  fn compute(&mut self) -> napi::Result<FrameStats> {
    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the caller does not touch `out` until the promise settles (see encodeAsync), and
    // it does not overlap `src` (checked there).
    let out = unsafe { self.out.as_mut() };
    let damage: Option<&[i32]> = self.damage.as_deref();
    encode_frame(&self.cfg, &mut st, &self.src, self.frame, damage, out).map_err(|e| {
      napi::Error::new(
        napi::Status::GenericFailure,
        format!("{}: {}", e.status.0, e.reason),
      )
    })
  }

  fn resolve(&mut self, _env: Env, stats: FrameStats) -> napi::Result<FrameStats> {
    Ok(stats)
  }

  fn finally(self, _env: Env) -> napi::Result<()> {
    self.busy.store(false, SeqCst);
    Ok(())
  }
}

/// The one pass of `encode`; see there.
fn encode_frame(
  cfg: &EncoderConfig,
  st: &mut EncoderState,
  src: &[u8],
  frame: Frame,
  damage: Option<&[i32]>,
  out: &mut [u8],
) -> Result<FrameStats> {
  let Frame {
    src_stride,
    w,
    h,
    codecs,
    target,
    surface,
    exact,
  } = frame;
  if w == 0 || h == 0 {
    return Ok(FrameStats {
      reset: st.needs_reset(w, h),
      ..FrameStats::default()
    });
  }
  if src_stride < w * 4 {
    return Err(invalid(format!(
      "FrameEncoder.encode: stride {src_stride} is less than {w} pixels"
    )));
  }
  check_rect(
    "FrameEncoder.encode source",
    src.len(),
    src_stride,
    Rect { x: 0, y: 0, w, h },
  )?;
  let d: &[i32] = damage.unwrap_or(&[]);
  if !d.len().is_multiple_of(4) {
    return Err(invalid(
      "FrameEncoder.encode: damage is not a list of x, y, width, height",
    ));
  }
  let mut full = damage.is_none();
  let full_reset = st.needs_reset(w, h);
  // Tiles the receiver may not have as the mirror says (forgotten after lossy ones).
  let forgotten = st.stale.iter().any(|&s| s);
  if exact && (full || full_reset || d.len() > 4 || forgotten) {
    return Err(invalid(
      "FrameEncoder.encode: an exact encode needs one damage rectangle and a mirror in step",
    ));
  }
  if full_reset {
    st.mirror = Mirror::new(w, h);
    st.stale = vec![false; w.div_ceil(cfg.tile) * h.div_ceil(cfg.tile)];
    st.width = w;
    st.height = h;
    st.scroll.paid();
    st.lz4.paid();
    full = true;
  }
  let rects: Vec<Rect> = if full {
    vec![Rect { x: 0, y: 0, w, h }]
  } else {
    d.chunks_exact(4)
      .filter_map(|q| {
        let (x0, y0) = (q[0].max(0) as usize, q[1].max(0) as usize);
        let x1 = (q[0] as i64 + q[2].max(0) as i64).clamp(0, w as i64) as usize;
        let y1 = (q[1] as i64 + q[3].max(0) as i64).clamp(0, h as i64) as usize;
        (x1 > x0 && y1 > y0).then_some(Rect {
          x: x0,
          y: y0,
          w: x1 - x0,
          h: y1 - y0,
        })
      })
      .collect()
  };
  let t = cfg.tile;
  let (cols, rows) = (w.div_ceil(t), h.div_ceil(t));
  // Grid tiles the damage touches, and per tile row the columns it spans (content changes
  // only inside the damage: runs are cut to it).
  let mut candidate = vec![false; cols * rows];
  let mut left = vec![w; rows];
  let mut right = vec![0usize; rows];
  let mut top = vec![h; rows];
  let mut bottom = vec![0usize; rows];
  for r in &rects {
    for ty in r.y / t..=(r.y + r.h - 1) / t {
      candidate[ty * cols + r.x / t..=ty * cols + (r.x + r.w - 1) / t].fill(true);
      left[ty] = left[ty].min(r.x);
      right[ty] = right[ty].max(r.x + r.w);
      top[ty] = top[ty].min(r.y.max(ty * t));
      bottom[ty] = bottom[ty].max((r.y + r.h).min((ty + 1) * t));
    }
  }
  let wire = cfg.wire;
  let solid_ok = codecs & (1 << wire.codec_solid) != 0;
  // Frames that LZ4 could not shrink anywhere (video grain, noise) are usually followed by more:
  // after such a frame the next 1, then 3, then 7 go raw without trying, so content that becomes
  // compressible is compressed again within 8 frames. Not with zstd, chosen when the link is the
  // bottleneck: there every byte saved counts more than the CPU.
  let lz4 = !(wire.codec_zstd < 32 && codecs & (1 << wire.codec_zstd) != 0);
  let compress = !lz4 || !st.lz4.skips();
  let mut pass = Pass {
    wire: &wire,
    target,
    surface,
    codecs,
    max_data: cfg.max_data,
    src,
    src_stride,
    mirror: &mut st.mirror,
    width: w,
    out: Out { buf: out, at: 0 },
    spans: &mut st.spans,
    plain: &mut st.plain,
    packed: &mut st.packed,
    compress,
    saved: false,
    gave_up: false,
    stats: FrameStats {
      reset: full_reset,
      ..FrameStats::default()
    },
  };
  // A scroll: one copy tile, the mirror moved alike; the grid tiles it covers are then the same.
  let mut copied: Option<Rect> = None;
  let copy_ok = codecs & (1 << wire.codec_copy) != 0 && wire.codec_copy < 32;
  if copy_ok && !full_reset && !forgotten {
    let area = bounds(&rects);
    if area.w >= t && area.h >= t && !st.scroll.skips() {
      let found = scroll::find(src, src_stride, pass.mirror, area, st.last_shift);
      // New content all over (video, noise) seldom starts to scroll in the next frame: after
      // such a frame the search is left out for 1, then 3, then 7 frames, so a scroll that
      // starts is found within 8 and a frame that moved nothing does not pay for a search
      // through every row of the mirror. Frames that changed only a few rows do not count.
      match found {
        Search::Found(_) => st.scroll.paid(),
        Search::NotMoved => st.scroll.missed(),
        Search::Unsure => {}
      }
      if let Some(s) = found.found() {
        st.last_shift = Some(s.src_y as isize - s.dst.y as isize);
        let msg = pass
          .out
          .begin_tile(&wire, target, surface, s.dst, wire.codec_copy)?;
        let data = pass.out.data(8)?;
        data[..4].copy_from_slice(&(s.dst.x as u32).to_le_bytes());
        data[4..].copy_from_slice(&(s.src_y as u32).to_le_bytes());
        pass.out.end_tile(msg, 8)?;
        pass.stats.tiles += 1;
        pass.stats.copied_pixels = (s.dst.w * s.dst.h) as f64;
        pass.mirror.move_rows(s.dst, s.src_y);
        copied = Some(s.dst);
      }
    }
  }
  let inside = |cell: Rect| {
    copied.is_some_and(|c| {
      cell.x >= c.x && cell.y >= c.y && cell.x + cell.w <= c.x + c.w && cell.y + cell.h <= c.y + c.h
    })
  };
  let mut solids: Vec<Solid> = Vec::new();
  let mut above: Vec<usize> = Vec::new();
  // The grid tile at column tx, row ty, or with `exact` the damage's part of it only: the rest
  // of the buffer is not the surface's.
  let cell_at = |tx: usize, ty: usize| {
    let (x, y) = (tx * t, ty * t);
    let (tw, th) = (t.min(w - x), t.min(h - y));
    if exact {
      let (x0, x1) = (x.max(left[ty]), (x + tw).min(right[ty]));
      Rect {
        x: x0,
        y: top[ty],
        w: x1 - x0,
        h: bottom[ty] - top[ty],
      }
    } else {
      Rect { x, y, w: tw, h: th }
    }
  };
  // Per tile column of the band being encoded: its cell and whether the copy covers it (None:
  // not a candidate).
  let mut band: Vec<Option<(Rect, bool)>> = Vec::new();
  let mut cells: Vec<(usize, Rect)> = Vec::new();
  let mut changes: Vec<Option<(usize, usize)>> = Vec::new();
  for ty in 0..rows {
    let y = ty * t;
    let th = t.min(h - y);
    let mut here: Vec<usize> = Vec::new();
    let mut last_solid: Option<usize> = None;
    // The run of changed, non-uniform tiles being gathered: x, width, changed rows.
    let (mut run_x, mut run_w, mut run_top, mut run_bottom) = (0usize, 0usize, th, 0usize);
    let (l, rgt) = (left[ty], right[ty]);
    let close = |pass: &mut Pass,
                 run_x: &mut usize,
                 run_w: &mut usize,
                 top: &mut usize,
                 bottom: &mut usize|
     -> Result<()> {
      let x0 = (*run_x).max(l);
      let x1 = (*run_x + *run_w).min(rgt);
      if *run_w > 0 && x1 > x0 && *bottom > *top {
        pass.run(Rect {
          x: x0,
          y: y + *top,
          w: x1 - x0,
          h: *bottom - *top,
        })?;
      }
      (*run_w, *top, *bottom) = (0, th, 0);
      Ok(())
    };
    // The cells of this band that are compared: the damage's part of each grid tile it
    // touches, the tiles the copy covers left out.
    cells.clear();
    band.clear();
    band.resize(cols, None);
    for tx in (0..cols).filter(|&tx| candidate[ty * cols + tx]) {
      let cell = cell_at(tx, ty);
      if st.stale[ty * cols + tx] {
        // Unknown on the receiver: a mirror that differs from every source byte sends it all.
        st.stale[ty * cols + tx] = false;
        for i in 0..cell.h {
          let s = row(src_stride, cell, i);
          for (d, b) in pass
            .mirror
            .px_mut(cell.y + i, cell.x, cell.w)
            .iter_mut()
            .zip(&src[s])
          {
            *d = !*b;
          }
        }
      }
      let moved = inside(cell);
      band[tx] = Some((cell, moved));
      if !moved {
        cells.push((tx, cell));
      }
    }
    changes.clear();
    changes.resize(cols, None);
    band_changes(src, src_stride, pass.mirror, &cells, copied, &mut changes);
    for tx in 0..cols {
      let Some((cell, moved)) = band[tx] else {
        close(&mut pass, &mut run_x, &mut run_w, &mut run_top, &mut run_bottom)?;
        last_solid = None;
        continue;
      };
      let (x, tw) = (tx * t, t.min(w - tx * t));
      let dy = cell.y - y;
      let changed = changes[tx];
      let Some((first, last)) = changed.map(|(a, b)| (a + dy, b + dy)) else {
        if moved {
          pass.stats.changed_tiles += 1;
          close(&mut pass, &mut run_x, &mut run_w, &mut run_top, &mut run_bottom)?;
          last_solid = None;
          continue;
        }
        pass.stats.unchanged_tiles += 1;
        close(&mut pass, &mut run_x, &mut run_w, &mut run_top, &mut run_bottom)?;
        last_solid = None;
        continue;
      };
      pass.stats.changed_tiles += 1;
      pass.stats.raw_bytes += (cell.w * cell.h * 4) as f64;
      if let Some(pixel) = if solid_ok {
        uniform(src, src_stride, cell)
      } else {
        None
      } {
        close(&mut pass, &mut run_x, &mut run_w, &mut run_top, &mut run_bottom)?;
        pass.mirror.copy_from(src, src_stride, cell);
        match last_solid {
          Some(i)
            if solids[i].pixel == pixel
              && solids[i].r.x + solids[i].r.w == cell.x
              && solids[i].r.y == cell.y
              && solids[i].r.h == cell.h =>
          {
            solids[i].r.w += cell.w;
          }
          _ => {
            solids.push(Solid {
              r: cell,
              pixel,
              dead: false,
            });
            here.push(solids.len() - 1);
            last_solid = Some(solids.len() - 1);
          }
        }
        continue;
      }
      last_solid = None;
      if run_w == 0 {
        run_x = x;
      }
      run_w += tw;
      run_top = run_top.min(first);
      run_bottom = run_bottom.max(last);
    }
    close(&mut pass, &mut run_x, &mut run_w, &mut run_top, &mut run_bottom)?;
    // Merge this row's uniform runs into identical ones right above them.
    for slot in here.iter_mut() {
      let s = solids[*slot];
      let up = above.iter().copied().find(|&a| {
        let u = &solids[a];
        !u.dead && u.pixel == s.pixel && u.r.x == s.r.x && u.r.w == s.r.w && u.r.y + u.r.h == s.r.y
      });
      if let Some(a) = up {
        solids[a].r.h += s.r.h;
        solids[*slot].dead = true;
        *slot = a;
      }
    }
    above = here;
  }
  for s in solids.iter().filter(|s| !s.dead) {
    let msg = pass
      .out
      .begin_tile(&wire, target, surface, s.r, wire.codec_solid)?;
    pass.out.data(4)?.copy_from_slice(&s.pixel.to_le_bytes());
    pass.out.end_tile(msg, 4)?;
    pass.stats.tiles += 1;
  }
  if lz4 && compress {
    if pass.saved {
      st.lz4.paid();
    } else if pass.gave_up {
      st.lz4.missed();
    }
  }
  pass.stats.bytes = pass.out.at as f64;
  st.last_bytes = Some(pass.out.at);
  Ok(pass.stats)
}

/// Why a tile's data is refused by `TileWriter.write`.
fn bad(codec: &str, w: usize, h: usize, why: impl std::fmt::Display) -> crate::error::Error {
  error("EBADMSG", format!("{codec} {w}x{h} tile does not decode: {why}"))
}

/// The receiver's half: writes one tile into a surface's pixels, whatever its codec, in one call.
#[napi]
pub struct TileWriter {
  wire: FrameWire,
  scratch: Vec<u8>,
}

#[napi]
impl TileWriter {
  #[napi(constructor)]
  pub fn new(wire: FrameWire) -> Self {
    TileWriter {
      wire,
      scratch: Vec::new(),
    }
  }

  /// Writes the `width` x `height` tile at (x, y) of `dst` (`stride` bytes per row) from `data`
  /// in `codec`. Checks everything first: EINVAL for an empty rectangle, ERANGE for a rectangle
  /// outside `dst`, EBADMSG for data
  /// that does not decode to exactly the tile (then `dst` is untouched), EINVAL for a codec this
  /// writer does not know. LZ4 and zstd payloads may describe at most 65535 bytes of pixels (twice
  /// that for span streams; 4-byte pixels for `lz4_rgb`), as the protocol says. `raw_rgb` and
  /// `lz4_rgb` write the 4th byte of each pixel as 0xff.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn write(
    &mut self,
    codec: u32,
    data: Uint8ArraySlice<'_>,
    mut dst: Uint8ArraySlice<'_>,
    stride: u32,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
  ) -> Result<()> {
    let (data, out) = views("TileWriter.write", &data, &mut dst)?;
    write_tile(
      &self.wire,
      &mut self.scratch,
      codec,
      data,
      out,
      stride as usize,
      Rect::new(x, y, width, height),
    )
  }
}

/// [`TileWriter::write`] on plain slices: `scratch` holds compressed tiles while they decode.
pub(crate) fn write_tile(
  wire: &FrameWire,
  scratch: &mut Vec<u8>,
  codec: u32,
  data: &[u8],
  out: &mut [u8],
  stride: usize,
  r: Rect,
) -> Result<()> {
  if r.is_empty() {
    return Err(invalid(format!(
      "TileWriter.write: a {}x{} tile has no pixels",
      r.w, r.h
    )));
  }
  check_rect("TileWriter.write", out.len(), stride, r)?;
  let (w, h) = (r.w, r.h);
  let size = w * h * 4;
  if codec == wire.codec_raw {
    if data.len() != size {
      return Err(error(
        "EBADMSG",
        format!("raw {w}x{h} tile carries {} bytes instead of {size}", data.len()),
      ));
    }
    copy(data, w * 4, Rect { x: 0, y: 0, w, h }, out, stride, r);
  } else if codec == wire.codec_solid {
    let pixel: [u8; 4] = data.try_into().map_err(|_| {
      error(
        "EBADMSG",
        format!("solid tile carries {} bytes instead of 4", data.len()),
      )
    })?;
    for i in 0..h {
      for p in out[row(stride, r, i)].chunks_exact_mut(4) {
        p.copy_from_slice(&pixel);
      }
    }
  } else if codec == wire.codec_lz4 || codec == wire.codec_lz4_spans || codec == wire.codec_zstd {
    let spans = codec == wire.codec_lz4_spans;
    let (name, method) = if spans {
      ("lz4_spans", Codec::Lz4)
    } else if codec == wire.codec_zstd {
      ("zstd", Codec::Zstd)
    } else {
      ("lz4", Codec::Lz4)
    };
    if size > MAX_MESSAGE {
      return Err(error(
        "E2BIG",
        format!("{name} tile of {w}x{h} decodes to {size} bytes, more than {MAX_MESSAGE}"),
      ));
    }
    let limit = if spans { 2 * size + 8 } else { size };
    if scratch.len() < limit {
      scratch.resize(limit, 0);
    }
    // Into the scratch first: a block that fails half-way leaves the pixels untouched.
    let n = codec::decompress(method, data, &mut scratch[..limit]).map_err(|e| bad(name, w, h, e))?;
    if spans {
      crate::pixels::apply_span_stream(&scratch[..n], out, stride, r).map_err(|e| bad(name, w, h, e))?;
    } else {
      if n != size {
        return Err(bad(name, w, h, format_args!("{n} bytes instead of {size}")));
      }
      copy(&scratch[..n], w * 4, Rect { x: 0, y: 0, w, h }, out, stride, r);
    }
  } else if codec == wire.codec_raw_rgb {
    let packed = w * h * 3;
    if data.len() != packed {
      return Err(error(
        "EBADMSG",
        format!(
          "raw_rgb {w}x{h} tile carries {} bytes instead of {packed}",
          data.len()
        ),
      ));
    }
    rgb24::unpack(data, out, stride, r);
  } else if codec == wire.codec_lz4_rgb {
    if size > MAX_MESSAGE {
      return Err(error(
        "E2BIG",
        format!("lz4_rgb tile of {w}x{h} covers {size} bytes of pixels, more than {MAX_MESSAGE}"),
      ));
    }
    let packed = w * h * 3;
    if scratch.len() < packed {
      scratch.resize(packed, 0);
    }
    // Into the scratch first, like the other LZ4 codecs: the pixels change only if it all decodes.
    let n =
      codec::decompress(Codec::Lz4, data, &mut scratch[..packed]).map_err(|e| bad("lz4_rgb", w, h, e))?;
    if n != packed {
      return Err(bad(
        "lz4_rgb",
        w,
        h,
        format_args!("{n} bytes instead of {packed}"),
      ));
    }
    rgb24::unpack(&scratch[..n], out, stride, r);
  } else if codec == wire.codec_copy {
    // The rectangle's pixels come from (src_x, src_y) of the same pixels, as they were before.
    let words: [u8; 8] = data.try_into().map_err(|_| {
      error(
        "EBADMSG",
        format!("copy tile carries {} bytes instead of 8", data.len()),
      )
    })?;
    let src_x = u32::from_le_bytes([words[0], words[1], words[2], words[3]]) as usize;
    let src_y = u32::from_le_bytes([words[4], words[5], words[6], words[7]]) as usize;
    let from = Rect {
      x: src_x,
      y: src_y,
      w,
      h,
    };
    check_rect("copy tile source", out.len(), stride, from).map_err(|e| bad("copy", w, h, e))?;
    scroll::move_rows(out, stride, r, src_x, src_y);
  } else {
    return Err(invalid(format!(
      "TileWriter.write: codec {codec} is not known here"
    )));
  }
  Ok(())
}
