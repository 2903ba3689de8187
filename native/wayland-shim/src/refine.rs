//! Copying a client's damaged pixels into the scene while finding what really changed.
//!
//! Clients damage more than they change: a terminal damages its whole window for every line it
//! prints, where a few glyphs differ. `copy_changed` copies a damaged rectangle of the client's
//! buffer over the previous content in one pass that compares as it goes (an equal row or tile
//! segment is not written), and reports where the pixels differed as rectangles cut to a grid:
//! per band of `grid` rows, the runs of `grid`-wide columns with a change, each cut to its
//! changed rows. Consumers then diff and encode only those (the transmitter's encoder no longer
//! compares the unchanged rest against its mirror).

use napi::bindgen_prelude::{Int32ArraySlice, Uint8ArraySlice};
use napi_derive::napi;

use crate::error::{invalid, Result};
use crate::pixels::{check_rect, row, views, Rect};

/// One column of a band: the first and one-past-last changed row, if any.
#[derive(Clone, Copy)]
struct Col {
  first: usize,
  end: usize,
}

const NONE: Col = Col {
  first: usize::MAX,
  end: 0,
};

/// Copies `r` of `src` (stride `src_stride`) to the same place of `dst` (stride `dst_stride`)
/// where they differ, and appends the changed rectangles (grid-cut, see the module) to `out`
/// as x, y, width, height. Returns false when more than `max_rects` would be needed: the copy
/// is complete all the same, and `out` holds the first `max_rects`.
#[allow(clippy::too_many_arguments)]
pub fn copy_changed_into(
  src: &[u8],
  src_stride: usize,
  dst: &mut [u8],
  dst_stride: usize,
  r: Rect,
  grid: usize,
  max_rects: usize,
  out: &mut Vec<[usize; 4]>,
) -> bool {
  if r.is_empty() {
    return true;
  }
  let c0 = r.x / grid;
  let c1 = (r.x + r.w - 1) / grid + 1;
  let mut cols = vec![NONE; c1 - c0];
  let mut fits = true;
  let mut band_y = r.y;
  while band_y < r.y + r.h {
    let band_end = ((band_y / grid + 1) * grid).min(r.y + r.h);
    cols.fill(NONE);
    let mut any = false;
    for y in band_y..band_end {
      let line = Rect {
        x: r.x,
        y,
        w: r.w,
        h: 1,
      };
      let (s, d) = (row(src_stride, line, 0), row(dst_stride, line, 0));
      if src[s.clone()] == dst[d.clone()] {
        continue;
      }
      any = true;
      for (i, col) in cols.iter_mut().enumerate() {
        let x0 = ((c0 + i) * grid).max(r.x);
        let x1 = ((c0 + i + 1) * grid).min(r.x + r.w);
        let (a, b) = (s.start + (x0 - r.x) * 4, s.start + (x1 - r.x) * 4);
        let (e, f) = (d.start + (x0 - r.x) * 4, d.start + (x1 - r.x) * 4);
        if src[a..b] != dst[e..f] {
          dst[e..f].copy_from_slice(&src[a..b]);
          col.first = col.first.min(y);
          col.end = y + 1;
        }
      }
    }
    if any {
      let mut i = 0;
      while i < cols.len() {
        if cols[i].end == 0 {
          i += 1;
          continue;
        }
        let (mut top, mut bottom) = (cols[i].first, cols[i].end);
        let start = i;
        while i < cols.len() && cols[i].end != 0 {
          top = top.min(cols[i].first);
          bottom = bottom.max(cols[i].end);
          i += 1;
        }
        let x0 = ((c0 + start) * grid).max(r.x);
        let x1 = ((c0 + i) * grid).min(r.x + r.w);
        if out.len() < max_rects {
          out.push([x0, top, x1 - x0, bottom - top]);
        } else {
          fits = false;
        }
      }
    }
    band_y = band_end;
  }
  fits
}

/// Copies the `width` x `height` rectangle at (x, y) of `src` (`srcStride` bytes per row) to the
/// same place of `dst` (`dstStride` bytes per row), writing only what differs, and writes the
/// rectangles where it differed (x, y, width, height quadruples, cut to a grid of `grid` pixels)
/// to `out`. Returns how many; -1 when they do not fit `out` (the copy is complete all the same:
/// take the whole rectangle as changed).
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn copy_changed(
  src: Uint8ArraySlice<'_>,
  src_stride: u32,
  mut dst: Uint8ArraySlice<'_>,
  dst_stride: u32,
  x: u32,
  y: u32,
  width: u32,
  height: u32,
  grid: u32,
  mut out: Int32ArraySlice<'_>,
) -> Result<i32> {
  let (from, to) = views("copyChanged", &src, &mut dst)?;
  let r = Rect::new(x, y, width, height);
  check_rect("copyChanged source", from.len(), src_stride as usize, r)?;
  check_rect("copyChanged destination", to.len(), dst_stride as usize, r)?;
  if grid < 4 {
    return Err(invalid(format!("copyChanged: grid {grid} is less than 4 pixels")));
  }
  // SAFETY: `out` is an Int32Array the caller holds during this synchronous call; no other view
  // of it is used here.
  let quads = unsafe { out.as_mut() };
  let max_rects = quads.len() / 4;
  let mut rects = Vec::new();
  let fits = copy_changed_into(
    from,
    src_stride as usize,
    to,
    dst_stride as usize,
    r,
    grid as usize,
    max_rects,
    &mut rects,
  );
  if !fits {
    return Ok(-1);
  }
  for (q, rect) in quads.chunks_exact_mut(4).zip(&rects) {
    for (v, n) in q.iter_mut().zip(rect) {
      *v = *n as i32;
    }
  }
  Ok(rects.len() as i32)
}

#[cfg(test)]
mod tests {
  use super::*;

  const W: usize = 300;
  const H: usize = 200;

  fn image(seed: u32) -> Vec<u8> {
    (0..(W * H) as u32)
      .flat_map(|i| (i.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes())
      .collect()
  }

  fn set(img: &mut [u8], x: usize, y: usize, v: u32) {
    img[(y * W + x) * 4..(y * W + x) * 4 + 4].copy_from_slice(&v.to_le_bytes());
  }

  const FULL: Rect = Rect {
    x: 0,
    y: 0,
    w: W,
    h: H,
  };

  /// `copy_changed_into` of `r` from `src` (`src_stride` bytes a row) into `dst` (W pixels a
  /// row): whether the rectangles fitted `max_rects`, and the rectangles.
  fn copy(
    src: &[u8],
    src_stride: usize,
    dst: &mut [u8],
    r: Rect,
    grid: usize,
    max_rects: usize,
  ) -> (bool, Vec<[usize; 4]>) {
    let mut out = Vec::new();
    let fits = copy_changed_into(src, src_stride, dst, W * 4, r, grid, max_rects, &mut out);
    (fits, out)
  }

  #[test]
  fn copies_everything_and_reports_only_the_changed_cells() {
    let prev = image(1);
    let mut src = prev.clone();
    set(&mut src, 10, 5, 0xdead_beef);
    set(&mut src, 70, 70, 0xdead_beef);
    set(&mut src, 75, 80, 0xfeed_f00d);
    set(&mut src, 299, 199, 1);
    let mut dst = prev.clone();
    let (fits, out) = copy(&src, W * 4, &mut dst, FULL, 64, 100);
    assert!(fits);
    assert_eq!(dst, src);
    assert_eq!(out, vec![[0, 5, 64, 1], [64, 70, 64, 11], [256, 199, 44, 1]]);
  }

  #[test]
  fn adjacent_changed_columns_make_one_run_cut_to_the_damage() {
    let prev = image(2);
    let mut src = prev.clone();
    set(&mut src, 60, 10, 7);
    set(&mut src, 100, 20, 7);
    set(&mut src, 140, 30, 7);
    let mut dst = prev.clone();
    let r = Rect {
      x: 50,
      y: 3,
      w: 100,
      h: 30,
    };
    let (fits, out) = copy(&src, W * 4, &mut dst, r, 64, 100);
    assert!(fits);
    // grid columns 0, 1 and 2 changed: one run, cut to the damage's columns 50..150
    assert_eq!(out, vec![[50, 10, 100, 21]]);
    assert_eq!(dst, src);
  }

  #[test]
  fn nothing_changed_nothing_reported() {
    let prev = image(3);
    let mut dst = prev.clone();
    let (fits, out) = copy(&prev, W * 4, &mut dst, FULL, 64, 10);
    assert!(fits);
    assert!(out.is_empty());
  }

  #[test]
  fn too_many_rects_is_reported_and_the_copy_is_still_complete() {
    let prev = image(4);
    let src = image(5);
    let mut dst = prev.clone();
    let (fits, out) = copy(&src, W * 4, &mut dst, FULL, 16, 3);
    assert!(!fits);
    assert_eq!(out.len(), 3);
    assert_eq!(dst, src);
  }

  #[test]
  fn a_source_stride_other_than_the_destination_s() {
    let stride = W * 4 + 64;
    let prev = image(6);
    let mut src = vec![0u8; stride * H];
    for y in 0..H {
      src[y * stride..y * stride + W * 4].copy_from_slice(&prev[y * W * 4..(y + 1) * W * 4]);
    }
    src[(100 * stride) + 8..(100 * stride) + 12].copy_from_slice(&9u32.to_le_bytes());
    let mut dst = prev.clone();
    let (fits, out) = copy(&src, stride, &mut dst, FULL, 64, 10);
    assert!(fits);
    assert_eq!(out, vec![[0, 100, 64, 1]]);
    assert_eq!(&dst[100 * W * 4 + 8..100 * W * 4 + 12], &9u32.to_le_bytes());
  }

  #[test]
  fn changes_scattered_over_the_cells_of_a_row_are_all_copied_and_each_reported_once() {
    let mut rng = crate::codec::content::Rng(0x5eed);
    for round in 0..200 {
      let prev = image(round);
      let mut src = prev.clone();
      // A few rows with changes in a random choice of cells, some next to each other.
      let rows: Vec<usize> = (0..1 + rng.next() as usize % 4)
        .map(|_| rng.next() as usize % H)
        .collect();
      let mut changed = Vec::new();
      for &y in &rows {
        for cell in 0..W.div_ceil(16) {
          if rng.next().is_multiple_of(3) {
            let x = (cell * 16 + rng.next() as usize % 16).min(W - 1);
            set(&mut src, x, y, rng.next() | 1 << 31);
            changed.push((x, y));
          }
        }
      }
      let mut dst = prev.clone();
      let (fits, out) = copy(&src, W * 4, &mut dst, FULL, 16, 1000);
      assert!(fits);
      assert_eq!(dst, src, "round {round}");
      let covered = |x: usize, y: usize| {
        out
          .iter()
          .filter(|q| x >= q[0] && x < q[0] + q[2] && y >= q[1] && y < q[1] + q[3])
          .count()
      };
      for &(x, y) in &changed {
        if prev[(y * W + x) * 4..(y * W + x) * 4 + 4] != src[(y * W + x) * 4..(y * W + x) * 4 + 4] {
          assert_eq!(covered(x, y), 1, "round {round}: ({x}, {y})");
        }
      }
    }
  }
}
