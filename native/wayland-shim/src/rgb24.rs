//! The 3-byte pixels of the `raw_rgb` and `lz4_rgb` tile codecs (protocol/waltham.xml): an
//! xrgb8888 pixel (B, G, R, X in memory) travels as its first three bytes, B, G, R, and is
//! written back with X = 0xff. The byte order stays that of memory, so packing is dropping every
//! 4th byte: on x86-64 with AVX2 a byte shuffle and a move across halves per eight pixels, with
//! SSSE3 one byte shuffle per four, on aarch64 (a Raspberry Pi)
//! NEON's de-interleaving loads and interleaving stores, 16 pixels at a time; elsewhere (and for
//! the last pixels of a row) eight pixels at a time as four 64-bit words in, three out (and back),
//! no per-pixel bounds checks.

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

/// Packs one row of 4-byte pixels (`src`, a multiple of 4 bytes) into `dst` (3 bytes a pixel);
/// returns whether every pixel's 4th byte was 0xff (else the 3 bytes do not give it back).
pub fn pack_row(src: &[u8], dst: &mut [u8]) -> bool {
  let n = src.len() / 4;
  let (src, dst) = (&src[..n * 4], &mut dst[..n * 3]);
  let (done, opaque) = pack_simd(src, dst);
  pack_scalar(&src[done * 4..], &mut dst[done * 3..]) && opaque
}

/// The first pixels of a row packed with the CPU's vector instructions: how many, and whether
/// they were all opaque. None packed where there are none.
#[cfg(target_arch = "x86_64")]
fn pack_simd(src: &[u8], dst: &mut [u8]) -> (usize, bool) {
  let (mut done, mut opaque) = (0, true);
  if std::is_x86_feature_detected!("avx2") {
    // SAFETY: the CPU has AVX2 (checked just above).
    (done, opaque) = unsafe { avx2::pack(src, dst) };
  }
  if std::is_x86_feature_detected!("ssse3") {
    // SAFETY: the CPU has SSSE3 (checked just above).
    let (more, rest) = unsafe { ssse3::pack(&src[done * 4..], &mut dst[done * 3..]) };
    (done + more, opaque && rest)
  } else {
    (done, opaque)
  }
}

#[cfg(target_arch = "aarch64")]
fn pack_simd(src: &[u8], dst: &mut [u8]) -> (usize, bool) {
  neon::pack(src, dst)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn pack_simd(_src: &[u8], _dst: &mut [u8]) -> (usize, bool) {
  (0, true)
}

/// Expands one row of 3-byte pixels (`src`) into `dst` (4 bytes a pixel, the 4th 0xff): as many
/// pixels as `dst` holds.
pub fn unpack_row(src: &[u8], dst: &mut [u8]) {
  let n = dst.len() / 4;
  let (src, dst) = (&src[..n * 3], &mut dst[..n * 4]);
  let done = unpack_simd(src, dst);
  unpack_scalar(&src[done * 3..], &mut dst[done * 4..]);
}

/// The first pixels of a row expanded with the CPU's vector instructions: how many.
#[cfg(target_arch = "x86_64")]
fn unpack_simd(src: &[u8], dst: &mut [u8]) -> usize {
  let mut done = 0;
  if std::is_x86_feature_detected!("avx2") {
    // SAFETY: the CPU has AVX2 (checked just above).
    done = unsafe { avx2::unpack(src, dst) };
  }
  if std::is_x86_feature_detected!("ssse3") {
    // SAFETY: the CPU has SSSE3 (checked just above).
    done + unsafe { ssse3::unpack(&src[done * 3..], &mut dst[done * 4..]) }
  } else {
    done
  }
}

#[cfg(target_arch = "aarch64")]
fn unpack_simd(src: &[u8], dst: &mut [u8]) -> usize {
  neon::unpack(src, dst)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn unpack_simd(_src: &[u8], _dst: &mut [u8]) -> usize {
  0
}

/// 16 pixels at a time: a load that splits the bytes of 16 pixels into one vector per byte
/// position, and a store that interleaves them again (NEON is part of every aarch64 CPU).
#[cfg(target_arch = "aarch64")]
mod neon {
  use std::arch::aarch64::{
    uint8x16x3_t, uint8x16x4_t, vandq_u8, vdupq_n_u8, vld3q_u8, vld4q_u8, vminvq_u8, vst3q_u8, vst4q_u8,
  };

  /// Packs the first pixels of `src` (4 bytes each) into `dst` (3 bytes each), 16 at a time;
  /// returns how many, and whether their 4th bytes were all 0xff.
  pub(super) fn pack(src: &[u8], dst: &mut [u8]) -> (usize, bool) {
    let n = (src.len() / 4).min(dst.len() / 3);
    let mut i = 0;
    // SAFETY: NEON is always there on aarch64; each iteration reads bytes 4 * i .. 4 * i + 64 of
    // `src` and writes 3 * i .. 3 * i + 48 of `dst`, inside both since i + 16 <= n.
    unsafe {
      let mut x = vdupq_n_u8(0xff);
      while i + 16 <= n {
        let v = vld4q_u8(src.as_ptr().add(4 * i));
        x = vandq_u8(x, v.3);
        vst3q_u8(dst.as_mut_ptr().add(3 * i), uint8x16x3_t(v.0, v.1, v.2));
        i += 16;
      }
      (i, vminvq_u8(x) == 0xff)
    }
  }

  /// Expands the first pixels of `src` (3 bytes each) into `dst` (4 bytes each, the 4th 0xff),
  /// 16 at a time; returns how many.
  pub(super) fn unpack(src: &[u8], dst: &mut [u8]) -> usize {
    let n = (src.len() / 3).min(dst.len() / 4);
    let mut i = 0;
    // SAFETY: NEON is always there on aarch64; each iteration reads bytes 3 * i .. 3 * i + 48 of
    // `src` and writes 4 * i .. 4 * i + 64 of `dst`, inside both since i + 16 <= n.
    unsafe {
      let alpha = vdupq_n_u8(0xff);
      while i + 16 <= n {
        let v = vld3q_u8(src.as_ptr().add(3 * i));
        vst4q_u8(dst.as_mut_ptr().add(4 * i), uint8x16x4_t(v.0, v.1, v.2, alpha));
        i += 16;
      }
    }
    i
  }
}

/// Eight pixels at a time: a byte shuffle within each 16-byte half, and a move of 4-byte groups
/// across the halves.
#[cfg(target_arch = "x86_64")]
mod avx2 {
  use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_permutevar8x32_epi32, _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setr_epi8, _mm256_shuffle_epi8,
    _mm256_storeu_si256,
  };

  /// Packs the first pixels of `src` (4 bytes each) into `dst` (3 bytes each), eight at a time
  /// while a 32-byte store stays inside `dst`; returns how many pixels it packed and whether
  /// their 4th bytes were all 0xff.
  ///
  /// # Safety
  /// The CPU must have AVX2.
  #[target_feature(enable = "avx2")]
  pub(super) unsafe fn pack(src: &[u8], dst: &mut [u8]) -> (usize, bool) {
    let n = (src.len() / 4).min(dst.len() / 3);
    // Each half: its four pixels' first three bytes in its low 12 bytes.
    let order = _mm256_setr_epi8(
      0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1,
      -1, -1,
    );
    // Then the two halves' 12 bytes side by side: the 24 bytes of eight pixels.
    let halves = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    let mut x = _mm256_set1_epi32(-1);
    let mut i = 0;
    while i + 8 <= n && 3 * i + 32 <= dst.len() {
      // SAFETY: bytes 4 * i .. 4 * i + 32 lie in `src` (i + 8 <= n) and 3 * i .. 3 * i + 32 in
      // `dst` (the loop condition); unaligned loads and stores are allowed.
      unsafe {
        let v = _mm256_loadu_si256(src.as_ptr().add(4 * i) as *const __m256i);
        x = _mm256_and_si256(x, v);
        let packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order), halves);
        _mm256_storeu_si256(dst.as_mut_ptr().add(3 * i) as *mut __m256i, packed);
      }
      i += 8;
    }
    // The 4th byte of each pixel (every 4th byte of x) stayed 0xff in every pixel packed.
    let opaque =
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi32(-1))) as u32 & 0x8888_8888 == 0x8888_8888;
    (i, opaque)
  }

  /// Expands the first pixels of `src` (3 bytes each) into `dst` (4 bytes each, the 4th 0xff),
  /// eight at a time while a 32-byte load stays inside `src`; returns how many pixels it wrote.
  ///
  /// # Safety
  /// The CPU must have AVX2.
  #[target_feature(enable = "avx2")]
  pub(super) unsafe fn unpack(src: &[u8], dst: &mut [u8]) -> usize {
    let n = (src.len() / 3).min(dst.len() / 4);
    // Bytes 0..12 of the 24 to the low half, 12..24 to the high half.
    let halves = _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0);
    let order = _mm256_setr_epi8(
      0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11,
      -1,
    );
    let alpha = _mm256_set1_epi32(0xff00_0000u32 as i32);
    let mut i = 0;
    while i + 8 <= n && 3 * i + 32 <= src.len() {
      // SAFETY: bytes 3 * i .. 3 * i + 32 lie in `src` (the loop condition) and 4 * i .. 4 * i + 32
      // in `dst` (i + 8 <= n); unaligned loads and stores are allowed.
      unsafe {
        let v = _mm256_loadu_si256(src.as_ptr().add(3 * i) as *const __m256i);
        let spread = _mm256_permutevar8x32_epi32(v, halves);
        _mm256_storeu_si256(
          dst.as_mut_ptr().add(4 * i) as *mut __m256i,
          _mm256_or_si256(_mm256_shuffle_epi8(spread, order), alpha),
        );
      }
      i += 8;
    }
    i
  }
}

/// One byte shuffle per four pixels.
#[cfg(target_arch = "x86_64")]
mod ssse3 {
  use std::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi32,
    _mm_setr_epi8, _mm_shuffle_epi8, _mm_storeu_si128,
  };

  /// Packs the first pixels of `src` (4 bytes each) into `dst` (3 bytes each), four at a time
  /// while a 16-byte store stays inside `dst`; returns how many pixels it packed.
  ///
  /// # Safety
  /// The CPU must have SSSE3.
  #[target_feature(enable = "ssse3")]
  pub(super) unsafe fn pack(src: &[u8], dst: &mut [u8]) -> (usize, bool) {
    let n = (src.len() / 4).min(dst.len() / 3);
    let order = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    let mut x = _mm_set1_epi32(-1);
    let mut i = 0;
    while i + 4 <= n && 3 * i + 16 <= dst.len() {
      // SAFETY: bytes 4 * i .. 4 * i + 16 lie in `src` (i + 4 <= n) and 3 * i .. 3 * i + 16 in
      // `dst` (the loop condition); unaligned loads and stores are allowed.
      unsafe {
        let v = _mm_loadu_si128(src.as_ptr().add(4 * i) as *const __m128i);
        x = _mm_and_si128(x, v);
        _mm_storeu_si128(
          dst.as_mut_ptr().add(3 * i) as *mut __m128i,
          _mm_shuffle_epi8(v, order),
        );
      }
      i += 4;
    }
    // The 4th byte of each pixel (bytes 3, 7, 11, 15) stayed 0xff in every pixel packed.
    let opaque = _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi32(-1))) & 0x8888 == 0x8888;
    (i, opaque)
  }

  /// Expands the first pixels of `src` (3 bytes each) into `dst` (4 bytes each, the 4th 0xff),
  /// four at a time while a 16-byte load stays inside `src`; returns how many pixels it wrote.
  ///
  /// # Safety
  /// The CPU must have SSSE3.
  #[target_feature(enable = "ssse3")]
  pub(super) unsafe fn unpack(src: &[u8], dst: &mut [u8]) -> usize {
    let n = (src.len() / 3).min(dst.len() / 4);
    let order = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    let alpha = _mm_set1_epi32(0xff00_0000u32 as i32);
    let mut i = 0;
    while i + 4 <= n && 3 * i + 16 <= src.len() {
      // SAFETY: bytes 3 * i .. 3 * i + 16 lie in `src` (the loop condition) and 4 * i .. 4 * i + 16
      // in `dst` (i + 4 <= n); unaligned loads and stores are allowed.
      unsafe {
        let v = _mm_loadu_si128(src.as_ptr().add(3 * i) as *const __m128i);
        _mm_storeu_si128(
          dst.as_mut_ptr().add(4 * i) as *mut __m128i,
          _mm_or_si128(_mm_shuffle_epi8(v, order), alpha),
        );
      }
      i += 4;
    }
    i
  }
}

/// `pack_row` without SIMD: eight pixels as four 64-bit words in, three out.
fn pack_scalar(src: &[u8], dst: &mut [u8]) -> bool {
  let mut ins = src.chunks_exact(32);
  let mut outs = dst.chunks_exact_mut(24);
  let mut x = u64::MAX;
  for (i, o) in (&mut ins).zip(&mut outs) {
    let (w0, w1, w2, w3) = (word(i, 0), word(i, 1), word(i, 2), word(i, 3));
    x &= w0 & w1 & w2 & w3;
    let (c0, c1, c2, c3) = (squeeze(w0), squeeze(w1), squeeze(w2), squeeze(w3));
    o[0..8].copy_from_slice(&(c0 | c1 << 48).to_le_bytes());
    o[8..16].copy_from_slice(&(c1 >> 16 | c2 << 32).to_le_bytes());
    o[16..24].copy_from_slice(&(c2 >> 32 | c3 << 16).to_le_bytes());
  }
  let mut opaque = x & 0xff00_0000_ff00_0000 == 0xff00_0000_ff00_0000;
  for (p, o) in ins
    .remainder()
    .chunks_exact(4)
    .zip(outs.into_remainder().chunks_exact_mut(3))
  {
    o.copy_from_slice(&p[..3]);
    opaque &= p[3] == 0xff;
  }
  opaque
}

/// `unpack_row` without SIMD: eight pixels as three 64-bit words in, four out.
fn unpack_scalar(src: &[u8], dst: &mut [u8]) {
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
/// `r` lies inside `src` and `dst` holds `r.w * r.h * 3` bytes (checked by the caller). Returns
/// whether every pixel's 4th byte was 0xff: only then do the 3 bytes give the pixels back.
pub fn pack(src: &[u8], stride: usize, r: Rect, dst: &mut [u8]) -> bool {
  let out_row = r.w * 3;
  let mut opaque = true;
  for (i, out) in dst.chunks_exact_mut(out_row).take(r.h).enumerate() {
    opaque &= pack_row(&src[row(stride, r, i)], out);
  }
  opaque
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
      let expect: Vec<u8> = src.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
      let opaque: Vec<u8> = src
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2], 0xff])
        .collect();
      // The SIMD path where the CPU has one, and the portable one.
      for (pack, unpack) in [
        (
          pack_row as fn(&[u8], &mut [u8]) -> bool,
          unpack_row as fn(&[u8], &mut [u8]),
        ),
        (pack_scalar, unpack_scalar),
      ] {
        let mut packed = vec![0u8; n * 3];
        pack(&src, &mut packed);
        assert_eq!(packed, expect, "{n} pixels");
        let mut back = vec![0u8; n * 4];
        unpack(&packed, &mut back);
        assert_eq!(back, opaque, "{n} pixels");
      }
    }
  }

  #[test]
  fn packing_tells_whether_every_fourth_byte_was_0xff() {
    // Rows of 0 to 69 pixels, the odd 4th byte anywhere: in the SIMD part or in the tail.
    for n in 0..70usize {
      let opaque: Vec<u8> = (0..n * 4)
        .map(|i| if i % 4 == 3 { 0xff } else { (i * 7) as u8 })
        .collect();
      for (name, pack) in [
        ("simd", pack_row as fn(&[u8], &mut [u8]) -> bool),
        ("portable", pack_scalar),
      ] {
        let mut packed = vec![0u8; n * 3];
        assert!(pack(&opaque, &mut packed), "{name}: {n} opaque pixels");
        for at in 0..n {
          let mut src = opaque.clone();
          src[at * 4 + 3] = 0xfe;
          assert!(!pack(&src, &mut packed), "{name}: pixel {at} of {n}");
        }
      }
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
