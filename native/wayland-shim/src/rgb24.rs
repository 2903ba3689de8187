//! The 3-byte pixels of the `raw_rgb` and `lz4_rgb` tile codecs (protocol/waltham.xml): an
//! xrgb8888 pixel (B, G, R, X in memory) travels as its first three bytes, B, G, R, and is
//! written back with X = 0xff. The byte order stays that of memory, so packing is dropping every
//! 4th byte: eight pixels at a time as four 64-bit words in, three out (and back), no per-pixel
//! bounds checks.

use crate::pixels::{row, Rect};

/// The low three bytes of each 32-bit half of `q` (two pixels), as 48 bits.
#[inline(always)]
fn squeeze(q: u64) -> u64 {
  (q & 0x00ff_ffff) | ((q >> 8) & 0xffff_ff00_0000)
}

/// 48 bits (two 3-byte pixels) as two 4-byte pixels with the 4th byte 0xff.
#[inline(always)]
fn stretch(c: u64) -> u64 {
  (c & 0x00ff_ffff) | ((c & 0xffff_ff00_0000) << 8) | 0xff00_0000_ff00_0000
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
  u64::from_le_bytes([
    b[8 * i],
    b[8 * i + 1],
    b[8 * i + 2],
    b[8 * i + 3],
    b[8 * i + 4],
    b[8 * i + 5],
    b[8 * i + 6],
    b[8 * i + 7],
  ])
}

/// Packs one row of 4-byte pixels (`src`, a multiple of 4 bytes) into `dst` (3 bytes a pixel).
pub fn pack_row(src: &[u8], dst: &mut [u8]) {
  let n = src.len() / 4;
  let (src, dst) = (&src[..n * 4], &mut dst[..n * 3]);
  let mut ins = src.chunks_exact(32);
  let mut outs = dst.chunks_exact_mut(24);
  for (i, o) in (&mut ins).zip(&mut outs) {
    let (c0, c1, c2, c3) = (
      squeeze(word(i, 0)),
      squeeze(word(i, 1)),
      squeeze(word(i, 2)),
      squeeze(word(i, 3)),
    );
    o[0..8].copy_from_slice(&(c0 | c1 << 48).to_le_bytes());
    o[8..16].copy_from_slice(&(c1 >> 16 | c2 << 32).to_le_bytes());
    o[16..24].copy_from_slice(&(c2 >> 32 | c3 << 16).to_le_bytes());
  }
  for (p, o) in ins
    .remainder()
    .chunks_exact(4)
    .zip(outs.into_remainder().chunks_exact_mut(3))
  {
    o.copy_from_slice(&p[..3]);
  }
}

/// Expands one row of 3-byte pixels (`src`) into `dst` (4 bytes a pixel, the 4th 0xff): as many
/// pixels as `dst` holds.
pub fn unpack_row(src: &[u8], dst: &mut [u8]) {
  let n = dst.len() / 4;
  let (src, dst) = (&src[..n * 3], &mut dst[..n * 4]);
  let mut ins = src.chunks_exact(24);
  let mut outs = dst.chunks_exact_mut(32);
  for (i, o) in (&mut ins).zip(&mut outs) {
    let (a, b, c) = (word(i, 0), word(i, 1), word(i, 2));
    let (c0, c1, c2, c3) = (
      a & 0xffff_ffff_ffff,
      a >> 48 | (b & 0xffff_ffff) << 16,
      b >> 32 | (c & 0xffff) << 32,
      c >> 16,
    );
    o[0..8].copy_from_slice(&stretch(c0).to_le_bytes());
    o[8..16].copy_from_slice(&stretch(c1).to_le_bytes());
    o[16..24].copy_from_slice(&stretch(c2).to_le_bytes());
    o[24..32].copy_from_slice(&stretch(c3).to_le_bytes());
  }
  for (p, o) in ins
    .remainder()
    .chunks_exact(3)
    .zip(outs.into_remainder().chunks_exact_mut(4))
  {
    o[..3].copy_from_slice(p);
    o[3] = 0xff;
  }
}

/// Packs rectangle `r` of `src` (`stride` bytes a row) into `dst`: `r.w * 3` bytes a row, no gaps.
/// `r` lies inside `src` and `dst` holds `r.w * r.h * 3` bytes (checked by the caller).
pub fn pack(src: &[u8], stride: usize, r: Rect, dst: &mut [u8]) {
  let out_row = r.w * 3;
  for (i, out) in dst.chunks_exact_mut(out_row).take(r.h).enumerate() {
    pack_row(&src[row(stride, r, i)], out);
  }
}

/// Writes packed rows of `r.w` x `r.h` 3-byte pixels (`src`) into `r` of `dst` (`stride` bytes a
/// row) with the 4th byte 0xff. Sizes are checked by the caller.
pub fn unpack(src: &[u8], dst: &mut [u8], stride: usize, r: Rect) {
  let in_row = r.w * 3;
  for (i, input) in src.chunks_exact(in_row).take(r.h).enumerate() {
    unpack_row(input, &mut dst[row(stride, r, i)]);
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::codec::content::Rng;

  #[test]
  fn rows_of_every_length_pack_to_their_first_three_bytes_and_come_back_opaque() {
    let mut rng = Rng(0x24);
    for n in 0..70 {
      let src = rng.bytes(n * 4);
      let mut packed = vec![0u8; n * 3];
      pack_row(&src, &mut packed);
      let expect: Vec<u8> = src.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
      assert_eq!(packed, expect, "{n} pixels");
      let mut back = vec![0u8; n * 4];
      unpack_row(&packed, &mut back);
      let opaque: Vec<u8> = src
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2], 0xff])
        .collect();
      assert_eq!(back, opaque, "{n} pixels");
    }
  }

  #[test]
  fn a_rectangle_unpacks_into_its_place_only() {
    let (w, h, stride) = (13, 5, 16 * 4);
    let mut rng = Rng(7);
    let src = rng.bytes(stride * h);
    let r = Rect {
      x: 2,
      y: 1,
      w: 9,
      h: 3,
    };
    let mut packed = vec![0u8; r.w * r.h * 3];
    pack(&src, stride, r, &mut packed);
    let mut dst = vec![0u8; stride * h];
    unpack(&packed, &mut dst, stride, r);
    for y in 0..h {
      for x in 0..stride / 4 {
        let at = y * stride + x * 4;
        let inside = (r.y..r.y + r.h).contains(&y) && (r.x..r.x + r.w).contains(&x) && x < w;
        let want = if inside {
          [src[at], src[at + 1], src[at + 2], 0xff]
        } else {
          [0; 4]
        };
        assert_eq!(dst[at..at + 4], want, "pixel {x},{y}");
      }
    }
  }

  /// Speed of packing against the copy it saves (`cargo test --release -- --ignored --nocapture`).
  #[test]
  #[ignore]
  fn packing_costs_about_a_copy() {
    let n = 1920 * 1080;
    let src = Rng(1).bytes(n * 4);
    let (mut four, mut three) = (vec![0u8; n * 4], vec![0u8; n * 3]);
    let time = |f: &mut dyn FnMut()| {
      let t = std::time::Instant::now();
      for _ in 0..50 {
        f();
      }
      t.elapsed().as_secs_f64() / 50.0 * 1e3
    };
    let copy = time(&mut || {
      four.copy_from_slice(std::hint::black_box(&src));
      std::hint::black_box(&mut four);
    });
    let packing = time(&mut || {
      pack_row(std::hint::black_box(&src), &mut three);
      std::hint::black_box(&mut three);
    });
    let mut out = vec![0u8; n * 4];
    let unpacking = time(&mut || {
      unpack_row(std::hint::black_box(&three), &mut out);
      std::hint::black_box(&mut out);
    });
    println!("full HD: copy 4 bytes/px {copy:.2} ms, pack to 3 {packing:.2} ms, unpack {unpacking:.2} ms");
    assert_eq!(out[3], 0xff);
  }
}
