//! The pixel conversion of the lossy tile codecs (shared/remote/lossy.ts): wl_shm pixels (B, G,
//! R, X bytes) to the packed R, G, B rows an image encoder reads, and decoded R, G, B rows back
//! into a rectangle of a surface's pixels with alpha 255. One pass over the pixels, instead of a
//! copy, a channel recombination and an alpha step in the image library.
//!
//! Rectangles are checked against the buffers before any access (code ERANGE); a buffer written
//! must not share memory with the one read (code EINVAL).

use napi::bindgen_prelude::Uint8ArraySlice;
use napi_derive::napi;

use crate::error::{error, Result};
use crate::pixels::{check_rect, row, views, Rect};

/// Packs `r` of `src` (B, G, R, X) into `dst` as R, G, B: `r.w * 3` bytes per row, no gaps.
pub fn pack(src: &[u8], stride: usize, r: Rect, dst: &mut [u8]) {
  let out_row = r.w * 3;
  for (y, out) in dst.chunks_exact_mut(out_row).take(r.h).enumerate() {
    for (o, p) in out
      .chunks_exact_mut(3)
      .zip(src[row(stride, r, y)].chunks_exact(4))
    {
      o[0] = p[2];
      o[1] = p[1];
      o[2] = p[0];
    }
  }
}

/// Writes packed R, G, B rows of `r.w` x `r.h` pixels (`src`) into `r` of `dst` as B, G, R, 255.
pub fn unpack(src: &[u8], dst: &mut [u8], stride: usize, r: Rect) {
  let in_row = r.w * 3;
  for (y, input) in src.chunks_exact(in_row).take(r.h).enumerate() {
    let span = row(stride, r, y);
    for (o, p) in dst[span].chunks_exact_mut(4).zip(input.chunks_exact(3)) {
      o[0] = p[2];
      o[1] = p[1];
      o[2] = p[0];
      o[3] = 0xff;
    }
  }
}

/// Checks that a packed R, G, B buffer of `len` bytes holds `r`.
fn check_packed(what: &str, len: usize, r: Rect) -> Result<()> {
  let need = r.w.checked_mul(r.h).and_then(|n| n.checked_mul(3));
  match need {
    Some(n) if n <= len => Ok(()),
    _ => Err(error(
      "ERANGE",
      format!(
        "{what}: {}x{} R, G, B pixels do not fit a buffer of {len} bytes",
        r.w, r.h
      ),
    )),
  }
}

// ---- JavaScript API ----

/// Packs the `width` x `height` rectangle at (x, y) of `src` (`stride` bytes per row, B, G, R,
/// X) into `dst` as R, G, B (`width * 3` bytes per row, from its start).
#[napi]
pub fn pack_rgb(
  src: Uint8ArraySlice<'_>,
  stride: u32,
  x: u32,
  y: u32,
  width: u32,
  height: u32,
  mut dst: Uint8ArraySlice<'_>,
) -> Result<()> {
  let (from, out) = views("packRgb", &src, &mut dst)?;
  let r = Rect::new(x, y, width, height);
  check_rect("packRgb source", from.len(), stride as usize, r)?;
  check_packed("packRgb destination", out.len(), r)?;
  if !r.is_empty() {
    pack(from, stride as usize, r, out);
  }
  Ok(())
}

/// Writes `src` (`width * 3` bytes per row, R, G, B) into the `width` x `height` rectangle at
/// (x, y) of `dst` (`stride` bytes per row) as B, G, R, 255.
#[napi]
pub fn unpack_rgb(
  src: Uint8ArraySlice<'_>,
  mut dst: Uint8ArraySlice<'_>,
  stride: u32,
  x: u32,
  y: u32,
  width: u32,
  height: u32,
) -> Result<()> {
  let (from, out) = views("unpackRgb", &src, &mut dst)?;
  let r = Rect::new(x, y, width, height);
  check_packed("unpackRgb source", from.len(), r)?;
  check_rect("unpackRgb destination", out.len(), stride as usize, r)?;
  if !r.is_empty() {
    unpack(from, out, stride as usize, r);
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  const W: usize = 23;
  const H: usize = 17;
  const STRIDE: usize = W * 4 + 8;

  fn image() -> Vec<u8> {
    (0..(STRIDE * H) as u32)
      .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
      .collect()
  }

  #[test]
  fn pack_reorders_the_channels_of_the_rectangle() {
    let src = image();
    let r = Rect {
      x: 3,
      y: 2,
      w: 7,
      h: 5,
    };
    let mut out = vec![0u8; r.w * r.h * 3 + 3];
    pack(&src, STRIDE, r, &mut out);
    for y in 0..r.h {
      for x in 0..r.w {
        let p = &src[(r.y + y) * STRIDE + (r.x + x) * 4..][..4];
        assert_eq!(
          &out[(y * r.w + x) * 3..][..3],
          &[p[2], p[1], p[0]],
          "pixel {x},{y}"
        );
      }
    }
    assert_eq!(
      &out[r.w * r.h * 3..],
      &[0, 0, 0],
      "bytes past the rectangle are left alone"
    );
  }

  #[test]
  fn unpack_writes_only_the_rectangle_with_alpha_255() {
    let rgb: Vec<u8> = (0..5 * 4 * 3).map(|i| i as u8 + 1).collect();
    let r = Rect {
      x: 6,
      y: 9,
      w: 5,
      h: 4,
    };
    let mut dst = vec![0u8; STRIDE * H];
    unpack(&rgb, &mut dst, STRIDE, r);
    for y in 0..H {
      for x in 0..STRIDE / 4 {
        let d = &dst[y * STRIDE + x * 4..][..4];
        if (6..11).contains(&x) && (9..13).contains(&y) {
          let p = &rgb[((y - 9) * 5 + (x - 6)) * 3..][..3];
          assert_eq!(d, &[p[2], p[1], p[0], 0xff], "pixel {x},{y}");
        } else {
          assert_eq!(d, &[0, 0, 0, 0], "pixel {x},{y} outside the rectangle");
        }
      }
    }
  }

  #[test]
  fn pack_then_unpack_gives_the_pixels_back_opaque() {
    let src = image();
    let r = Rect {
      x: 0,
      y: 0,
      w: W,
      h: H,
    };
    let mut rgb = vec![0u8; W * H * 3];
    pack(&src, STRIDE, r, &mut rgb);
    let mut back = vec![0u8; STRIDE * H];
    unpack(&rgb, &mut back, STRIDE, r);
    for y in 0..H {
      for x in 0..W {
        let a = &src[y * STRIDE + x * 4..][..4];
        let b = &back[y * STRIDE + x * 4..][..4];
        assert_eq!(&a[..3], &b[..3]);
        assert_eq!(b[3], 0xff);
      }
    }
  }

  #[test]
  fn packed_buffers_too_small_are_refused() {
    assert!(check_packed(
      "t",
      30,
      Rect {
        x: 0,
        y: 0,
        w: 5,
        h: 2
      }
    )
    .is_ok());
    assert!(check_packed(
      "t",
      29,
      Rect {
        x: 0,
        y: 0,
        w: 5,
        h: 2
      }
    )
    .is_err());
    assert!(check_packed(
      "t",
      0,
      Rect {
        x: 0,
        y: 0,
        w: usize::MAX / 2,
        h: 4
      }
    )
    .is_err());
  }
}
