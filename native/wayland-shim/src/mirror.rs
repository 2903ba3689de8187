//! The transmitter's picture of what a receiver shows of one surface (frame.rs), kept row by
//! row through a table: each row of the picture is a row of one buffer, in any order. A scroll
//! the encoder sends as one `copy` tile moves the mirror's rows the same way, and with the table
//! a moved row is a new entry, not a copy of its pixels: a terminal that scrolls a line, or a page
//! that scrolls a few pixels, moves its rows' entries and copies only the few rows the move
//! leaves behind (and the columns beside it when it does not span the width). The buffer's rows
//! are `width * 4` bytes, pixels as the surface's.

use crate::pixels::Rect;

#[derive(Default)]
pub struct Mirror {
  buf: Vec<u8>,
  /// Byte offset in `buf` of each row of the picture.
  rows: Vec<usize>,
  stride: usize,
  /// Scratch for the rows a move leaves behind, kept between moves.
  spare: Vec<u8>,
}

impl Mirror {
  /// A `width` x `height` mirror of transparent black.
  pub fn new(width: usize, height: usize) -> Mirror {
    let stride = width * 4;
    Mirror {
      buf: vec![0; stride * height],
      rows: (0..height).map(|y| y * stride).collect(),
      stride,
      spare: Vec::new(),
    }
  }

  /// A mirror holding `pixels` (`width` pixels a row, packed).
  #[cfg(test)]
  pub fn from_pixels(width: usize, pixels: &[u8]) -> Mirror {
    let mut m = Mirror::new(width, pixels.len() / (width * 4));
    m.buf.copy_from_slice(pixels);
    m
  }

  pub fn is_empty(&self) -> bool {
    self.buf.is_empty()
  }

  /// Bytes of pixels held.
  pub fn len(&self) -> usize {
    self.buf.len()
  }

  /// Pixels `x..x + w` of row `y`.
  #[inline]
  pub fn px(&self, y: usize, x: usize, w: usize) -> &[u8] {
    let at = self.rows[y] + x * 4;
    &self.buf[at..at + w * 4]
  }

  #[inline]
  pub fn px_mut(&mut self, y: usize, x: usize, w: usize) -> &mut [u8] {
    let at = self.rows[y] + x * 4;
    &mut self.buf[at..at + w * 4]
  }

  /// Row `i` of rectangle `r`.
  #[inline]
  pub fn row_of(&self, r: Rect, i: usize) -> &[u8] {
    self.px(r.y + i, r.x, r.w)
  }

  /// Copies `r` of `src` (`src_stride` bytes a row) to the same place here.
  pub fn copy_from(&mut self, src: &[u8], src_stride: usize, r: Rect) {
    for i in 0..r.h {
      let s = (r.y + i) * src_stride + r.x * 4;
      self
        .px_mut(r.y + i, r.x, r.w)
        .copy_from_slice(&src[s..s + r.w * 4]);
    }
  }

  /// Copies `r` of the mirror to the same place of `dst` (`stride` bytes a row).
  pub fn copy_to(&self, r: Rect, dst: &mut [u8], stride: usize) {
    for i in 0..r.h {
      let d = (r.y + i) * stride + r.x * 4;
      dst[d..d + r.w * 4].copy_from_slice(self.row_of(r, i));
    }
  }

  /// Moves the pixels of rows `src_y..src_y + r.h` to `r` (the same columns), as a memmove of
  /// each row would: the rows may overlap, and every pixel outside `r` keeps its value. The
  /// rows of `r` take the table entries of their sources; the source rows outside `r` keep their
  /// pixels in the rows `r` gave up, and where `r` does not span the width, its rows get their
  /// own columns beside it back.
  pub fn move_rows(&mut self, r: Rect, src_y: usize) {
    if r.h == 0 || r.w == 0 || src_y == r.y {
      return;
    }
    let (dst, src) = (r.y..r.y + r.h, src_y..src_y + r.h);
    let beside: Vec<(usize, usize)> = [(0, r.x), (r.x + r.w, self.stride / 4)]
      .into_iter()
      .filter(|(a, b)| a < b)
      .map(|(a, b)| (a * 4, b * 4))
      .collect();
    // The rows of the source that `r` does not cover keep their pixels, in rows `r` gives up
    // (as many): their columns of `r` go there at once (the columns of `r` are not read below);
    // their columns beside `r` are kept aside, as the rows' own columns beside `r` go back to
    // them first.
    let left: Vec<usize> = src.clone().filter(|y| !dst.contains(y)).collect();
    let freed: Vec<usize> = dst
      .clone()
      .filter(|y| !src.contains(y))
      .map(|y| self.rows[y])
      .collect();
    let inside = (r.x * 4, (r.x + r.w) * 4);
    self.spare.clear();
    for (&y, &to) in left.iter().zip(&freed) {
      let from = self.rows[y];
      self
        .buf
        .copy_within(from + inside.0..from + inside.1, to + inside.0);
      for &(a, b) in &beside {
        self.spare.extend_from_slice(&self.buf[from + a..from + b]);
      }
    }
    // Each row of `r` takes its own columns beside `r` back from the row its entry had, in the
    // order that reads each before it is written (as memmove's).
    if !beside.is_empty() {
      for k in 0..r.h {
        let i = if src_y > r.y { r.h - 1 - k } else { k };
        let (to, from) = (self.rows[src_y + i], self.rows[r.y + i]);
        for &(a, b) in &beside {
          self.buf.copy_within(from + a..from + b, to + a);
        }
      }
    }
    self.rows.copy_within(src, r.y);
    let mut k = 0;
    for (&y, &to) in left.iter().zip(&freed) {
      for &(a, b) in &beside {
        self.buf[to + a..to + b].copy_from_slice(&self.spare[k..k + b - a]);
        k += b - a;
      }
      self.rows[y] = to;
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn picture(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut s = seed;
    (0..w * h * 4)
      .map(|_| {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (s >> 16) as u8
      })
      .collect()
  }

  fn contents(m: &Mirror, w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h * 4];
    m.copy_to(Rect { x: 0, y: 0, w, h }, &mut out, w * 4);
    out
  }

  #[test]
  fn a_move_leaves_the_pixels_a_memmove_of_each_row_leaves() {
    let (w, h) = (23, 40);
    let mut seed = 1;
    for r in [
      Rect { x: 0, y: 0, w, h: 30 },
      Rect { x: 0, y: 5, w, h: 30 },
      Rect {
        x: 3,
        y: 2,
        w: 15,
        h: 20,
      },
      Rect {
        x: 0,
        y: 10,
        w: 9,
        h: 25,
      },
      Rect {
        x: 14,
        y: 1,
        w: 9,
        h: 8,
      },
      Rect {
        x: 5,
        y: 0,
        w: 1,
        h: 1,
      },
    ] {
      for src_y in 0..=h - r.h {
        seed += 1;
        let start = picture(w, h, seed);
        let mut expected = start.clone();
        crate::scroll::move_rows(&mut expected, w * 4, r, r.x, src_y);
        let mut m = Mirror::from_pixels(w, &start);
        m.move_rows(r, src_y);
        assert!(contents(&m, w, h) == expected, "{r:?} from row {src_y}");
        // Moves in a row: the table, not the buffer, keeps the order.
        let back = (src_y + 7) % (h - r.h + 1);
        crate::scroll::move_rows(&mut expected, w * 4, r, r.x, back);
        m.move_rows(r, back);
        assert!(contents(&m, w, h) == expected, "{r:?} from {src_y}, then {back}");
        let mut rows: Vec<usize> = m.rows.clone();
        rows.sort_unstable();
        assert_eq!(
          rows,
          (0..h).map(|y| y * w * 4).collect::<Vec<_>>(),
          "each buffer row once"
        );
      }
    }
  }
}
