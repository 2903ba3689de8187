//! The LZ4 block decoder of the `lz4` and `lz4_spans` codecs (used through `codec.rs`), and the
//! hand-written encoder the shim used before `codec.rs` moved encoding to lz4_flex, kept for
//! tests: blocks must stay compatible both ways with what deployed peers send and decode, and the
//! codec benchmark compares the two. LZ4 block format, as the reference liblz4 writes it:
//! <https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md>.
//!
//! Why this decoder and not lz4_flex's: on screen content (runs of equal pixels are overlapping
//! matches at offset 4) it decodes 2-4 times faster (bench/README.md, "Codecs"), and the receiver
//! decodes every tile. It treats its input as hostile: every length and offset is checked
//! against both buffers, and it fails instead of writing past the output. Overlapping matches
//! are copied in doubling chunks, not byte by byte. It is fuzzed in `codec.rs` (mutated blocks,
//! and differentially against lz4_flex's decoder).
//!
//! The encoder is a greedy single-pass matcher like liblz4's fast mode, with its acceleration
//! and end-of-block rules (the last 5 bytes are literals, no match starts in the last 12 bytes).
//!
//! Safe Rust only: slices and `copy_within`, no raw pointers.

const MIN_MATCH: usize = 4;
#[cfg(test)]
/// The last 5 bytes of a block are always literals.
const LAST_LITERALS: usize = 5;
#[cfg(test)]
/// No match starts within the last 12 bytes of a block.
const MF_LIMIT: usize = 12;
#[cfg(test)]
const MAX_OFFSET: usize = 65_535;
#[cfg(test)]
const HASH_LOG: u32 = 12;
#[cfg(test)]
/// After 2^SKIP_TRIGGER failed searches the step grows by one byte (liblz4's acceleration).
const SKIP_TRIGGER: u32 = 6;

#[cfg(test)]
#[inline]
fn read_u32(data: &[u8], at: usize) -> u32 {
  u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
#[inline]
fn read_u64(data: &[u8], at: usize) -> u64 {
  u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
/// Hash of the 5 bytes at the start of `v` (liblz4's hash for 64-bit targets: fewer collisions
/// than hashing 4 bytes, hence longer matches).
#[inline]
fn hash5(v: u64) -> usize {
  ((v << 24).wrapping_mul(889_523_592_379) >> (64 - HASH_LOG)) as usize & ((1 << HASH_LOG) - 1)
}

#[cfg(test)]
/// Length of the common prefix of `data[a..]` and `data[b..]`, not reaching `limit` (a < b).
#[inline]
fn common_length(data: &[u8], a: usize, b: usize, limit: usize) -> usize {
  let mut n = 0;
  while b + n + 8 <= limit {
    let diff = read_u64(data, a + n) ^ read_u64(data, b + n);
    if diff != 0 {
      return n + (diff.trailing_zeros() / 8) as usize;
    }
    n += 8;
  }
  while b + n < limit && data[a + n] == data[b + n] {
    n += 1;
  }
  n
}

#[cfg(test)]
/// Output cursor that refuses to grow past the caller's buffer.
struct Sink<'a> {
  out: &'a mut [u8],
  at: usize,
}

#[cfg(test)]
impl Sink<'_> {
  /// Writes one sequence: the literals `input[from..to]`, then (unless `matched` is None) offset
  /// and match length.
  #[inline]
  fn sequence(
    &mut self,
    input: &[u8],
    from: usize,
    to: usize,
    matched: Option<(usize, usize)>,
  ) -> Option<()> {
    let lit = to - from;
    let match_extra = matched.map_or(0, |(_, len)| (len - MIN_MATCH) / 255 + 3);
    // token + literal length bytes + literals + offset and match length bytes
    let need = 1 + lit / 255 + 1 + lit + match_extra;
    if self.out.len() - self.at < need {
      return None;
    }
    let token_at = self.at;
    self.at += 1;
    let mut token = if lit >= 15 {
      self.length_bytes(lit - 15);
      15 << 4
    } else {
      (lit as u8) << 4
    };
    if lit <= 16 && input.len() - from >= 16 && self.out.len() - self.at >= 16 {
      // A fixed-size copy (two moves) instead of a memcpy call for short literal runs. The bytes
      // past `lit` are overwritten by what follows, or lie past the end of the block.
      let chunk: &[u8; 16] = input[from..from + 16].try_into().expect("16 bytes");
      self.out[self.at..self.at + 16].copy_from_slice(chunk);
    } else {
      self.out[self.at..self.at + lit].copy_from_slice(&input[from..to]);
    }
    self.at += lit;
    if let Some((offset, len)) = matched {
      self.out[self.at..self.at + 2].copy_from_slice(&(offset as u16).to_le_bytes());
      self.at += 2;
      let ml = len - MIN_MATCH;
      if ml >= 15 {
        token |= 15;
        self.length_bytes(ml - 15);
      } else {
        token |= ml as u8;
      }
    }
    self.out[token_at] = token;
    Some(())
  }

  #[inline]
  fn length_bytes(&mut self, mut rest: usize) {
    while rest >= 255 {
      self.out[self.at] = 255;
      self.at += 1;
      rest -= 255;
    }
    self.out[self.at] = rest as u8;
    self.at += 1;
  }
}

#[cfg(test)]
/// Compresses `input` into `output` as one LZ4 block. Returns the block's length, or None when
/// it does not fit in `output`.
pub fn compress(input: &[u8], output: &mut [u8]) -> Option<usize> {
  let n = input.len();
  let mut sink = Sink { out: output, at: 0 };
  let mut anchor = 0;
  if n > MF_LIMIT {
    let mut table = [0u32; 1 << HASH_LOG];
    let match_limit = n - LAST_LITERALS;
    let start_limit = n - MF_LIMIT;
    let mut i = 0;
    let mut searches: u32 = 1 << SKIP_TRIGGER;
    while i <= start_limit {
      let v = read_u32(input, i);
      let h = hash5(read_u64(input, i));
      let candidate = table[h] as usize;
      table[h] = i as u32;
      if candidate < i && i - candidate <= MAX_OFFSET && read_u32(input, candidate) == v {
        let (mut start, mut from) = (i, candidate);
        while start > anchor && from > 0 && input[start - 1] == input[from - 1] {
          start -= 1;
          from -= 1;
        }
        let len = MIN_MATCH + common_length(input, from + MIN_MATCH, start + MIN_MATCH, match_limit);
        sink.sequence(input, anchor, start, Some((start - from, len)))?;
        i = start + len;
        anchor = i;
        if i >= 2 && i - 2 <= start_limit {
          table[hash5(read_u64(input, i - 2))] = (i - 2) as u32;
        }
        searches = 1 << SKIP_TRIGGER;
      } else {
        i += (searches >> SKIP_TRIGGER) as usize;
        searches += 1;
      }
    }
  }
  sink.sequence(input, anchor, n, None)?;
  Some(sink.at)
}

/// Why a block does not decode.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
  /// The block ends inside a sequence.
  Truncated,
  /// An offset of 0 or one pointing before the start of the output.
  BadOffset,
  /// The block decodes to more bytes than the output holds.
  Overflow,
}

impl std::fmt::Display for DecodeError {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str(match self {
      DecodeError::Truncated => "the block ends inside a sequence",
      DecodeError::BadOffset => "a match refers to data before the start of the block",
      DecodeError::Overflow => "the block decodes to more bytes than expected",
    })
  }
}

fn extended_length(input: &[u8], at: &mut usize, mut len: usize) -> std::result::Result<usize, DecodeError> {
  loop {
    let b = *input.get(*at).ok_or(DecodeError::Truncated)?;
    *at += 1;
    len = len.checked_add(b as usize).ok_or(DecodeError::Overflow)?;
    if b != 255 {
      return Ok(len);
    }
  }
}

/// Decodes one LZ4 block into `output`; returns the number of bytes decoded. Short copies are
/// done 16 bytes at a time, so bytes of `output` past that length may be changed too.
pub fn decompress(input: &[u8], output: &mut [u8]) -> std::result::Result<usize, DecodeError> {
  let (mut i, mut o) = (0, 0);
  loop {
    let token = *input.get(i).ok_or(DecodeError::Truncated)?;
    i += 1;
    let mut lit = (token >> 4) as usize;
    if lit == 15 {
      lit = extended_length(input, &mut i, lit)?;
    }
    if lit > input.len() - i {
      return Err(DecodeError::Truncated);
    }
    if lit > output.len() - o {
      return Err(DecodeError::Overflow);
    }
    if lit <= 16 && input.len() - i >= 16 && output.len() - o >= 16 {
      // Fixed-size copy for short runs; the extra bytes are overwritten by what follows (or
      // lie past the decoded length, which is what the caller looks at).
      let chunk: &[u8; 16] = input[i..i + 16].try_into().expect("16 bytes");
      output[o..o + 16].copy_from_slice(chunk);
    } else {
      output[o..o + lit].copy_from_slice(&input[i..i + lit]);
    }
    i += lit;
    o += lit;
    if i == input.len() {
      return Ok(o); // the last sequence has literals only
    }
    if input.len() - i < 2 {
      return Err(DecodeError::Truncated);
    }
    let offset = u16::from_le_bytes([input[i], input[i + 1]]) as usize;
    i += 2;
    if offset == 0 || offset > o {
      return Err(DecodeError::BadOffset);
    }
    let mut len = (token & 15) as usize;
    if len == 15 {
      len = extended_length(input, &mut i, len)?;
    }
    len += MIN_MATCH;
    if len > output.len() - o {
      return Err(DecodeError::Overflow);
    }
    let from = o - offset;
    if offset >= 16 && len <= 16 && output.len() - o >= 16 {
      let chunk: [u8; 16] = output[from..from + 16].try_into().expect("16 bytes");
      output[o..o + 16].copy_from_slice(&chunk);
    } else if offset >= len {
      output.copy_within(from..from + len, o);
    } else {
      // The match overlaps its own output: the bytes repeat with period `offset`. Copying from
      // `from` stays correct while the amount already copied is a multiple of the period, and
      // the source never overlaps the destination, so each chunk can double.
      let mut copied = 0;
      while copied < len {
        let chunk = (offset + copied).min(len - copied);
        output.copy_within(from..from + chunk, o + copied);
        copied += chunk;
      }
    }
    o += len;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn roundtrip(data: &[u8]) -> usize {
    let mut block = vec![0u8; data.len() + data.len() / 255 + 16];
    let n = compress(data, &mut block).expect("fits in the worst-case bound");
    let mut out = vec![0u8; data.len()];
    assert_eq!(decompress(&block[..n], &mut out), Ok(data.len()));
    assert_eq!(out, data);
    n
  }

  fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
      .map(|_| {
        seed = seed
          .wrapping_mul(6_364_136_223_846_793_005)
          .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u8
      })
      .collect()
  }

  #[test]
  fn short_inputs_become_literals_only() {
    for len in 0..=MF_LIMIT + 1 {
      let data: Vec<u8> = (0..len as u8).collect();
      roundtrip(&data);
    }
    assert_eq!(roundtrip(&[]), 1);
  }

  #[test]
  fn runs_and_repeats_compress_and_come_back() {
    assert!(roundtrip(&[0xffu8; 65_536]) < 300);
    let pixels: Vec<u8> = (0..16_384u32)
      .flat_map(|i| (if i % 7 == 0 { 0xff00_0000u32 } else { 0xffff_ffff }).to_le_bytes())
      .collect();
    assert!(roundtrip(&pixels) < pixels.len() / 4);
    let mut text = Vec::new();
    for i in 0..2000 {
      text.extend_from_slice(format!("line {} of a log tail\n", i % 97).as_bytes());
    }
    roundtrip(&text);
  }

  #[test]
  fn incompressible_input_roundtrips_and_gives_up_when_it_does_not_fit() {
    let data = noise(65_536, 7);
    assert!(roundtrip(&data) > data.len());
    let mut small = vec![0u8; data.len() - 1];
    assert_eq!(compress(&data, &mut small), None);
  }

  #[test]
  fn blocks_keep_the_end_of_block_rules() {
    // A long run: the last sequence must still carry at least 5 literals.
    let data = vec![9u8; 1000];
    let mut block = vec![0u8; 1100];
    let n = compress(&data, &mut block).unwrap();
    let mut out = vec![0u8; 1000];
    assert_eq!(decompress(&block[..n], &mut out), Ok(1000));
    // Decode sequence by sequence and check the last one.
    let (mut i, mut last_literals) = (0, 0);
    while i < n {
      let token = block[i];
      i += 1;
      let mut lit = (token >> 4) as usize;
      if lit == 15 {
        lit = extended_length(&block, &mut i, lit).unwrap();
      }
      i += lit;
      last_literals = lit;
      if i == n {
        break;
      }
      i += 2;
      if token & 15 == 15 {
        extended_length(&block, &mut i, 15).unwrap();
      }
    }
    assert!(last_literals >= LAST_LITERALS);
  }

  #[test]
  fn hostile_blocks_fail_without_writing_past_the_output() {
    let mut out = [0u8; 16];
    assert_eq!(decompress(&[], &mut out), Err(DecodeError::Truncated));
    // 4 literals announced, 2 present.
    assert_eq!(decompress(&[0x40, 1, 2], &mut out), Err(DecodeError::Truncated));
    // Offset 0, and an offset before the start.
    assert_eq!(
      decompress(&[0x10, 1, 0, 0], &mut out),
      Err(DecodeError::BadOffset)
    );
    assert_eq!(
      decompress(&[0x10, 1, 2, 0], &mut out),
      Err(DecodeError::BadOffset)
    );
    // A match longer than the output.
    assert_eq!(
      decompress(&[0x1f, 1, 1, 0, 200], &mut out),
      Err(DecodeError::Overflow)
    );
    // Literals longer than the output.
    let mut lits = vec![0xf0, 10];
    lits.extend_from_slice(&[0u8; 25]);
    assert_eq!(decompress(&lits, &mut out), Err(DecodeError::Overflow));
    // An offset with its second byte missing.
    assert_eq!(decompress(&[0x10, 1, 1], &mut out), Err(DecodeError::Truncated));
    // Endless length bytes.
    assert_eq!(
      decompress(&[0xf0, 255, 255], &mut out),
      Err(DecodeError::Truncated)
    );
  }

  #[test]
  fn overlapping_matches_repeat_their_period() {
    for period in 1..=9usize {
      for len in MIN_MATCH..40 {
        let mut block = vec![(period as u8) << 4];
        block.extend((0..period).map(|b| b as u8 + 1));
        let ml = len - MIN_MATCH;
        block[0] |= ml.min(15) as u8;
        block.extend_from_slice(&(period as u16).to_le_bytes());
        if ml >= 15 {
          block.push((ml - 15) as u8);
        }
        block.push(0x00); // an empty final literal run
        let mut out = vec![0u8; period + len];
        assert_eq!(decompress(&block, &mut out), Ok(period + len));
        for (k, b) in out.iter().enumerate() {
          assert_eq!(*b as usize, k % period + 1, "period {period} len {len}");
        }
      }
    }
  }

  #[test]
  fn random_bytes_never_panic_the_decoder() {
    let mut out = vec![0u8; 4096];
    for seed in 0..2000 {
      let data = noise((seed % 97) as usize + 1, seed);
      let _ = decompress(&data, &mut out);
    }
  }
}
