//! Pixel loops of the tile pipeline (shared/remote/tiles.ts): rectangle copies, change detection
//! against the transmitter's mirror, the span stream of the `lz4_spans` codec in both directions,
//! and uniform-colour detection. In JavaScript each of these is a call per row or a loop per
//! pixel; here it is one call per rectangle.
//!
//! Pixels are 4 bytes; a buffer has `stride` bytes per row. Every rectangle is checked against
//! the length of the buffer it addresses before any access (code ERANGE), and a buffer that is
//! written must not share memory with one that is read (code EINVAL).
//!
//! The span stream (`lz4_spans` in protocol/waltham.xml, before LZ4): records walking the tile's
//! pixels in row-major order. Each record is a little-endian u32, `skip | count << 16`, then
//! `count` pixels: `skip` pixels keep their content, the next `count` are replaced. Pixels after
//! the last record keep their content.
//!
//! Safe Rust only, apart from getting the slices out of the JS views.

use napi::bindgen_prelude::Uint8ArraySlice;
use napi_derive::napi;

use crate::error::{error, invalid, Result};

/// Unchanged pixels between two changed ones that are sent as part of one run rather than
/// starting a new record (a record header costs as much as one pixel, and short gaps between
/// glyph pixels compress well).
const SPAN_GAP: usize = 4;
const MAX_SPAN: usize = 0xffff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
  pub x: usize,
  pub y: usize,
  pub w: usize,
  pub h: usize,
}

impl Rect {
  pub(crate) fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
    Rect {
      x: x as usize,
      y: y as usize,
      w: w as usize,
      h: h as usize,
    }
  }

  pub(crate) fn is_empty(&self) -> bool {
    self.w == 0 || self.h == 0
  }
}

/// Checks that `r` lies inside a buffer of `len` bytes with `stride` bytes per row.
pub fn check_rect(what: &str, len: usize, stride: usize, r: Rect) -> Result<()> {
  if r.is_empty() {
    return Ok(());
  }
  let inside = (|| {
    let row_end = r.x.checked_add(r.w)?.checked_mul(4)?;
    if row_end > stride {
      return None;
    }
    let end = (r.y + r.h - 1).checked_mul(stride)?.checked_add(row_end)?;
    (end <= len).then_some(())
  })();
  inside.ok_or_else(|| {
    error(
      "ERANGE",
      format!(
        "{what}: {}x{}+{}+{} is outside a buffer of {len} bytes with {stride} bytes per row",
        r.w, r.h, r.x, r.y
      ),
    )
  })
}

/// The byte range of row `row` of `r`.
#[inline]
pub(crate) fn row(stride: usize, r: Rect, row: usize) -> std::ops::Range<usize> {
  let start = (r.y + row) * stride + r.x * 4;
  start..start + r.w * 4
}

pub(crate) fn disjoint(a: &[u8], b: &[u8]) -> bool {
  let (a0, a1) = (a.as_ptr() as usize, a.as_ptr() as usize + a.len());
  let (b0, b1) = (b.as_ptr() as usize, b.as_ptr() as usize + b.len());
  a1 <= b0 || b1 <= a0
}

/// Checked views for a synchronous call: `src` read, `dst` written, not overlapping.
pub(crate) fn views<'a>(
  call: &str,
  src: &'a Uint8ArraySlice<'_>,
  dst: &'a mut Uint8ArraySlice<'_>,
) -> Result<(&'a [u8], &'a mut [u8])> {
  // SAFETY: both views stay valid during this synchronous call (the caller holds them), and
  // `disjoint` rules out aliasing between the shared and the exclusive slice before either is
  // used.
  let out = unsafe { dst.as_mut() };
  let input: &[u8] = src;
  if !disjoint(input, out) {
    return Err(invalid(format!("{call}: input and output overlap")));
  }
  if input.len() > i32::MAX as usize || out.len() > i32::MAX as usize {
    return Err(invalid(format!("{call}: buffers of 2 GiB or more")));
  }
  Ok((input, out))
}

/// Bytes compared at once by `first_diff` and `last_diff` before they look at single pixels.
const DIFF_BLOCK: usize = 64;

/// The first pixel where the rows `a` and `b` (4-byte pixels, the same length) differ. Equal
/// stretches are compared a block at a time, not pixel by pixel.
pub(crate) fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
  debug_assert_eq!(a.len(), b.len());
  if a == b {
    return None;
  }
  let mut at = 0;
  while at + DIFF_BLOCK <= a.len() && a[at..at + DIFF_BLOCK] == b[at..at + DIFF_BLOCK] {
    at += DIFF_BLOCK;
  }
  (at / 4..a.len() / 4).find(|&x| a[4 * x..4 * x + 4] != b[4 * x..4 * x + 4])
}

/// The last pixel where the rows `a` and `b` (4-byte pixels, the same length) differ.
pub(crate) fn last_diff(a: &[u8], b: &[u8]) -> Option<usize> {
  debug_assert_eq!(a.len(), b.len());
  if a == b {
    return None;
  }
  let mut end = a.len();
  while end >= DIFF_BLOCK && a[end - DIFF_BLOCK..end] == b[end - DIFF_BLOCK..end] {
    end -= DIFF_BLOCK;
  }
  (0..end / 4)
    .rev()
    .find(|&x| a[4 * x..4 * x + 4] != b[4 * x..4 * x + 4])
}

/// Copies the `w` x `h` rectangle at (sx, sy) of `src` to (dx, dy) of `dst`.
pub fn copy(src: &[u8], src_stride: usize, s: Rect, dst: &mut [u8], dst_stride: usize, d: Rect) {
  if s.w * 4 == src_stride && d.w * 4 == dst_stride && s.x == 0 && d.x == 0 {
    let (a, b) = (s.y * src_stride, d.y * dst_stride);
    let n = src_stride * s.h;
    dst[b..b + n].copy_from_slice(&src[a..a + n]);
    return;
  }
  for r in 0..s.h {
    dst[row(dst_stride, d, r)].copy_from_slice(&src[row(src_stride, s, r)]);
  }
}

/// The pixel filling `r`, or None when `r` is not uniform (or empty).
pub fn uniform(src: &[u8], stride: usize, r: Rect) -> Option<u32> {
  if r.is_empty() {
    return None;
  }
  let first = row(stride, r, 0);
  let pixel: [u8; 4] = src[first.start..first.start + 4].try_into().expect("4 bytes");
  let first_row = &src[first];
  if !first_row.chunks_exact(4).all(|p| p == pixel) {
    return None;
  }
  (1..r.h)
    .all(|i| &src[row(stride, r, i)] == first_row)
    .then(|| u32::from_le_bytes(pixel))
}

/// One bit per pixel of the rows `c` and `p`: set where they differ.
fn diff_mask(c: &[u8], p: &[u8], mask: &mut [u64]) {
  for (word, (cc, pc)) in mask.iter_mut().zip(c.chunks(256).zip(p.chunks(256))) {
    if cc == pc {
      *word = 0;
      continue;
    }
    let mut m = 0u64;
    for (j, (a, b)) in cc.chunks_exact(4).zip(pc.chunks_exact(4)).enumerate() {
      let x = u32::from_ne_bytes(a.try_into().expect("4 bytes"));
      let y = u32::from_ne_bytes(b.try_into().expect("4 bytes"));
      m |= ((x != y) as u64) << j;
    }
    *word = m;
  }
}

/// The first set bit of `mask` at or after `from`, among its first `len` bits.
fn next_set(mask: &[u64], from: usize, len: usize) -> Option<usize> {
  if from >= len {
    return None;
  }
  let mut i = from / 64;
  let mut word = mask[i] & (!0u64 << (from % 64));
  loop {
    if word != 0 {
      let at = i * 64 + word.trailing_zeros() as usize;
      return (at < len).then_some(at);
    }
    i += 1;
    if i * 64 >= len {
      return None;
    }
    word = mask[i];
  }
}

/// The first clear bit of `mask` at or after `from`, or `len`.
fn next_clear(mask: &[u64], from: usize, len: usize) -> usize {
  if from >= len {
    return len;
  }
  let mut i = from / 64;
  let mut word = !mask[i] & (!0u64 << (from % 64));
  loop {
    if word != 0 {
      return (i * 64 + word.trailing_zeros() as usize).min(len);
    }
    i += 1;
    if i * 64 >= len {
      return len;
    }
    word = !mask[i];
  }
}

/// Writes the span stream that turns `previous` into `current` inside `r`. Returns its length,
/// or None when it does not fit in `out`.
///
/// Pixels are numbered in row-major order inside `r`. A record covers a run of changed pixels
/// in which two consecutive changed ones are at most SPAN_GAP equal pixels apart (runs go on
/// across the end of a row), and carries every pixel from the run's first changed one to its
/// last. Rows are compared a 64-pixel block at a time, and changed pixels found through a bit
/// mask per row, so the work follows the changes rather than the pixels.
pub fn span_stream(current: &[u8], previous: &[u8], stride: usize, r: Rect, out: &mut [u8]) -> Option<usize> {
  span_stream_rows(
    |i| &current[row(stride, r, i)],
    |i| &previous[row(stride, r, i)],
    r.w,
    r.h,
    out,
  )
}

/// `span_stream` of a `w` x `h` rectangle given row by row: `current(i)` and `previous(i)` are
/// its row `i` (`w` pixels) in each picture.
pub fn span_stream_rows<'a, 'b>(
  current: impl Fn(usize) -> &'a [u8],
  previous: impl Fn(usize) -> &'b [u8],
  w: usize,
  h: usize,
  out: &mut [u8],
) -> Option<usize> {
  let r = Rect { x: 0, y: 0, w, h };
  let mut o = 0;
  // One past the last pixel of the last record written.
  let mut end = 0;
  // The first and last changed pixel of the run being gathered.
  let mut run: Option<(usize, usize)> = None;
  let mut mask = vec![0u64; r.w.div_ceil(64)];
  let mut write = |o: &mut usize, end: &mut usize, first: usize, last: usize| -> Option<()> {
    let mut skip = first - *end;
    while skip > MAX_SPAN {
      out
        .get_mut(*o..*o + 4)?
        .copy_from_slice(&(MAX_SPAN as u32).to_le_bytes());
      *o += 4;
      skip -= MAX_SPAN;
    }
    let mut k = first;
    while k <= last {
      let count = (last + 1 - k).min(MAX_SPAN);
      out
        .get_mut(*o..*o + 4)?
        .copy_from_slice(&((skip | count << 16) as u32).to_le_bytes());
      *o += 4;
      skip = 0;
      let mut left = count;
      while left > 0 {
        let (y, x) = (k / r.w, k % r.w);
        let n = left.min(r.w - x);
        out
          .get_mut(*o..*o + n * 4)?
          .copy_from_slice(&current(y)[x * 4..(x + n) * 4]);
        *o += n * 4;
        k += n;
        left -= n;
      }
    }
    *end = last + 1;
    Some(())
  };
  for y in 0..r.h {
    let (c, p) = (current(y), previous(y));
    if c == p {
      continue;
    }
    diff_mask(c, p, &mut mask);
    let base = y * r.w;
    let mut x = 0;
    while let Some(a) = next_set(&mask, x, r.w) {
      let b = next_clear(&mask, a, r.w);
      let (first, last) = (base + a, base + b - 1);
      run = match run {
        Some((s, l)) if first - l - 1 <= SPAN_GAP => Some((s, last)),
        Some((s, l)) => {
          write(&mut o, &mut end, s, l)?;
          Some((first, last))
        }
        None => Some((first, last)),
      };
      x = b;
    }
  }
  if let Some((s, l)) = run {
    write(&mut o, &mut end, s, l)?;
  }
  Some(o)
}

/// Why a span stream is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SpanError {
  /// The length is not a whole number of 4-byte words.
  Length,
  /// A record announces more pixels than the stream holds.
  Truncated,
  /// The records run past the end of the tile.
  Overrun,
}

impl std::fmt::Display for SpanError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(match self {
      SpanError::Length => "the span stream is not a whole number of 4-byte words",
      SpanError::Truncated => "a span announces more pixels than the stream carries",
      SpanError::Overrun => "the spans run past the end of the tile",
    })
  }
}

/// Applies a span stream to `r` of `dst`. The whole stream is checked first: on error, `dst` is
/// untouched.
pub fn apply_span_stream(
  stream: &[u8],
  dst: &mut [u8],
  stride: usize,
  r: Rect,
) -> std::result::Result<(), SpanError> {
  if !stream.len().is_multiple_of(4) {
    return Err(SpanError::Length);
  }
  let total = r.w * r.h;
  let records = || {
    let mut pos = 0;
    let mut k = 0;
    std::iter::from_fn(move || {
      if pos >= stream.len() {
        return None;
      }
      let header = u32::from_le_bytes(stream[pos..pos + 4].try_into().expect("4 bytes")) as usize;
      let (skip, count) = (header & 0xffff, header >> 16);
      pos += 4;
      let record = (k + skip, count, pos);
      k += skip + count;
      pos += count * 4;
      Some(record)
    })
  };
  for (k, count, pos) in records() {
    if stream.len() < pos + count * 4 {
      return Err(SpanError::Truncated);
    }
    if k + count > total {
      return Err(SpanError::Overrun);
    }
  }
  for (mut k, mut count, mut pos) in records() {
    while count > 0 {
      let (y, x) = (k / r.w, k % r.w);
      let n = count.min(r.w - x);
      let start = (r.y + y) * stride + (r.x + x) * 4;
      dst[start..start + n * 4].copy_from_slice(&stream[pos..pos + n * 4]);
      k += n;
      pos += n * 4;
      count -= n;
    }
  }
  Ok(())
}

// ---- JavaScript API ----

/// Copies the `width` x `height` rectangle at (sx, sy) of `src` (`srcStride` bytes per row) to
/// (dx, dy) of `dst`. The two must not share memory.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn copy_pixels(
  src: Uint8ArraySlice<'_>,
  src_stride: u32,
  sx: u32,
  sy: u32,
  mut dst: Uint8ArraySlice<'_>,
  dst_stride: u32,
  dx: u32,
  dy: u32,
  width: u32,
  height: u32,
) -> Result<()> {
  let (from, out) = views("copyPixels", &src, &mut dst)?;
  let (s, d) = (Rect::new(sx, sy, width, height), Rect::new(dx, dy, width, height));
  check_rect("copyPixels source", from.len(), src_stride as usize, s)?;
  check_rect("copyPixels destination", out.len(), dst_stride as usize, d)?;
  if !s.is_empty() {
    copy(from, src_stride as usize, s, out, dst_stride as usize, d);
  }
  Ok(())
}

/// Applies a span stream to the rectangle of `dst`. Throws (code EBADMSG) without changing
/// `dst` when the stream is malformed or runs past the rectangle.
#[napi]
pub fn apply_spans(
  stream: Uint8ArraySlice<'_>,
  mut dst: Uint8ArraySlice<'_>,
  stride: u32,
  x: u32,
  y: u32,
  width: u32,
  height: u32,
) -> Result<()> {
  let r = Rect::new(x, y, width, height);
  let (data, out) = views("applySpans", &stream, &mut dst)?;
  check_rect("applySpans", out.len(), stride as usize, r)?;
  apply_span_stream(data, out, stride as usize, r).map_err(|e| error("EBADMSG", format!("applySpans: {e}")))
}

#[cfg(test)]
mod tests {
  use super::*;

  const W: usize = 40;
  const H: usize = 30;
  const STRIDE: usize = W * 4;

  fn image(seed: u32) -> Vec<u8> {
    (0..(W * H) as u32)
      .flat_map(|i| (i.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes())
      .collect()
  }

  fn set(px: &mut [u8], x: usize, y: usize, v: u32) {
    let at = y * STRIDE + x * 4;
    px[at..at + 4].copy_from_slice(&v.to_le_bytes());
  }

  fn rect(x: usize, y: usize, w: usize, h: usize) -> Rect {
    Rect { x, y, w, h }
  }

  #[test]
  fn first_and_last_diff_find_the_pixel_in_any_block() {
    let naive_first =
      |a: &[u8], b: &[u8]| (0..a.len() / 4).find(|&x| a[4 * x..4 * x + 4] != b[4 * x..4 * x + 4]);
    let naive_last = |a: &[u8], b: &[u8]| {
      (0..a.len() / 4)
        .rev()
        .find(|&x| a[4 * x..4 * x + 4] != b[4 * x..4 * x + 4])
    };
    for len in [1usize, 15, 16, 17, 40, 64, 65, 130] {
      let a: Vec<u8> = (0..len * 4).map(|i| (i * 7 % 251) as u8).collect();
      assert_eq!((first_diff(&a, &a), last_diff(&a, &a)), (None, None), "len {len}");
      for x in 0..len {
        for byte in 0..4 {
          let mut b = a.clone();
          b[4 * x + byte] ^= 0x10;
          assert_eq!(first_diff(&a, &b), Some(x), "len {len} pixel {x} byte {byte}");
          assert_eq!(last_diff(&a, &b), Some(x), "len {len} pixel {x} byte {byte}");
        }
        // Two pixels apart: the first and the last are told apart.
        let y = (x * 5 + 3) % len;
        let mut b = a.clone();
        b[4 * x] ^= 1;
        b[4 * y + 3] ^= 1;
        assert_eq!(
          first_diff(&a, &b),
          naive_first(&a, &b),
          "len {len} pixels {x} {y}"
        );
        assert_eq!(last_diff(&a, &b), naive_last(&a, &b), "len {len} pixels {x} {y}");
      }
    }
  }

  #[test]
  fn rectangles_outside_the_buffer_are_refused() {
    let len = STRIDE * H;
    assert!(check_rect("t", len, STRIDE, rect(0, 0, W, H)).is_ok());
    assert!(check_rect("t", len, STRIDE, rect(1, 0, W, 1)).is_err());
    assert!(check_rect("t", len, STRIDE, rect(0, 1, W, H)).is_err());
    assert!(check_rect("t", len, STRIDE, rect(usize::MAX / 2, 0, 4, 1)).is_err());
    assert!(check_rect("t", len, STRIDE, rect(0, H, 0, 5)).is_ok());
  }

  #[test]
  fn copy_moves_exactly_the_rectangle() {
    let src = image(1);
    let mut dst = vec![0u8; STRIDE * H];
    copy(
      &src,
      STRIDE,
      rect(3, 4, 5, 6),
      &mut dst,
      STRIDE,
      rect(10, 11, 5, 6),
    );
    for y in 0..H {
      for x in 0..W {
        let d = &dst[y * STRIDE + x * 4..][..4];
        if (10..15).contains(&x) && (11..17).contains(&y) {
          assert_eq!(d, &src[(y - 7) * STRIDE + (x - 7) * 4..][..4]);
        } else {
          assert_eq!(d, &[0, 0, 0, 0]);
        }
      }
    }
    // Contiguous rows: one copy into a packed buffer and back.
    let mut packed = vec![0u8; STRIDE * 3];
    copy(
      &src,
      STRIDE,
      rect(0, 2, W, 3),
      &mut packed,
      STRIDE,
      rect(0, 0, W, 3),
    );
    assert_eq!(packed, src[2 * STRIDE..5 * STRIDE]);
  }

  #[test]
  fn uniform_finds_the_fill_colour() {
    let mut px = vec![0u8; STRIDE * H];
    for y in 0..H {
      for x in 0..W {
        set(&mut px, x, y, 0xff00_ff00);
      }
    }
    assert_eq!(uniform(&px, STRIDE, rect(0, 0, W, H)), Some(0xff00_ff00));
    set(&mut px, 39, 29, 1);
    assert_eq!(uniform(&px, STRIDE, rect(0, 0, W, H)), None);
    assert_eq!(uniform(&px, STRIDE, rect(0, 0, 39, H)), Some(0xff00_ff00));
    set(&mut px, 5, 0, 1);
    assert_eq!(uniform(&px, STRIDE, rect(0, 0, 39, 29)), None);
  }

  fn spans_roundtrip(prev: &[u8], cur: &[u8], r: Rect) -> usize {
    let mut stream = vec![0u8; 8 * r.w * r.h + 64];
    let n = span_stream(cur, prev, STRIDE, r, &mut stream).expect("fits");
    let mut out = prev.to_vec();
    apply_span_stream(&stream[..n], &mut out, STRIDE, r).unwrap();
    // Inside the rectangle `out` is `cur`, outside it is still `prev`.
    for y in 0..H {
      for x in 0..W {
        let at = y * STRIDE + x * 4..y * STRIDE + x * 4 + 4;
        let inside = (r.x..r.x + r.w).contains(&x) && (r.y..r.y + r.h).contains(&y);
        assert_eq!(
          &out[at.clone()],
          if inside { &cur[at] } else { &prev[at] },
          "pixel {x},{y}"
        );
      }
    }
    n
  }

  #[test]
  fn span_streams_carry_only_what_changed() {
    let prev = image(1);
    assert_eq!(spans_roundtrip(&prev, &prev, rect(0, 0, W, H)), 0);
    let mut cur = prev.clone();
    set(&mut cur, 7, 3, 1);
    // One record: header and one pixel.
    assert_eq!(spans_roundtrip(&prev, &cur, rect(0, 0, W, H)), 8);
    // Two changes SPAN_GAP apart are one run; further apart, two records.
    set(&mut cur, 7 + SPAN_GAP + 1, 3, 1);
    assert_eq!(
      spans_roundtrip(&prev, &cur, rect(0, 0, W, H)),
      4 + (SPAN_GAP + 2) * 4
    );
    set(&mut cur, 30, 20, 2);
    assert_eq!(
      spans_roundtrip(&prev, &cur, rect(0, 0, W, H)),
      4 + (SPAN_GAP + 2) * 4 + 8
    );
    // A run across the end of a row continues on the next one.
    let mut wrap = prev.clone();
    set(&mut wrap, W - 1, 4, 3);
    set(&mut wrap, 0, 5, 3);
    assert_eq!(spans_roundtrip(&prev, &wrap, rect(0, 0, W, H)), 4 + 2 * 4);
    // Sub-rectangles and everything changed.
    spans_roundtrip(&prev, &cur, rect(5, 2, 10, 20));
    spans_roundtrip(&prev, &image(2), rect(0, 0, W, H));
    spans_roundtrip(&prev, &image(2), rect(13, 7, 1, 1));
  }

  #[test]
  fn encode_spans_gives_up_when_out_is_too_small() {
    let (prev, cur) = (image(1), image(2));
    let mut out = vec![0u8; 100];
    assert_eq!(span_stream(&cur, &prev, STRIDE, rect(0, 0, W, H), &mut out), None);
  }

  #[test]
  fn long_skips_are_split_into_records_of_at_most_65535() {
    let w = 300;
    let h = 300;
    let stride = w * 4;
    let prev = vec![0u8; stride * h];
    let mut cur = prev.clone();
    cur[stride * (h - 1) + (w - 1) * 4] = 9;
    let mut out = vec![0u8; 64];
    let n = span_stream(&cur, &prev, stride, rect(0, 0, w, h), &mut out).unwrap();
    assert_eq!(n, 4 + 4 + 4);
    let mut back = prev.clone();
    apply_span_stream(&out[..n], &mut back, stride, rect(0, 0, w, h)).unwrap();
    assert_eq!(back, cur);
  }

  #[test]
  fn malformed_span_streams_change_nothing() {
    let prev = image(1);
    let r = rect(0, 0, 4, 4);
    let header = |skip: u32, count: u32| (skip | count << 16).to_le_bytes();
    let check = |stream: &[u8], e: SpanError| {
      let mut out = prev.clone();
      assert_eq!(apply_span_stream(stream, &mut out, STRIDE, r), Err(e));
      assert_eq!(out, prev);
    };
    check(&[1, 2, 3], SpanError::Length);
    check(&header(0, 2), SpanError::Truncated);
    let mut over = header(15, 2).to_vec();
    over.extend_from_slice(&[0u8; 8]);
    check(&over, SpanError::Overrun);
    // A valid record followed by a bad one: nothing is applied.
    let mut mixed = header(0, 1).to_vec();
    mixed.extend_from_slice(&[9u8; 4]);
    mixed.extend_from_slice(&header(20, 0));
    check(&mixed, SpanError::Overrun);
  }
}
