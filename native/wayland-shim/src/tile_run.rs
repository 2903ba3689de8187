//! The receiver's tiles a run at a time: consecutive `wthp_content.tile` messages for one surface,
//! read where they arrived (the connection's input) and written into the surface's pending
//! buffer in one call, instead of one parse, dispatch and write per message.
//!
//! A run takes only what the message-by-message path would accept as it is: it stops before the
//! first message that is anything else (another message or target, another surface, an
//! unfinished message, a copy or lossy tile, a codec not announced, a rectangle outside the
//! surface, data that does not decode), and the caller hands that message to the connection,
//! whose checks and errors apply as before. Tiles are checked before a pixel changes, so a run
//! that stops leaves the buffer as the tiles before it made it.
//!
//! Catch-up: the pending buffer may still miss rectangles that the buffer it starts from holds
//! (`catch_up`, copied from `base`). A tile that replaces every pixel of its rectangle only
//! takes its rectangle out of them; an `lz4_spans` tile, which changes some, has the missing
//! pixels under it copied first. Past `max_catch_up` rectangles all of them are copied at once.

use napi::bindgen_prelude::{Float64ArraySlice, Int32ArraySlice, Uint8ArraySlice};
use napi_derive::napi;

use crate::error::{invalid, Result};
use crate::frame::{write_tile, FrameWire, TileWriter, MAX_MESSAGE, TILE_OVERHEAD};
use crate::pixels::{copy, disjoint, views, Rect};

/// Where `TileWriter.writeRun` finds its numbers in the `run` array (in) and leaves its
/// figures (out).
pub mod slot {
  /// In: the `wthp_content` object the tiles are sent to.
  pub const CONTENT: usize = 0;
  /// In: the `wthp_surface` they are for.
  pub const SURFACE: usize = 1;
  /// In: the pending buffer's size, pixels.
  pub const WIDTH: usize = 2;
  pub const HEIGHT: usize = 3;
  /// In: 1 when the buffer is xrgb8888 (3-byte codecs allowed), else 0.
  pub const XRGB: usize = 4;
  /// In: the codecs the receiver announced, a mask of 1 << codec.
  pub const CODECS: usize = 5;
  /// In: pixels the run may write (checked before each tile after the first).
  pub const MAX_PIXELS: usize = 6;
  /// In: catch-up rectangles above which they are copied at once.
  pub const MAX_CATCH_UP: usize = 7;
  /// In and out: the catch-up rectangles in `catchUp`.
  pub const CATCH_UP: usize = 8;
  /// Out: tiles written (their rectangles are in `written`).
  pub const TILES: usize = 9;
  /// Out: pixels written (the tiles' areas).
  pub const PIXELS: usize = 10;
  /// Out: bytes of the tiles' data.
  pub const BYTES: usize = 11;
  /// Out: 1 when every catch-up rectangle was copied at once (the buffer needs `base` no more).
  pub const FINISHED: usize = 12;
}

/// Numbers in a `run` array.
pub const RUN_SLOTS: usize = 13;

/// The surface a run writes into.
pub(crate) struct RunTarget<'a> {
  pub pixels: &'a mut [u8],
  pub width: usize,
  pub height: usize,
  pub xrgb: bool,
  /// The buffer the pending one catches up from.
  pub base: Option<&'a [u8]>,
}

/// What a run may take.
pub(crate) struct RunRules {
  pub content: u32,
  pub surface: u32,
  pub codecs: u32,
  pub max_pixels: f64,
  pub max_tiles: usize,
  pub max_catch_up: usize,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct RunOutcome {
  /// Where the first message the run did not take starts.
  pub end: usize,
  pub tiles: usize,
  pub pixels: f64,
  pub bytes: f64,
  pub finished: bool,
}

fn u16_at(b: &[u8], at: usize) -> usize {
  u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u32_at(b: &[u8], at: usize) -> u32 {
  u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `a` and `b` overlap here (shared/scene/region.ts `intersect`).
fn intersect(a: Rect, b: Rect) -> Option<Rect> {
  let (x1, y1) = (a.x.max(b.x), a.y.max(b.y));
  let (x2, y2) = ((a.x + a.w).min(b.x + b.w), (a.y + a.h).min(b.y + b.h));
  (x2 > x1 && y2 > y1).then(|| Rect {
    x: x1,
    y: y1,
    w: x2 - x1,
    h: y2 - y1,
  })
}

/// `a` minus its overlap `o` with another rectangle, in region.ts `subtract`'s order: the bands
/// above, below, left and right of it.
fn subtract_into(a: Rect, o: Rect, out: &mut Vec<Rect>) {
  let (ax2, ay2, ox2, oy2) = (a.x + a.w, a.y + a.h, o.x + o.w, o.y + o.h);
  if o.y > a.y {
    out.push(Rect { h: o.y - a.y, ..a });
  }
  if oy2 < ay2 {
    out.push(Rect {
      y: oy2,
      h: ay2 - oy2,
      ..a
    });
  }
  if o.x > a.x {
    out.push(Rect {
      y: o.y,
      w: o.x - a.x,
      h: o.h,
      ..a
    });
  }
  if ox2 < ax2 {
    out.push(Rect {
      x: ox2,
      y: o.y,
      w: ax2 - ox2,
      h: o.h,
    });
  }
}

/// One tile message at the start of `m` (its declared size `sz`): its rectangle, codec and data,
/// or None when it is not one the run takes as it is.
fn tile_in<'a>(
  wire: &FrameWire,
  rules: &RunRules,
  t: &RunTarget<'_>,
  m: &'a [u8],
) -> Option<(Rect, u32, &'a [u8])> {
  if u32_at(m, 8) != rules.content || u32_at(m, 12) != rules.surface {
    return None;
  }
  let int = |at: usize| i64::from(u32_at(m, at) as i32);
  let (x, y, w, h) = (int(16), int(20), int(24), int(28));
  let codec = u32_at(m, 32);
  let len = u32_at(m, 36) as usize;
  // The data and its padding lie within the declared size, as the parser requires.
  if len.checked_add(3)? & !3 > m.len() - TILE_OVERHEAD {
    return None;
  }
  let (width, height) = (t.width as i64, t.height as i64);
  if w <= 0 || h <= 0 || x < 0 || y < 0 || x > width - w || y > height - h {
    return None;
  }
  if codec > 31 || rules.codecs & (1 << codec) == 0 {
    return None;
  }
  let rgb = codec == wire.codec_raw_rgb || codec == wire.codec_lz4_rgb;
  let compressed = codec == wire.codec_lz4
    || codec == wire.codec_zstd
    || codec == wire.codec_lz4_spans
    || codec == wire.codec_lz4_rgb;
  let known = rgb || compressed || codec == wire.codec_raw || codec == wire.codec_solid;
  if !known || (rgb && !t.xrgb) || (compressed && w * h * 4 > MAX_MESSAGE as i64) {
    return None;
  }
  let r = Rect::new(x as u32, y as u32, w as u32, h as u32);
  Some((r, codec, &m[TILE_OVERHEAD..TILE_OVERHEAD + len]))
}

/// Writes the run of tile messages that starts at `start` of `input` (complete messages up to
/// `end`), at most `rules.max_tiles` of them, into `t`; their rectangles are appended to
/// `written` and `catch_up` is brought along.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_run(
  wire: &FrameWire,
  scratch: &mut Vec<u8>,
  input: &[u8],
  start: usize,
  end: usize,
  t: &mut RunTarget<'_>,
  rules: &RunRules,
  catch_up: &mut Vec<Rect>,
  written: &mut Vec<Rect>,
) -> RunOutcome {
  let stride = t.width * 4;
  let mut out = RunOutcome {
    end: start,
    ..RunOutcome::default()
  };
  let mut rest = Vec::with_capacity(catch_up.len() * 4);
  while out.tiles < rules.max_tiles && end - out.end >= TILE_OVERHEAD {
    let at = out.end;
    let sz = u16_at(input, at + 2);
    if u16_at(input, at + 4) != wire.tile_opcode as usize || sz < TILE_OVERHEAD || sz > end - at {
      break;
    }
    let Some((r, codec, data)) = tile_in(wire, rules, t, &input[at..at + sz]) else {
      break;
    };
    let area = (r.w * r.h) as f64;
    if out.tiles > 0 && out.pixels + area > rules.max_pixels {
      break;
    }
    // What the buffer still misses: copied under a tile that keeps some pixels, else dropped.
    let mut caught = false;
    if let (false, Some(base)) = (catch_up.is_empty(), t.base) {
      if catch_up.len() > rules.max_catch_up {
        for c in catch_up.drain(..) {
          copy(base, stride, c, t.pixels, stride, c);
        }
        out.finished = true;
      } else {
        rest.clear();
        for &c in catch_up.iter() {
          match intersect(c, r) {
            None => rest.push(c),
            Some(o) => {
              if codec == wire.codec_lz4_spans {
                copy(base, stride, o, t.pixels, stride, o);
              }
              subtract_into(c, o, &mut rest);
            }
          }
        }
        caught = true;
      }
    }
    if write_tile(wire, scratch, codec, data, t.pixels, stride, r).is_err() {
      break;
    }
    if caught {
      std::mem::swap(catch_up, &mut rest);
    }
    written.push(r);
    out.tiles += 1;
    out.pixels += area;
    out.bytes += data.len() as f64;
    out.end = at + sz;
  }
  out
}

#[napi]
impl TileWriter {
  /// Writes the run of `wthp_content.tile` messages that starts at `start` of `input` (whole
  /// messages before `end`) into `dst`, the pending buffer, and returns where the first message
  /// it did not take starts (`start` when it took none). `run` holds the numbers listed in
  /// src/tile_run.rs (`slot`) and receives the run's figures; `catchUp` holds the rectangles
  /// (x, y, width, height quadruples) `dst` still misses from `base`, and receives those it
  /// misses after the run (room for four times as many); `written` receives the tiles'
  /// rectangles (at most a quarter of its length tiles are taken). EINVAL for arrays too short
  /// or buffers that overlap.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn write_run(
    &mut self,
    input: Uint8ArraySlice<'_>,
    start: u32,
    end: u32,
    mut dst: Uint8ArraySlice<'_>,
    base: Option<Uint8ArraySlice<'_>>,
    mut run: Float64ArraySlice<'_>,
    mut catch_up: Int32ArraySlice<'_>,
    mut written: Int32ArraySlice<'_>,
  ) -> Result<u32> {
    let call = "TileWriter.writeRun";
    if run.len() < RUN_SLOTS {
      return Err(invalid(format!(
        "{call}: run has {} numbers, {RUN_SLOTS} needed",
        run.len()
      )));
    }
    let n = |i: usize| run[i].max(0.0);
    let (start, end) = (start as usize, end as usize);
    let rules = RunRules {
      content: n(slot::CONTENT) as u32,
      surface: n(slot::SURFACE) as u32,
      codecs: n(slot::CODECS) as u32,
      max_pixels: n(slot::MAX_PIXELS),
      max_tiles: written.len() / 4,
      max_catch_up: n(slot::MAX_CATCH_UP) as usize,
    };
    let (width, height) = (n(slot::WIDTH) as usize, n(slot::HEIGHT) as usize);
    let count = n(slot::CATCH_UP) as usize;
    if count * 4 > catch_up.len() || rules.max_catch_up.saturating_add(1).saturating_mul(16) > catch_up.len()
    {
      return Err(invalid(format!(
        "{call}: catchUp has room for {} rectangles; {count} given, up to {} after a tile",
        catch_up.len() / 4,
        (rules.max_catch_up + 1) * 4
      )));
    }
    if width.checked_mul(height).and_then(|p| p.checked_mul(4)) != Some(dst.len()) {
      return Err(invalid(format!(
        "{call}: {width}x{height} pixels in a buffer of {} bytes",
        dst.len()
      )));
    }
    let mut rects: Vec<Rect> = catch_up[..count * 4]
      .chunks_exact(4)
      .map(|q| Rect::new(q[0] as u32, q[1] as u32, q[2] as u32, q[3] as u32))
      .collect();
    let mut taken = Vec::new();
    let outcome = {
      let (input, pixels) = views(call, &input, &mut dst)?;
      if start > end || end > input.len() {
        return Err(invalid(format!(
          "{call}: {start}..{end} is outside an input of {} bytes",
          input.len()
        )));
      }
      let base: Option<&[u8]> = base.as_deref();
      if let Some(b) = base {
        if b.len() != pixels.len() || !disjoint(b, pixels) {
          return Err(invalid(format!(
            "{call}: base is not a buffer of the same size beside dst"
          )));
        }
      }
      let mut target = RunTarget {
        pixels,
        width,
        height,
        xrgb: n(slot::XRGB) != 0.0,
        base,
      };
      write_run(
        &self.wire,
        &mut self.scratch,
        input,
        start,
        end,
        &mut target,
        &rules,
        &mut rects,
        &mut taken,
      )
    };
    // SAFETY: valid during this synchronous call; written only once the views above are gone.
    let (run, catch_up, written) = unsafe { (run.as_mut(), catch_up.as_mut(), written.as_mut()) };
    for (q, r) in catch_up.chunks_exact_mut(4).zip(&rects) {
      q.copy_from_slice(&[r.x as i32, r.y as i32, r.w as i32, r.h as i32]);
    }
    for (q, r) in written.chunks_exact_mut(4).zip(&taken) {
      q.copy_from_slice(&[r.x as i32, r.y as i32, r.w as i32, r.h as i32]);
    }
    run[slot::CATCH_UP] = rects.len() as f64;
    run[slot::TILES] = outcome.tiles as f64;
    run[slot::PIXELS] = outcome.pixels;
    run[slot::BYTES] = outcome.bytes;
    run[slot::FINISHED] = if outcome.finished { 1.0 } else { 0.0 };
    Ok(outcome.end as u32)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::codec::{compress, Codec};
  use crate::pixels::span_stream;

  const WIRE: FrameWire = FrameWire {
    tile_opcode: 105,
    codec_raw: 0,
    codec_lz4: 1,
    codec_zstd: 2,
    codec_solid: 3,
    codec_lz4_spans: 4,
    codec_copy: 7,
    codec_raw_rgb: 8,
    codec_lz4_rgb: 9,
  };
  const ALL: u32 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8) | (1 << 9);
  const CONTENT: u32 = 7;
  const SURFACE: u32 = 9;
  const W: usize = 32;
  const H: usize = 24;

  /// A tile message as a transmitter writes it.
  fn message(opcode: u16, content: u32, surface: u32, r: [i32; 4], codec: u32, data: &[u8]) -> Vec<u8> {
    let size = TILE_OVERHEAD + data.len().div_ceil(4) * 4;
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&(size as u16).to_le_bytes());
    m.extend_from_slice(&opcode.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    for v in [
      content,
      surface,
      r[0] as u32,
      r[1] as u32,
      r[2] as u32,
      r[3] as u32,
      codec,
      data.len() as u32,
    ] {
      m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(data);
    m.resize(size, 0);
    m
  }

  fn tile(r: [i32; 4], codec: u32, data: &[u8]) -> Vec<u8> {
    message(105, CONTENT, SURFACE, r, codec, data)
  }

  fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
      .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
      .collect()
  }

  fn lz4(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; raw.len() + raw.len() / 255 + 64];
    let n = compress(Codec::Lz4, raw, &mut out, 0).expect("compresses");
    out.truncate(n);
    out
  }

  fn rules() -> RunRules {
    RunRules {
      content: CONTENT,
      surface: SURFACE,
      codecs: ALL,
      max_pixels: (W * H) as f64,
      max_tiles: 64,
      max_catch_up: 64,
    }
  }

  struct Run {
    pixels: Vec<u8>,
    out: RunOutcome,
    catch_up: Vec<Rect>,
    written: Vec<Rect>,
  }

  fn run_with(
    input: &[u8],
    start: Vec<u8>,
    base: Option<&[u8]>,
    rules: &RunRules,
    catch_up: Vec<Rect>,
    xrgb: bool,
  ) -> Run {
    let mut pixels = start;
    let mut catch_up = catch_up;
    let mut written = Vec::new();
    let mut target = RunTarget {
      pixels: &mut pixels,
      width: W,
      height: H,
      xrgb,
      base,
    };
    let out = write_run(
      &WIRE,
      &mut Vec::new(),
      input,
      0,
      input.len(),
      &mut target,
      rules,
      &mut catch_up,
      &mut written,
    );
    Run {
      pixels,
      out,
      catch_up,
      written,
    }
  }

  fn run(input: &[u8]) -> Run {
    run_with(input, vec![0; W * H * 4], None, &rules(), Vec::new(), true)
  }

  /// The tiles written one by one, as the message-by-message path does.
  fn one_by_one(tiles: &[(Rect, u32, Vec<u8>)]) -> Vec<u8> {
    let mut pixels = vec![0; W * H * 4];
    for (r, codec, data) in tiles {
      write_tile(&WIRE, &mut Vec::new(), *codec, data, &mut pixels, W * 4, *r).expect("a valid tile");
    }
    pixels
  }

  fn sample() -> Vec<(Rect, u32, Vec<u8>)> {
    let raw = pattern(8 * 4 * 4, 1);
    let rgb = pattern(5 * 3 * 3, 2);
    vec![
      (Rect::new(0, 0, 8, 4), 0, raw.clone()),
      (Rect::new(8, 0, 8, 4), 1, lz4(&raw)),
      (Rect::new(16, 4, 10, 6), 3, vec![1, 2, 3, 4]),
      (Rect::new(3, 9, 5, 3), 8, rgb.clone()),
      (Rect::new(20, 18, 5, 3), 9, lz4(&rgb)),
    ]
  }

  fn encode(tiles: &[(Rect, u32, Vec<u8>)]) -> Vec<u8> {
    tiles
      .iter()
      .flat_map(|(r, codec, data)| tile([r.x as i32, r.y as i32, r.w as i32, r.h as i32], *codec, data))
      .collect()
  }

  #[test]
  fn a_run_writes_what_the_tiles_write_one_by_one() {
    let tiles = sample();
    let input = encode(&tiles);
    let r = run(&input);
    assert_eq!(r.out.end, input.len());
    assert_eq!(r.out.tiles, tiles.len());
    assert_eq!(r.pixels, one_by_one(&tiles));
    assert_eq!(r.written, tiles.iter().map(|t| t.0).collect::<Vec<_>>());
    assert_eq!(
      r.out.pixels,
      tiles.iter().map(|t| (t.0.w * t.0.h) as f64).sum::<f64>()
    );
    assert_eq!(r.out.bytes, tiles.iter().map(|t| t.2.len() as f64).sum::<f64>());
    assert!(r.pixels.iter().any(|&b| b != 0));
  }

  #[test]
  fn a_run_stops_before_what_it_does_not_take_as_it_is() {
    let tiles = sample();
    let good = encode(&tiles[..2]);
    let full = [0i32, 0, W as i32, H as i32];
    let strangers: Vec<(&str, Vec<u8>, bool)> = vec![
      (
        "another request",
        message(104, CONTENT, SURFACE, [0, 0, 4, 4], 0, &[0; 64]),
        true,
      ),
      (
        "another content object",
        message(105, CONTENT + 1, SURFACE, [0, 0, 4, 4], 0, &[0; 64]),
        true,
      ),
      (
        "another surface",
        message(105, CONTENT, SURFACE + 1, [0, 0, 4, 4], 0, &[0; 64]),
        true,
      ),
      (
        "a copy tile",
        tile([0, 4, 8, 4], 7, &[0, 0, 0, 0, 0, 0, 0, 0]),
        true,
      ),
      ("a lossy codec", tile([0, 0, 4, 4], 5, &[0; 8]), true),
      ("a codec not announced", tile([0, 0, 4, 4], 2, &[0; 8]), false),
      (
        "a rectangle past the right edge",
        tile([W as i32 - 3, 0, 4, 1], 3, &[1, 2, 3, 4]),
        true,
      ),
      ("a negative position", tile([-1, 0, 4, 1], 3, &[1, 2, 3, 4]), true),
      ("an empty rectangle", tile([0, 0, 0, 4], 3, &[1, 2, 3, 4]), true),
      (
        "raw data of the wrong size",
        tile([0, 0, 4, 4], 0, &[0; 60]),
        true,
      ),
      (
        "lz4 data that does not decode",
        tile([0, 0, 4, 4], 1, &[0xff; 12]),
        true,
      ),
      (
        "an lz4 tile larger than a message",
        tile(full, 1, &lz4(&vec![0; W * H * 4])),
        true,
      ),
    ];
    let all = rules();
    let mut no_zstd = rules();
    no_zstd.codecs &= !(1 << 2);
    for (what, stranger, all_codecs) in strangers {
      let mut input = good.clone();
      input.extend_from_slice(&stranger);
      input.extend_from_slice(&encode(&tiles[2..]));
      let r = run_with(
        &input,
        vec![0; W * H * 4],
        None,
        if all_codecs { &all } else { &no_zstd },
        Vec::new(),
        true,
      );
      assert_eq!((r.out.end, r.out.tiles), (good.len(), 2), "{what}");
      assert_eq!(r.pixels, one_by_one(&tiles[..2]), "{what}");
    }
  }

  #[test]
  fn a_run_stops_at_an_unfinished_message_and_declared_sizes_that_do_not_hold() {
    let tiles = sample();
    let input = encode(&tiles);
    let cut = input.len() - 1;
    let mut pixels = vec![0; W * H * 4];
    let mut target = RunTarget {
      pixels: &mut pixels,
      width: W,
      height: H,
      xrgb: true,
      base: None,
    };
    let out = write_run(
      &WIRE,
      &mut Vec::new(),
      &input,
      0,
      cut,
      &mut target,
      &rules(),
      &mut Vec::new(),
      &mut Vec::new(),
    );
    assert_eq!(out.tiles, tiles.len() - 1);

    // Data longer than the declared size says, and a size below a tile message's.
    let mut long = tile([0, 0, 1, 1], 3, &[1, 2, 3, 4]);
    long[36] = 8;
    let mut short = tile([0, 0, 1, 1], 3, &[1, 2, 3, 4]);
    short[2] = 36;
    for bad in [long, short] {
      assert_eq!(run(&bad).out, RunOutcome::default());
    }
  }

  #[test]
  fn rgb_codecs_only_for_xrgb_buffers() {
    let tiles = sample();
    let input = encode(&tiles);
    let r = run_with(&input, vec![0; W * H * 4], None, &rules(), Vec::new(), false);
    assert_eq!(
      r.out.tiles, 3,
      "the first raw_rgb tile ends the run of an argb8888 buffer"
    );
  }

  #[test]
  fn the_pixels_and_tiles_a_run_may_take() {
    let tiles = sample();
    let input = encode(&tiles);
    let mut few = rules();
    // The first tile always; then tiles while the total stays within the limit.
    few.max_pixels = 64.0;
    assert_eq!(
      run_with(&input, vec![0; W * H * 4], None, &few, Vec::new(), true)
        .out
        .tiles,
      2
    );
    few.max_pixels = 1.0;
    assert_eq!(
      run_with(&input, vec![0; W * H * 4], None, &few, Vec::new(), true)
        .out
        .tiles,
      1
    );
    let mut two = rules();
    two.max_tiles = 2;
    let r = run_with(&input, vec![0; W * H * 4], None, &two, Vec::new(), true);
    assert_eq!((r.out.tiles, r.out.end), (2, encode(&tiles[..2]).len()));
  }

  #[test]
  fn catch_up_under_tiles() {
    let base = pattern(W * H * 4, 9);
    let missing = vec![Rect::new(0, 0, 16, 8), Rect::new(20, 16, 8, 8)];
    // A solid tile over part of the first rectangle: that part is no longer missed, and the
    // pixels under it are the tile's, not the base's.
    let input = tile([4, 2, 4, 2], 3, &[5, 5, 5, 5]);
    let r = run_with(
      &input,
      vec![0; W * H * 4],
      Some(&base),
      &rules(),
      missing.clone(),
      true,
    );
    assert_eq!(r.out.tiles, 1);
    assert_eq!(
      r.catch_up,
      vec![
        Rect::new(0, 0, 16, 2),
        Rect::new(0, 4, 16, 4),
        Rect::new(0, 2, 4, 2),
        Rect::new(8, 2, 8, 2),
        Rect::new(20, 16, 8, 8),
      ]
    );
    assert!(!r.out.finished);
    assert_eq!(
      &r.pixels[0..4],
      &[0, 0, 0, 0],
      "nothing copied for a tile that replaces its pixels"
    );
    assert_eq!(&r.pixels[(2 * W + 4) * 4..(2 * W + 4) * 4 + 4], &[5, 5, 5, 5]);

    // An lz4_spans tile keeps the pixels it does not name: those it covers come from the base first.
    let current = pattern(W * H * 4, 3);
    let r = Rect::new(20, 16, 4, 4);
    let mut spans = vec![0u8; 2 * 4 * 4 * 4 + 8];
    let n = span_stream(&current, &base, W * 4, r, &mut spans).expect("spans fit");
    let input = tile([20, 16, 4, 4], 4, &lz4(&spans[..n]));
    let out = run_with(
      &input,
      vec![0; W * H * 4],
      Some(&base),
      &rules(),
      missing.clone(),
      true,
    );
    assert_eq!(out.out.tiles, 1);
    for y in 16..20 {
      let at = (y * W + 20) * 4;
      assert_eq!(&out.pixels[at..at + 16], &current[at..at + 16], "row {y}");
    }
    assert_eq!(out.catch_up[..1], missing[..1]);
    assert_eq!(
      out.catch_up[1..],
      [Rect::new(20, 20, 8, 4), Rect::new(24, 16, 4, 4)]
    );

    // Past the limit, everything missing is copied at once.
    let mut few = rules();
    few.max_catch_up = 1;
    let input = tile([0, 20, 1, 1], 3, &[7, 7, 7, 7]);
    let out = run_with(
      &input,
      vec![0; W * H * 4],
      Some(&base),
      &few,
      missing.clone(),
      true,
    );
    assert!(out.out.finished);
    assert!(out.catch_up.is_empty());
    for m in &missing {
      for y in m.y..m.y + m.h {
        let at = (y * W + m.x) * 4;
        assert_eq!(&out.pixels[at..at + m.w * 4], &base[at..at + m.w * 4]);
      }
    }

    // A tile that does not decode leaves the list as it was.
    let bad = tile([0, 0, 4, 4], 1, &[0xff; 12]);
    let out = run_with(
      &bad,
      vec![0; W * H * 4],
      Some(&base),
      &rules(),
      missing.clone(),
      true,
    );
    assert_eq!((out.out.tiles, out.catch_up), (0, missing));
  }
}
