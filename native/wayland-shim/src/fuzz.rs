//! Fuzzing of what the receiver decodes from the network: tiles in every codec, written into a
//! surface's pixels. Each run has a budget: a time (`FUZZ_MS`, default per test) or a number of
//! inputs (`FUZZ_INPUTS`: then the run goes on until that many inputs were tried, whatever the
//! time); `FUZZ_SEED` repeats a run. `npm run fuzz` runs these with a million inputs each.

use std::time::{Duration, Instant};

use crate::frame::FrameWire;

/// Codec numbers for tests (those of protocol/waltham.xml).
pub(crate) const WIRE: FrameWire = FrameWire {
  tile_opcode: 0,
  codec_raw: 0,
  codec_lz4: 1,
  codec_zstd: 2,
  codec_solid: 3,
  codec_lz4_spans: 4,
  codec_copy: 7,
  codec_raw_rgb: 8,
  codec_lz4_rgb: 9,
};

/// How long a fuzz test runs: until both its time and its count of inputs are spent.
pub(crate) struct Budget {
  started: Instant,
  time: Duration,
  inputs: u64,
  pub seed: u64,
}

impl Budget {
  /// From `FUZZ_MS`, `FUZZ_INPUTS` and `FUZZ_SEED`; `default_ms` when neither budget is given.
  pub fn from_env(default_ms: u64, default_seed: u64) -> Budget {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let inputs = var("FUZZ_INPUTS").unwrap_or(0);
    let ms = var("FUZZ_MS").unwrap_or(if inputs > 0 { 0 } else { default_ms });
    Budget {
      started: Instant::now(),
      time: Duration::from_millis(ms),
      inputs,
      seed: var("FUZZ_SEED").unwrap_or(default_seed),
    }
  }

  /// Whether to try another input after `done`.
  pub fn more(&self, done: u64) -> bool {
    done < self.inputs || self.started.elapsed() < self.time
  }

  /// Prints what a run did (shown with `--nocapture`, read by `npm run fuzz`).
  pub fn report(&self, name: &str, inputs: u64) {
    println!(
      "fuzz {name}: {inputs} inputs in {:.1} s, seed {} (FUZZ_SEED={} repeats it)",
      self.started.elapsed().as_secs_f64(),
      self.seed,
      self.seed
    );
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::codec::content::Rng;
  use crate::codec::{compress, Codec};
  use crate::frame::{write_tile, MAX_MESSAGE};
  use crate::pixels::{span_stream, Rect};

  /// The codecs of WIRE.
  const CODECS: [u32; 8] = [0, 1, 2, 3, 4, 7, 8, 9];

  /// A surface: `stride` bytes per row (whole pixels, maybe padded), `height` rows.
  struct Surface {
    pixels: Vec<u8>,
    stride: usize,
    width: usize,
    height: usize,
  }

  impl Surface {
    fn random(rng: &mut Rng) -> Surface {
      let width = 1 + rng.next() as usize % 96;
      let height = 1 + rng.next() as usize % 64;
      let stride = (width + rng.next() as usize % 4) * 4;
      let pixels = rng.bytes(stride * height);
      Surface {
        pixels,
        stride,
        width,
        height,
      }
    }

    fn rect(&self, rng: &mut Rng) -> Rect {
      let x = rng.next() as usize % self.width;
      let y = rng.next() as usize % self.height;
      let w = 1 + rng.next() as usize % (self.width - x);
      let h = 1 + rng.next() as usize % (self.height - y);
      Rect { x, y, w, h }
    }

    fn packed(&self, r: Rect) -> Vec<u8> {
      (0..r.h)
        .flat_map(|i| {
          let at = (r.y + i) * self.stride + r.x * 4;
          self.pixels[at..at + r.w * 4].to_vec()
        })
        .collect()
    }

    /// Whether byte `at` lies in the pixels of `r`.
    fn inside(&self, r: Rect, at: usize) -> bool {
      let (y, x) = (at / self.stride, at % self.stride / 4);
      (r.y..r.y + r.h).contains(&y) && (r.x..r.x + r.w).contains(&x)
    }
  }

  /// New pixels inside `r` the way screens change: a few pixels, noise, or one colour.
  fn change(rng: &mut Rng, s: &Surface, r: Rect) -> Vec<u8> {
    let mut next = s.pixels.clone();
    let colour = rng.next().to_le_bytes();
    let mode = rng.next() % 3;
    for i in 0..r.h {
      for j in 0..r.w {
        let at = (r.y + i) * s.stride + (r.x + j) * 4;
        match mode {
          0 | 1 => {
            let pixel = rng.next();
            if mode == 1 || pixel.is_multiple_of(7) {
              next[at..at + 4].copy_from_slice(&pixel.rotate_left(3).to_le_bytes());
            }
          }
          2 => next[at..at + 4].copy_from_slice(&colour),
          _ => {}
        }
      }
    }
    next
  }

  /// The tile data that turns `s` into `next` inside `r` in `codec`, as a transmitter writes it.
  fn encode(codec: u32, s: &Surface, next: &[u8], r: Rect) -> Option<Vec<u8>> {
    let target = Surface {
      pixels: next.to_vec(),
      stride: s.stride,
      width: s.width,
      height: s.height,
    };
    let packed = target.packed(r);
    let mut block = vec![0u8; packed.len() * 2 + 64];
    match codec {
      c if c == WIRE.codec_raw => Some(packed),
      c if c == WIRE.codec_solid => {
        let first = &packed[..4];
        packed.chunks_exact(4).all(|p| p == first).then(|| first.to_vec())
      }
      c if c == WIRE.codec_raw_rgb || c == WIRE.codec_lz4_rgb => {
        let rgb: Vec<u8> = packed.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        if c == WIRE.codec_raw_rgb {
          return Some(rgb);
        }
        let n = compress(Codec::Lz4, &rgb, &mut block, 1)?;
        Some(block[..n].to_vec())
      }
      c if c == WIRE.codec_lz4 || c == WIRE.codec_zstd => {
        let method = if c == WIRE.codec_lz4 {
          Codec::Lz4
        } else {
          Codec::Zstd
        };
        let n = compress(method, &packed, &mut block, 1)?;
        Some(block[..n].to_vec())
      }
      _ => {
        let mut spans = vec![0u8; 2 * packed.len() + 8];
        let n = span_stream(next, &s.pixels, s.stride, r, &mut spans)?;
        let m = compress(Codec::Lz4, &spans[..n], &mut block, 1)?;
        Some(block[..m].to_vec())
      }
    }
  }

  /// A hostile variant of `data`: bits flipped, cut, grown, or replaced by noise.
  fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut bad = data.to_vec();
    match rng.next() % 5 {
      0 => {
        for _ in 0..1 + rng.next() % 6 {
          if !bad.is_empty() {
            let at = rng.next() as usize % bad.len();
            let bit = rng.next() % 8;
            bad[at] ^= 1 << bit;
          }
        }
      }
      1 => bad.truncate(rng.next() as usize % (data.len() + 1)),
      2 => {
        let len = 1 + rng.next() as usize % 32;
        let more = rng.bytes(len);
        bad.extend_from_slice(&more);
      }
      3 => {
        let len = rng.next() as usize % 256;
        bad = rng.bytes(len);
      }
      _ => {
        // A valid block that claims to be something else: keep it, the caller changes the rect
        // or the codec.
      }
    }
    bad
  }

  #[test]
  fn tiles_in_every_codec_decode_exactly_and_hostile_ones_never_write_outside_or_half_way() {
    let budget = Budget::from_env(1500, 0x7113);
    let mut rng = Rng(budget.seed);
    let mut scratch = Vec::new();
    let (mut inputs, mut refused, mut valid) = (0u64, 0u64, 0u64);
    while budget.more(inputs) {
      let s = Surface::random(&mut rng);
      let r = s.rect(&mut rng);
      let codec = CODECS[rng.next() as usize % CODECS.len()];
      let (next, data) = if codec == WIRE.codec_copy {
        // Rows of the same size from anywhere in the surface, maybe overlapping.
        let (sx, sy) = (
          rng.next() as usize % (s.width - r.w + 1),
          rng.next() as usize % (s.height - r.h + 1),
        );
        let mut next = s.pixels.clone();
        crate::scroll::move_rows(&mut next, s.stride, r, sx, sy);
        (
          next,
          [(sx as u32).to_le_bytes(), (sy as u32).to_le_bytes()].concat(),
        )
      } else {
        let mut next = change(&mut rng, &s, r);
        if codec == WIRE.codec_raw_rgb || codec == WIRE.codec_lz4_rgb {
          // 3-byte pixels come back with the 4th byte 0xff, whatever it was.
          for i in 0..r.h {
            for j in 0..r.w {
              next[(r.y + i) * s.stride + (r.x + j) * 4 + 3] = 0xff;
            }
          }
        }
        let Some(data) = encode(codec, &s, &next, r) else {
          continue;
        };
        (next, data)
      };

      // The valid tile gives exactly the new pixels, and nothing else changes.
      let mut out = s.pixels.clone();
      write_tile(&WIRE, &mut scratch, codec, &data, &mut out, s.stride, r).unwrap_or_else(|e| {
        panic!(
          "seed {}: valid codec {codec} tile {r:?} refused: {e}",
          budget.seed
        )
      });
      assert!(
        out == next,
        "seed {}: codec {codec} tile {r:?} decoded wrong",
        budget.seed
      );
      valid += 1;

      // A hostile one: mutated data, maybe under another codec number or rectangle (some
      // outside the surface). Refused: the pixels are untouched; accepted: only the rectangle
      // it names changed.
      let bad = mutate(&mut rng, &data);
      let codec = if rng.next().is_multiple_of(4) {
        rng.next() % 11
      } else {
        codec
      };
      let r = match rng.next() % 4 {
        0 => s.rect(&mut rng),
        1 => Rect {
          x: rng.next() as usize % (s.width + 4),
          y: rng.next() as usize % (s.height + 4),
          w: rng.next() as usize % (2 * s.width + 2),
          h: rng.next() as usize % (MAX_MESSAGE / 4),
        },
        _ => r,
      };
      let stride = if rng.next().is_multiple_of(8) {
        rng.next() as usize % (2 * s.stride + 1)
      } else {
        s.stride
      };
      let mut out = s.pixels.clone();
      match write_tile(&WIRE, &mut scratch, codec, &bad, &mut out, stride, r) {
        Err(_) => {
          assert!(
            out == s.pixels,
            "seed {}: a refused tile wrote pixels",
            budget.seed
          );
          refused += 1;
        }
        Ok(()) => {
          let view = Surface {
            pixels: Vec::new(),
            stride,
            width: s.width,
            height: s.height,
          };
          for (at, (a, b)) in out.iter().zip(&s.pixels).enumerate() {
            assert!(
              a == b || view.inside(r, at),
              "seed {}: byte {at} outside {r:?} written",
              budget.seed
            );
          }
          if codec == WIRE.codec_raw_rgb || codec == WIRE.codec_lz4_rgb {
            // Accepted 3-byte pixels are exactly the whole rectangle's, opaque: never a part.
            let mut rgb = vec![0u8; r.w * r.h * 3 + 64];
            let n = if codec == WIRE.codec_raw_rgb {
              let k = bad.len().min(rgb.len());
              rgb[..k].copy_from_slice(&bad[..k]);
              bad.len()
            } else {
              crate::codec::decompress(Codec::Lz4, &bad, &mut rgb).unwrap_or(usize::MAX)
            };
            assert_eq!(
              n,
              r.w * r.h * 3,
              "seed {}: a {r:?} tile of {n} bytes of 3-byte pixels accepted",
              budget.seed
            );
            for (i, p) in rgb[..n].chunks_exact(3).enumerate() {
              let at = (r.y + i / r.w) * stride + (r.x + i % r.w) * 4;
              assert_eq!(
                out[at..at + 4],
                [p[0], p[1], p[2], 0xff],
                "seed {}: pixel {i} of {r:?}",
                budget.seed
              );
            }
          }
        }
      }
      inputs += 2;
    }
    budget.report("tile writer", inputs);
    assert!(
      valid > 10 && refused > 0,
      "{valid} valid and {refused} refused tiles"
    );
  }
}
