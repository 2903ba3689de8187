//! Vertical scrolling, found by the transmitter's frame encoder (frame.rs) and sent as one
//! `copy` tile: a terminal that scrolls by a line, a list or a page that scrolls by a few pixels,
//! changes every pixel of its window, which diffing and compression then carry as a whole new
//! picture. Found as a move of the mirror's rows, it is a copy of pixels the receiver already has
//! plus the few rows that are new.
//!
//! `find` compares the new pixels of an area with the mirror shifted up or down, in the columns
//! that changed (a window's frame beside its text does not move). It looks for the shift with a
//! few sample rows of the new pixels, each matched against a cheap fingerprint of
//! every mirror row (a handful of pixels across the row), the candidates then compared in full;
//! the shift found is checked row by row over the whole area, and the longest run of rows that
//! match exactly is the copy (when the samples moved across the whole width, every row is first
//! checked across it, one comparison a row, and all of them must match). Nothing is assumed:
//! every row of the copy was compared.

use crate::mirror::Mirror;
use crate::pixels::{first_diff, last_diff, row, Rect};

/// Rows a copy covers at least (a shorter one saves too little to be worth a message).
pub const MIN_ROWS: usize = 16;
/// Sample rows of the new pixels looked up in the mirror.
const SAMPLES: usize = 8;
/// Pixels per row in a fingerprint.
const FINGERPRINT_PIXELS: usize = 24;
/// Candidate rows compared in full per sample row.
const MAX_CANDIDATES: usize = 24;

/// A vertical move found in an area: `dst` of the new pixels equals the mirror's rows
/// `src_y..src_y + dst.h` at the same columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scroll {
  pub dst: Rect,
  pub src_y: usize,
}

/// What a search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
  Found(Scroll),
  /// Most sample rows changed and none of them moved: new content all over (video, a new page).
  NotMoved,
  /// The area is small, or few of its rows or columns changed: nothing to say either way.
  Unsure,
}

impl Search {
  pub fn found(self) -> Option<Scroll> {
    match self {
      Search::Found(s) => Some(s),
      _ => None,
    }
  }
}

#[cfg(test)]
thread_local! {
  /// Fingerprints taken by this thread (tests count what a search reads).
  static FINGERPRINTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
  /// Rows whose columns beside the changed ones were compared (the extension of a copy).
  static EXTENDED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A fingerprint of a row of pixels: a handful of them across it.
fn fingerprint(row: &[u8]) -> u64 {
  #[cfg(test)]
  FINGERPRINTS.with(|n| n.set(n.get() + 1));
  let w = row.len() / 4;
  let mut h: u64 = 0xcbf2_9ce4_8422_2325;
  for k in 0..FINGERPRINT_PIXELS {
    let at = (k * w / FINGERPRINT_PIXELS) * 4;
    let p = u32::from_le_bytes([row[at], row[at + 1], row[at + 2], row[at + 3]]);
    h = (h ^ p as u64).wrapping_mul(0x0000_0100_0000_01b3);
  }
  h
}

fn uniform_row(row: &[u8]) -> bool {
  let first = &row[..4];
  row.chunks_exact(4).all(|p| p == first)
}

/// The vertical move that best explains the new pixels `src` (stride `src_stride`) inside
/// `area`, against `mirror`, if one covers at least `MIN_ROWS` rows and a
/// quarter of the area. Sample rows that did not change, or are one colour, say nothing.
/// `hint`: a shift to try first, by one comparison per sample (the last frame's: a terminal or
/// a list scrolls by the same lines frame after frame), before any fingerprint is taken.
pub fn find(src: &[u8], src_stride: usize, mirror: &Mirror, area: Rect, hint: Option<isize>) -> Search {
  if area.h < 2 * MIN_ROWS || area.w < FINGERPRINT_PIXELS {
    return Search::Unsure;
  }
  let src_row = |i: usize| &src[row(src_stride, area, i)];
  let mirror_row = |i: usize| mirror.row_of(area, i);
  // Most samples must have changed: a frame with a few changed rows is no scroll.
  let samples: Vec<usize> = (0..SAMPLES)
    .map(|k| (2 * k + 1) * area.h / (2 * SAMPLES))
    .collect();
  let mut changed: Vec<usize> = samples
    .iter()
    .copied()
    .filter(|&i| src_row(i) != mirror_row(i))
    .collect();
  if changed.len() * 2 < SAMPLES {
    return Search::Unsure;
  }
  // The columns that changed in those rows: a window's frame beside the text stays (and may
  // differ from row to row, as a shadow does), so the copy is cut to what moved.
  let (mut lo, mut hi) = (area.w, 0);
  for &i in &changed {
    let (s, m) = (src_row(i), mirror_row(i));
    if let (Some(first), Some(last)) = (first_diff(s, m), last_diff(s, m)) {
      lo = lo.min(first);
      hi = hi.max(last + 1);
    }
  }
  if hi < lo + FINGERPRINT_PIXELS {
    return Search::Unsure;
  }
  let whole = area;
  let area = Rect {
    x: area.x + lo,
    y: area.y,
    w: hi - lo,
    h: area.h,
  };
  let src_row = |i: usize| &src[row(src_stride, area, i)];
  let mirror_row = |i: usize| mirror.row_of(area, i);
  // Fingerprints of the mirror's rows, taken as the search reaches them: a short scroll is found
  // among the rows near the samples, and each fingerprint reads 24 cache lines of a mirror that is
  // seldom in the cache.
  let mut prints: Vec<Option<u64>> = vec![None; area.h];
  let mut print_of = |j: usize| *prints[j].get_or_insert_with(|| fingerprint(mirror_row(j)));
  // Votes for each shift (mirror row - new row) from the changed, non-uniform samples; the hint
  // is a candidate without a vote yet.
  let mut votes: Vec<(isize, usize)> = hint.map(|h| (h, 0)).into_iter().collect();
  // The middle samples first: they lie in what moved, whatever the direction; the ones at the
  // edge may be the new rows.
  changed.sort_by_key(|&i| i.abs_diff(area.h / 2));
  for &i in &changed {
    let s = src_row(i);
    if uniform_row(s) {
      continue;
    }
    // A shift another sample found is tried first, by one comparison: the rows of a scroll
    // moved alike.
    let known = votes.iter_mut().find(|(shift, _)| {
      let j = i as isize + *shift;
      j >= 0 && (j as usize) < area.h && mirror_row(j as usize) == s
    });
    if let Some((_, n)) = known {
      *n += 1;
      continue;
    }
    // A row that a known shift brings in from outside the area is new content: the mirror has
    // it nowhere, and looking for it would take a fingerprint of every mirror row.
    if votes.iter().any(|&(shift, n)| {
      let j = i as isize + shift;
      n > 0 && (j < 0 || j as usize >= area.h)
    }) {
      continue;
    }
    let print = fingerprint(s);
    let mut tried = 0;
    // Nearest shifts first: scrolls are usually short.
    for d in 1..area.h {
      if tried >= MAX_CANDIDATES {
        break;
      }
      let mut hit = None;
      for j in [i.checked_add(d), i.checked_sub(d)].into_iter().flatten() {
        if j < area.h && print_of(j) == print {
          tried += 1;
          if mirror_row(j) == s {
            hit = Some(j as isize - i as isize);
            break;
          }
        }
      }
      if let Some(shift) = hit {
        match votes.iter_mut().find(|(v, _)| *v == shift) {
          Some((_, n)) => *n += 1,
          None => votes.push((shift, 1)),
        }
        break;
      }
    }
  }
  let Some(&(shift, _)) = votes
    .iter()
    .filter(|(_, n)| *n > 0)
    .max_by_key(|(shift, n)| (*n, std::cmp::Reverse(shift.unsigned_abs())))
  else {
    return Search::NotMoved;
  };
  // When the samples that moved moved across the whole area too (a page's margins, a window's
  // frame beside its text: the same, shifted), the run is looked for across the whole width: one
  // comparison a row, and no columns beside it left to extend. Else, or when not every row moved
  // across the whole width, in the columns that changed, then extended.
  let moved_at = |i: usize| {
    let j = i as isize + shift;
    j >= 0 && (j as usize) < area.h && mirror_row(j as usize) == src_row(i)
  };
  let whole_same = |i: usize, j: usize| src[row(src_stride, whole, i)] == *mirror.row_of(whole, j);
  let wide = whole.w > area.w
    && changed
      .iter()
      .filter(|&&i| moved_at(i))
      .all(|&i| whole_same(i, (i as isize + shift) as usize));
  let (lo, hi) = if shift > 0 {
    (0, area.h - shift as usize)
  } else {
    (shift.unsigned_abs(), area.h)
  };
  let run = |same: &dyn Fn(usize, usize) -> bool| {
    let (mut best_start, mut best_len, mut start) = (0usize, 0usize, lo);
    for i in lo..=hi {
      if i < hi && same(i, (i as isize + shift) as usize) {
        continue;
      }
      if i - start > best_len {
        (best_start, best_len) = (start, i - start);
      }
      start = i + 1;
    }
    (best_len >= MIN_ROWS && best_len * 4 >= area.h).then_some((best_start, best_len))
  };
  // Across the whole width, only a move of every row counts (else the columns that changed may
  // have moved in more rows): the first row that did not ends the try.
  let every = hi - lo >= MIN_ROWS && (hi - lo) * 4 >= area.h;
  let found = (wide && every && (lo..hi).all(|i| whole_same(i, (i as isize + shift) as usize)))
    .then_some((lo, hi - lo));
  let (best_start, best_len, extend) = match found {
    Some((start, len)) => (start, len, false),
    None => match run(&|i, j| src_row(i) == mirror_row(j)) {
      Some((start, len)) => (start, len, true),
      None => return Search::NotMoved,
    },
  };
  let (dst_y, src_y) = (
    area.y + best_start,
    (area.y as isize + best_start as isize + shift) as usize,
  );
  let (mut left, mut right) = (whole.x, whole.x + whole.w);
  let end = area.x + area.w;
  // Columns beside the sampled ones that moved as well (text that reaches the margin in rows
  // the samples missed), up to the first that did not in some row.
  for i in (0..best_len).filter(|_| extend) {
    #[cfg(test)]
    EXTENDED.with(|n| n.set(n.get() + 1));
    let d = (dst_y + i) * src_stride;
    let part = |from: usize, to: usize| {
      (
        &src[d + 4 * from..d + 4 * to],
        mirror.px(src_y + i, from, to - from),
      )
    };
    if left < area.x {
      let (a, b) = part(left, area.x);
      if let Some(x) = last_diff(a, b) {
        left += x + 1;
      }
    }
    if end < right {
      let (a, b) = part(end, right);
      if let Some(x) = first_diff(a, b) {
        right = end + x;
      }
    }
  }
  Search::Found(Scroll {
    dst: Rect {
      x: left,
      y: dst_y,
      w: right - left,
      h: best_len,
    },
    src_y,
  })
}

/// Moves rows `src_y..src_y + r.h` of `buf` to `r` (same columns), as memmove does: the rows may
/// overlap. The caller checked both rectangles lie inside `buf`.
pub fn move_rows(buf: &mut [u8], stride: usize, r: Rect, src_x: usize, src_y: usize) {
  let row_bytes = r.w * 4;
  let copy_row = |buf: &mut [u8], i: usize| {
    let from = (src_y + i) * stride + src_x * 4;
    buf.copy_within(from..from + row_bytes, (r.y + i) * stride + r.x * 4);
  };
  if src_y < r.y {
    // Down: the last row first, so no source row is overwritten before it is read.
    for i in (0..r.h).rev() {
      copy_row(buf, i);
    }
  } else {
    for i in 0..r.h {
      copy_row(buf, i);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// A `w` x `h` picture of "text lines" between margins of 8 columns: glyphs of 6 columns whose
  /// strokes come from a hash of line and column, so that no two lines look alike.
  fn page(w: usize, h: usize, seed: usize) -> Vec<u8> {
    let mut v = vec![0u8; w * h * 4];
    for y in 0..h {
      let (line, r) = ((y + seed) / 12, (y + seed) % 12);
      for x in 0..w {
        let mut k = (line as u64) << 32 | (x / 6) as u64;
        k = (k ^ (k >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        k ^= k >> 29;
        let ink = x >= 8 && x + 8 < w && r < 9 && (k >> (r * 6 + x % 6)) & 1 == 1;
        let p = if ink {
          0xff20_2020u32 ^ (line as u32 * 0x01_0203)
        } else {
          0xffff_ffff
        };
        v[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&p.to_le_bytes());
      }
    }
    v
  }

  /// The mirror `old` (`w` pixels a row) moved as `s` says equals `new` in every row of the copy.
  fn assert_copy_exact(old: &[u8], new: &[u8], w: usize, s: Scroll) {
    let mut moved = old.to_vec();
    move_rows(&mut moved, w * 4, s.dst, s.dst.x, s.src_y);
    for i in 0..s.dst.h {
      assert_eq!(
        moved[row(w * 4, s.dst, i)],
        new[row(w * 4, s.dst, i)],
        "{s:?} row {i}"
      );
    }
  }

  #[test]
  fn finds_a_scroll_up_and_down_and_the_copy_is_exact() {
    let (w, h) = (200, 120);
    let area = Rect { x: 0, y: 0, w, h };
    for shift in [1isize, 4, 17, -3, -25] {
      let old = page(w, h, 100);
      let new = page(w, h, (100 + shift) as usize);
      let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
        .found()
        .expect("a scroll");
      assert_eq!(s.src_y as isize - s.dst.y as isize, shift, "shift {shift}");
      assert_eq!(s.dst.h, h - shift.unsigned_abs(), "shift {shift}");
      assert_copy_exact(&old, &new, w, s);
    }
  }

  #[test]
  fn a_scroll_takes_fingerprints_of_the_rows_near_one_sample_only() {
    // The rows a scroll brings in are nowhere in the mirror: once a shift is known, the samples
    // among them are not looked up (each would take a fingerprint of every mirror row).
    let (w, h) = (300, 400);
    let area = Rect { x: 0, y: 0, w, h };
    for shift in [17isize, 32, -17, -40] {
      let old = page(w, h, 200);
      let new = page(w, h, (200 + shift) as usize);
      FINGERPRINTS.with(|n| n.set(0));
      let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
        .found()
        .expect("a scroll");
      assert_eq!(s.src_y as isize - s.dst.y as isize, shift, "shift {shift}");
      let taken = FINGERPRINTS.with(|n| n.get());
      assert!(
        taken <= 2 * shift.unsigned_abs() + 2,
        "shift {shift}: {taken} fingerprints for {h} rows"
      );
    }
  }

  #[test]
  fn the_last_shift_as_hint_takes_no_fingerprint_and_a_wrong_one_changes_nothing() {
    let (w, h) = (300, 400);
    let area = Rect { x: 0, y: 0, w, h };
    for shift in [17isize, -40] {
      let old = page(w, h, 200);
      let new = page(w, h, (200 + shift) as usize);
      let without = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None);
      FINGERPRINTS.with(|n| n.set(0));
      assert_eq!(
        find(&new, w * 4, &Mirror::from_pixels(w, &old), area, Some(shift)),
        without,
        "shift {shift}"
      );
      assert_eq!(FINGERPRINTS.with(|n| n.get()), 0, "shift {shift}");
      for wrong in [shift + 1, -shift, 3] {
        assert_eq!(
          find(&new, w * 4, &Mirror::from_pixels(w, &old), area, Some(wrong)),
          without,
          "shift {shift}, hint {wrong}"
        );
      }
    }
    // A hint where nothing moved finds nothing.
    let old = page(w, h, 0);
    let noise: Vec<u8> = (0..w * h * 4).map(|i| (i * 7919 % 251) as u8).collect();
    assert_eq!(
      find(&noise, w * 4, &Mirror::from_pixels(w, &old), area, Some(12)),
      Search::NotMoved
    );
  }

  #[test]
  fn finds_nothing_in_unchanged_random_or_barely_changed_pixels_and_tells_which() {
    let (w, h) = (160, 100);
    let area = Rect { x: 0, y: 0, w, h };
    let old = page(w, h, 0);
    assert_eq!(
      find(&old, w * 4, &Mirror::from_pixels(w, &old), area, None),
      Search::Unsure
    );
    let mut seed = 7u32;
    let noise: Vec<u8> = (0..w * h * 4)
      .map(|_| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (seed >> 16) as u8
      })
      .collect();
    // New pixels everywhere: the encoder may leave the search out for a few frames.
    assert_eq!(
      find(&noise, w * 4, &Mirror::from_pixels(w, &old), area, None),
      Search::NotMoved
    );
    let mut one_line = old.clone();
    one_line[(50 * w + 10) * 4] ^= 0xff;
    // A few changed rows (a terminal's typing): no reason to search less.
    assert_eq!(
      find(&one_line, w * 4, &Mirror::from_pixels(w, &old), area, None),
      Search::Unsure
    );
  }

  #[test]
  fn a_partial_scroll_is_cut_to_the_rows_that_match() {
    // A terminal: a title bar that stays, text that scrolls by 12 rows, a status line that changes.
    let (w, h) = (180, 150);
    let area = Rect { x: 0, y: 0, w, h };
    let old = page(w, h, 0);
    let mut new = page(w, h, 12);
    for y in (0..10).chain(140..150) {
      let r = row(w * 4, area, y);
      new[r.clone()].copy_from_slice(&old[r]);
    }
    new[row(w * 4, area, 145)].fill(0x55);
    let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
      .found()
      .expect("a scroll");
    assert_eq!(s.src_y - s.dst.y, 12);
    // Blank rows of the title bar may match too; the status line never does.
    assert!(s.dst.y + s.dst.h <= 140 && s.dst.h >= 110, "{s:?}");
    assert_copy_exact(&old, &new, w, s);
  }

  /// A page and the same page scrolled by `shift` rows, both blank (white) from column `blank_from`
  /// on, with a column `still` that alternates from row to row and is the same in both (a
  /// window's frame or shadow).
  fn scrolled_with_a_still_column(
    w: usize,
    h: usize,
    shift: usize,
    still: usize,
    blank_from: usize,
  ) -> (Vec<u8>, Vec<u8>) {
    let (mut old, mut new) = (page(w, h, 0), page(w, h, shift));
    for y in 0..h {
      for buf in [&mut old, &mut new] {
        for x in blank_from..w {
          buf[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        }
        buf[(y * w + still) * 4..(y * w + still) * 4 + 4].copy_from_slice(&(y as u32 % 2).to_le_bytes());
      }
    }
    (old, new)
  }

  #[test]
  fn a_frame_beside_the_text_that_differs_row_by_row_is_left_out() {
    // weston-terminal's shadow: a column whose pixels alternate from row to row and never move.
    let (w, h) = (120, 100);
    let area = Rect { x: 0, y: 0, w, h };
    let (old, new) = scrolled_with_a_still_column(w, h, 15, 2, w);
    let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
      .found()
      .expect("a scroll");
    assert_eq!(s.src_y - s.dst.y, 15);
    // Everything right of the shadow moved, the margins included.
    assert_eq!((s.dst.x, s.dst.w), (3, w - 3), "{s:?}");
    assert!(s.dst.h >= h - 15 - 2, "{s:?}");
  }

  #[test]
  fn the_copy_reaches_past_the_sampled_columns_up_to_a_column_that_stays() {
    // Lines end well before the right edge in the sampled rows; beyond them, blank columns that
    // moved as well, up to a frame column that alternates from row to row and never moves.
    let (w, h) = (400, 100);
    let area = Rect { x: 0, y: 0, w, h };
    let (old, new) = scrolled_with_a_still_column(w, h, 15, 380, 150);
    let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
      .found()
      .expect("a scroll");
    assert_eq!(s.src_y - s.dst.y, 15);
    assert_eq!((s.dst.x, s.dst.w), (0, 380), "{s:?}");
    assert_copy_exact(&old, &new, w, s);
  }

  #[test]
  fn a_page_that_moved_across_its_whole_width_is_checked_once_a_row_else_the_columns_are_extended() {
    // Text between blank margins, all of it scrolled: every row is compared across the whole
    // width once, and there are no columns beside it to extend.
    let (w, h) = (300, 200);
    let area = Rect { x: 0, y: 0, w, h };
    let old = page(w, h, 0);
    let mut new = page(w, h, 10);
    EXTENDED.with(|n| n.set(0));
    let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
      .found()
      .expect("a scroll");
    assert_eq!(
      (s.dst.x, s.dst.y, s.dst.w, s.dst.h, s.src_y),
      (0, 0, w, h - 10, 10)
    );
    assert_eq!(EXTENDED.with(|n| n.get()), 0);
    // A dot in the margin of one row in the middle: the rows still all moved in the columns of
    // the text, so the copy keeps every row and leaves that margin column out.
    new[(100 * w + 2) * 4..(100 * w + 2) * 4 + 4].copy_from_slice(&0xff00_0000u32.to_le_bytes());
    let s = find(&new, w * 4, &Mirror::from_pixels(w, &old), area, None)
      .found()
      .expect("a scroll");
    assert_eq!((s.dst.x, s.dst.y, s.dst.h, s.src_y), (3, 0, h - 10, 10), "{s:?}");
    assert!(EXTENDED.with(|n| n.get()) >= h - 10);
    assert_copy_exact(&old, &new, w, s);
  }

  #[test]
  fn move_rows_overlapping_both_ways() {
    let (w, h) = (8, 10);
    let rows: Vec<u8> = (0..w * h * 4).map(|i| (i / (w * 4)) as u8).collect();
    let r = Rect {
      x: 2,
      y: 3,
      w: 4,
      h: 5,
    };
    let mut down = rows.clone();
    move_rows(&mut down, w * 4, r, 2, 1); // rows 1..6 to 3..8
    for i in 0..5 {
      assert!(down[row(w * 4, r, i)].iter().all(|&b| b as usize == 1 + i));
    }
    let mut up = rows.clone();
    move_rows(
      &mut up,
      w * 4,
      Rect {
        x: 2,
        y: 1,
        w: 4,
        h: 5,
      },
      2,
      3,
    ); // rows 3..8 to 1..6
    for i in 0..5 {
      assert!(up[row(
        w * 4,
        Rect {
          x: 2,
          y: 1,
          w: 4,
          h: 5
        },
        i
      )]
      .iter()
      .all(|&b| b as usize == 3 + i));
    }
    // Columns outside the rectangle are untouched.
    assert_eq!(down[3 * w * 4], 3);
  }
}
