import { describe, expect, it } from 'vitest';
import { FRAME_STATS_LENGTH, FrameEncoder, isNativeError, lz4Compress, type FrameStats } from '../native.js';
import { defaultWalthamTable } from '../waltham/connection.js';
import { encodeMessage, parseMessage } from '../waltham/wire.js';
import { wthpContentInterface } from '../generated/waltham/waltham.js';
import { prng } from '../test/helpers.js';
import { applyTile, CODEC_COPY, CODEC_LZ4, CODEC_LZ4_RGB, CODEC_LZ4_SPANS, CODEC_ZSTD, CODEC_RAW, CODEC_RAW_RGB, CODEC_SOLID, codecBit, LOCAL_CODECS, RGB_CODECS, TileDecoder, TileEncoder, TileError, FORMAT_ARGB8888, FORMAT_XRGB8888, copySource, type EncodeResult, type PixelImage } from './tiles.js';

const W = 300;
const H = 170;

function noise(width: number, height: number, seed: number, stride = width * 4): Uint8Array {
  const rand = prng(seed);
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width * 4; x++) px[y * stride + x] = rand() < 0.5 ? Math.floor(rand() * 256) : 7;
  }
  return px;
}

function image(pixels: Uint8Array, stride?: number): PixelImage & { stride?: number } {
  return { width: W, height: H, format: 'argb8888', pixels, ...(stride !== undefined ? { stride } : {}) };
}

const tileSpec = wthpContentInterface.requests.find((m) => m.name === 'tile')!;
/** The wire numbers for FrameEncoder, taken here from the generated tables. */
const wire = { tileOpcode: tileSpec.opcode, codecRaw: CODEC_RAW, codecLz4: CODEC_LZ4, codecZstd: CODEC_ZSTD, codecSolid: CODEC_SOLID, codecLz4Spans: CODEC_LZ4_SPANS, codecCopy: CODEC_COPY, codecRawRgb: CODEC_RAW_RGB, codecLz4Rgb: CODEC_LZ4_RGB };

/** A page of text lines under a fixed title bar, scrolled so that row `top` of the text is at the top. */
function page(top: number): Uint8Array {
  const px = new Uint8Array(W * H * 4).fill(0xee);
  for (let y = 20; y < H; y++) {
    const line = Math.floor((y + top) / 11);
    if ((y + top) % 11 >= 8) continue;
    for (let x = 4; x < W - 4; x++) if ((x * 7 + line * 13 + ((y + top) % 11) * 5) % 9 < 3) px.fill(line & 0xff, (y * W + x) * 4, (y * W + x) * 4 + 4);
  }
  return px;
}

/** Each of `frames` encoded in turn by one encoder (whole surface damaged); each decodes to exactly its pixels. */
function encodeEach(codecs: number, frames: readonly Uint8Array[]): EncodeResult[] {
  const enc = new TileEncoder({ codecs });
  const dec = new TileDecoder();
  return frames.map((px) => {
    const res = enc.encode(image(px), [{ x: 0, y: 0, width: W, height: H }]);
    dec.begin(W, H, FORMAT_ARGB8888);
    for (const t of res.tiles) dec.apply(t);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
    return res;
  });
}

describe('the native one-pass frame encoder', () => {
  it('writes tile messages byte for byte as the Waltham codec writes them', () => {
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const first = noise(W, H, 1);
    const frame = enc.encodeMessages(image(first), null, 7, 9);
    const table = defaultWalthamTable();
    let messages = 0;
    for (let at = 0; at < frame.bytes.byteLength; messages++) {
      const m = parseMessage(frame.bytes, at, frame.bytes.byteLength - at, table);
      if (m.kind !== 'message') throw new Error(`message at ${at}: ${m.kind}`);
      expect(m.entry.message.name).toBe('tile');
      expect(m.objectId).toBe(7);
      expect(m.args[0]).toBe(9);
      const again = encodeMessage(tileSpec, 7, m.args as never, 'wthp_content');
      expect(Buffer.from(frame.bytes.subarray(at, at + m.length)).equals(Buffer.from(again))).toBe(true);
      at += m.length;
    }
    expect(messages).toBe(frame.tiles);
    expect(messages).toBeGreaterThan(1);
    frame.release();
  });

  it('reads sources whose rows are padded (a client buffer with a larger stride)', () => {
    const stride = W * 4 + 52;
    const padded = noise(W, H, 2, stride);
    const packed = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) packed.set(padded.subarray(y * stride, y * stride + W * 4), y * W * 4);
    for (const codecs of [codecBit(CODEC_RAW), LOCAL_CODECS]) {
      const a = new TileEncoder({ codecs }).encodeMessages(image(padded, stride), null, 3, 4);
      const b = new TileEncoder({ codecs }).encodeMessages(image(packed), null, 3, 4);
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
      // and what it sends rebuilds the picture
      const dec = new TileDecoder();
      new TileEncoder({ codecs }).encode(image(padded, stride), null, (t) => {
        if (dec.image === null) dec.begin(W, H, FORMAT_ARGB8888);
        dec.apply(t);
      });
      expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(packed))).toBe(true);
    }
  });

  it('follows changes through a stride-padded source across frames with damage', () => {
    const stride = W * 4 + 16;
    const src = noise(W, H, 3, stride);
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const dec = new TileDecoder();
    const apply = (damage: { x: number; y: number; width: number; height: number }[] | null): void => {
      enc.encode(image(src, stride), damage, (t) => {
        if (dec.image === null) dec.begin(W, H, FORMAT_ARGB8888);
        dec.apply(t);
      });
    };
    apply(null);
    const rand = prng(4);
    for (let i = 0; i < 20; i++) {
      const x = Math.floor(rand() * (W - 20));
      const y = Math.floor(rand() * (H - 20));
      for (let r = y; r < y + 17; r++) src.fill(Math.floor(rand() * 256), r * stride + x * 4, r * stride + (x + 13) * 4);
      apply([{ x, y, width: 13, height: 17 }]);
    }
    for (let y = 0; y < H; y++) {
      expect(Buffer.from(dec.image!.pixels.subarray(y * W * 4, (y + 1) * W * 4)).equals(Buffer.from(src.subarray(y * stride, y * stride + W * 4)))).toBe(true);
    }
  });

  it('sends forgotten regions again in full once damage covers them (after lossy tiles)', () => {
    for (const codecs of [LOCAL_CODECS, codecBit(CODEC_RAW) | codecBit(CODEC_LZ4_SPANS)]) {
      const enc = new TileEncoder({ codecs });
      const dec = new TileDecoder();
      const px = noise(W, H, 11);
      const send = (damage: { x: number; y: number; width: number; height: number }[] | null) => {
        dec.begin(W, H, FORMAT_ARGB8888);
        const res = enc.encode(image(px), damage, (t) => dec.apply(t));
        return res;
      };
      send(null);
      // The receiver got an approximation of (70..170, 30..90): say every byte is off by one.
      const lossy = { x: 70, y: 30, width: 100, height: 60 };
      const got = dec.image!.pixels;
      for (let y = lossy.y; y < lossy.y + lossy.height; y++) {
        for (let x = lossy.x * 4; x < (lossy.x + lossy.width) * 4; x++) got[y * W * 4 + x]! ^= 1;
      }
      const area = enc.forget([lossy], W, H);
      expect(area).toEqual([{ x: 64, y: 0, width: 128, height: 128 }]);
      // Damage elsewhere leaves the region alone; the pixels there are still the old ones.
      expect(send([{ x: 0, y: 150, width: 10, height: 10 }]).changedTiles).toBe(0);
      expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(false);
      // Damage over it sends it again, though the content did not change.
      const again = send(area);
      expect(again.changedTiles).toBe(4);
      expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
      // Known again: the same damage sends nothing.
      expect(send(area).changedTiles).toBe(0);
    }
  });

  it('sends scrolled content as one copy of what the receiver has plus the new rows', () => {
    for (const [codecs, copies] of [
      [LOCAL_CODECS, true],
      [LOCAL_CODECS & ~codecBit(CODEC_COPY), false],
    ] as const) {
      const enc = new TileEncoder({ codecs });
      const dec = new TileDecoder();
      const send = (px: Uint8Array): EncodeResult => {
        const res = enc.encode(image(px), [{ x: 0, y: 0, width: W, height: H }]);
        dec.begin(W, H, FORMAT_ARGB8888);
        for (const t of res.tiles) dec.apply(t);
        return res;
      };
      send(page(0));
      for (const [top, step] of [
        [4, 4],
        [15, 11],
        [12, -3],
      ] as const) {
        const res = send(page(top));
        expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(page(top)))).toBe(true);
        const copy = res.tiles.filter((t) => t.codec === CODEC_COPY);
        if (!copies) {
          expect(copy).toEqual([]);
          continue;
        }
        expect(copy).toHaveLength(1);
        const source = copySource(copy[0]!)!;
        expect(source.y - copy[0]!.y).toBe(step);
        expect(res.copiedPixels).toBe(copy[0]!.width * copy[0]!.height);
        expect(copy[0]!.height).toBeGreaterThan((H - 20) / 2);
        // Only the rows that are new travel as pixels.
        expect(res.rawBytes).toBeLessThanOrEqual(W * 4 * 64 * 2);
      }
    }
  });

  it('finds every pixel that changed beside a scroll: in the margins and the title bar, in tiles the copy covers in part, below where a neighbouring tile first changed', () => {
    const rand = prng(77);
    const frames = Array.from({ length: 40 }, (_, i) => {
      const px = page(3 * i);
      // A few pixels that differ from the frame before: in the margins beside the text (the
      // copy then stops short of them, or covers them in the rows where they did not change),
      // in the title bar, or anywhere.
      const dots = 1 + Math.floor(rand() * 5);
      for (let k = 0; k < dots; k++) {
        const where = rand();
        const margin = Math.floor(rand() * 4);
        const x = where < 0.4 ? (rand() < 0.5 ? margin : W - 1 - margin) : Math.floor(rand() * W);
        const y = where < 0.4 ? 20 + Math.floor(rand() * (H - 20)) : where < 0.7 ? Math.floor(rand() * 20) : Math.floor(rand() * H);
        px.fill(0x40 + 16 * k + i, (y * W + x) * 4, (y * W + x) * 4 + 4);
      }
      return px;
    });
    // Each frame decodes to exactly its pixels (encodeEach), and most went as a copy.
    const res = encodeEach(LOCAL_CODECS, frames);
    expect(res.filter((r) => r.tiles.some((t) => t.codec === CODEC_COPY)).length).toBeGreaterThanOrEqual(30);
    // Without a scroll: one tile changes in its 3rd row, the next one in its 51st only, a third in
    // its last row only; each is found, and the tiles between them are not sent.
    const still = page(0);
    const moved = still.slice();
    for (const [x, y] of [
      [10, 2],
      [70, 50],
      [200, 63],
    ] as const) {
      moved.fill(0x33, (y * W + x) * 4, (y * W + x) * 4 + 4);
    }
    const [, after] = encodeEach(LOCAL_CODECS, [still, moved]);
    expect(after!.changedTiles).toBe(3);
  });

  it('keeps its picture of the receiver through scrolls up and down, one after the other, beside a frame that stays', () => {
    // The page moves by 1 to 20 rows a frame, either way; a frame of 6 columns on each side
    // stays, with a colour per row, so no copy spans the width, and a pixel or two change
    // anywhere. The encoder's picture must follow every move exactly: each frame decodes to
    // exactly its pixels (encodeEach).
    const rand = prng(91);
    let top = 200;
    const dirs = new Set<number>();
    const frames = Array.from({ length: 60 }, (_, i) => {
      if (i > 0) {
        const step = 1 + Math.floor(rand() * 20);
        const dir = rand() < 0.5 ? -1 : 1;
        top += dir * step;
      }
      const px = page(top);
      for (let y = 0; y < H; y++) {
        for (const x of [0, 1, 2, 3, 4, 5, W - 6, W - 5, W - 4, W - 3, W - 2, W - 1]) px.fill((y * 37 + x) & 0xff, (y * W + x) * 4, (y * W + x) * 4 + 4);
      }
      for (let k = 0; k < 2; k++) {
        const [x, y] = [Math.floor(rand() * W), Math.floor(rand() * H)];
        px.fill(0x50 + k + i, (y * W + x) * 4, (y * W + x) * 4 + 4);
      }
      return px;
    });
    const res = encodeEach(LOCAL_CODECS, frames);
    let copies = 0;
    res.forEach((r, i) => {
      // What the receiver has once the copy is done: the frame before, its rows moved.
      const moved = i > 0 ? frames[i - 1]!.slice() : new Uint8Array(W * H * 4);
      for (const t of r.tiles.filter((t) => t.codec === CODEC_COPY)) {
        copies++;
        expect(t.x).toBeGreaterThanOrEqual(6);
        expect(t.x + t.width).toBeLessThanOrEqual(W - 6);
        const from = copySource(t)!;
        dirs.add(Math.sign(from.y - t.y));
        const rows = Array.from({ length: t.height }, (_, k) => moved.slice(((from.y + k) * W + t.x) * 4, ((from.y + k) * W + t.x + t.width) * 4));
        rows.forEach((row, k) => moved.set(row, ((t.y + k) * W + t.x) * 4));
      }
      // Every other tile lies in 64x64 cells where that differs from the frame: the encoder's
      // picture of the receiver followed the move (the frame beside it sends nothing).
      const changed = (cx: number, cy: number): boolean => {
        for (let y = cy * 64; y < Math.min(H, cy * 64 + 64); y++) {
          const at = (y * W + cx * 64) * 4;
          const end = (y * W + Math.min(W, cx * 64 + 64)) * 4;
          if (!Buffer.from(moved.subarray(at, end)).equals(Buffer.from(frames[i]!.subarray(at, end)))) return true;
        }
        return false;
      };
      for (const t of r.tiles.filter((t) => t.codec !== CODEC_COPY)) {
        for (let cy = Math.floor(t.y / 64); cy <= Math.floor((t.y + t.height - 1) / 64); cy++) {
          for (let cx = Math.floor(t.x / 64); cx <= Math.floor((t.x + t.width - 1) / 64); cx++) {
            expect(changed(cx, cy), `frame ${i}: ${t.width}x${t.height}+${t.x}+${t.y} in an unchanged cell`).toBe(true);
          }
        }
      }
    });
    expect(copies).toBeGreaterThanOrEqual(40);
    expect([...dirs].sort()).toEqual([-1, 1]);
  });

  it('searches for a scroll less after new content all over, and finds one that starts within 8 frames', () => {
    const run = (frames: Uint8Array[]): boolean[] => encodeEach(LOCAL_CODECS, frames).map((res) => res.tiles.some((t) => t.codec === CODEC_COPY));
    const scrolling = Array.from({ length: 10 }, (_, i) => page(4 * i));
    // Straight away: every frame after the first is a copy.
    expect(run(scrolling)).toEqual([false, ...Array<boolean>(9).fill(true)]);
    // After three frames of noise, the page starts to scroll: found late, but within 8 frames.
    const late = run([page(0), noise(W, H, 31), noise(W, H, 32), noise(W, H, 33), ...scrolling]).slice(4);
    expect(late[1]).toBe(false);
    const first = late.indexOf(true);
    expect(first).toBeGreaterThan(1);
    expect(first).toBeLessThanOrEqual(8);
    expect(late.slice(first).every((c) => c)).toBe(true);
    // Frames that change a few pixels (typing) are no reason to search less.
    const typed = (n: number): Uint8Array => {
      const px = page(0);
      px.fill(n, (60 * W + 10 + 6 * n) * 4, (60 * W + 16 + 6 * n) * 4);
      return px;
    };
    expect(run([page(0), typed(1), typed(2), typed(3), page(4)])).toEqual([false, false, false, false, true]);
  });

  it('after frames LZ4 cannot shrink, sends the next ones raw without trying, and compresses again within 8 frames', () => {
    const grain = (seed: number): Uint8Array => {
      const rand = prng(seed);
      return new Uint8Array(W * H * 4).map(() => Math.floor(rand() * 256));
    };
    // A pattern LZ4 shrinks well, new in every frame (no tile is one colour).
    const pattern = (n: number): Uint8Array => {
      const px = new Uint8Array(W * H * 4);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.fill((((x ^ y) & 15) * 9 + n) & 0xff, (y * W + x) * 4, (y * W + x) * 4 + 4);
      return px;
    };
    const compressed = new Set<number>([CODEC_LZ4, CODEC_LZ4_RGB, CODEC_LZ4_SPANS, CODEC_ZSTD]);
    const frames = [grain(41), grain(42), grain(43), ...Array.from({ length: 10 }, (_, i) => pattern(i))];
    const run = (codecs: number): boolean[] =>
      encodeEach(codecs, frames)
        .map((res) => res.tiles.some((t) => compressed.has(t.codec)))
        .slice(3);
    // LZ4: the first frames after the grain go raw untried, then compression is back to stay.
    const lz4 = run(LOCAL_CODECS & ~codecBit(CODEC_ZSTD));
    expect(lz4[0]).toBe(false);
    const back = lz4.indexOf(true);
    expect(back).toBeGreaterThan(0);
    expect(back).toBeLessThanOrEqual(7);
    expect(lz4.slice(back).every((c) => c)).toBe(true);
    // zstd (a slow link): every frame is tried.
    expect(run(LOCAL_CODECS).every((c) => c)).toBe(true);
  });

  it('sends content that LZ4 barely shrinks raw, and keeps compressing it with zstd', () => {
    // A fifth of each row a repeating pattern, the rest grain: LZ4 keeps about 85 %.
    const rand = prng(21);
    const px = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const at = (y * W + x) * 4;
        if (x < W / 5) px.set([x % 8, 40, 80, 255], at);
        else px.set([rand() * 256, rand() * 256, rand() * 256, 255], at);
      }
    }
    const codecsOf = (mask: number): number[] => new TileEncoder({ codecs: mask }).encode(image(px), null).tiles.map((t) => t.codec);
    const lz4 = codecsOf(codecBit(CODEC_RAW) | codecBit(CODEC_LZ4));
    // LZ4 is tried on the first band of each run (one per row of grid tiles), then the run goes raw.
    expect(lz4.filter((c) => c === CODEC_LZ4).length).toBeLessThanOrEqual(Math.ceil(H / 64));
    expect(lz4.filter((c) => c === CODEC_RAW).length).toBeGreaterThan(0);
    const zstd = codecsOf(codecBit(CODEC_RAW) | codecBit(CODEC_ZSTD));
    expect(zstd.every((c) => c === CODEC_ZSTD)).toBe(true);
  });

  it('clips damage outside the surface and ignores empty or negative rectangles', () => {
    const enc = new TileEncoder({ codecs: codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) });
    const px = noise(W, H, 5);
    enc.encodeMessages(image(px), null, 1, 1).release();
    px.fill(1, 0, 64);
    const res = enc.encode(image(px), [
      { x: -1e12, y: -5, width: 2e12, height: 6 },
      { x: 10, y: 10, width: -4, height: 3 },
      { x: 5e9, y: 5e9, width: 1, height: 1 },
    ]);
    expect(res.changedTiles).toBeGreaterThan(0);
    for (const t of res.tiles) {
      expect(t.y).toBe(0);
      expect(t.x + t.width).toBeLessThanOrEqual(W);
    }
  });

  it('writes what a synchronous encode did into its stats array, in the order of what encodeAsync returns; a short array is refused before anything is encoded', async () => {
    const sync = new FrameEncoder(wire, 64, 65000);
    const async = new FrameEncoder(wire, 64, 65000);
    const out = new Uint8Array(sync.outputBound(W, H));
    const stats = new Float64Array(FRAME_STATS_LENGTH);
    const fields = (f: FrameStats): number[] => [f.bytes, f.tiles, f.changedTiles, f.unchangedTiles, f.rawBytes, f.copiedPixels, f.reset ? 1 : 0];
    const short = (): string | undefined => {
      try {
        sync.encode(page(11), W * 4, W, H, null, LOCAL_CODECS, 1, 1, out, new Float64Array(FRAME_STATS_LENGTH - 1));
      } catch (err) {
        return isNativeError(err) ? err.code : 'not native';
      }
      return undefined;
    };
    // A first page, then the page scrolled (a copy, new rows, unchanged title bar tiles).
    for (const [i, px] of [page(0), page(11)].entries()) {
      if (i === 1) expect(short()).toBe('EINVAL');
      stats.fill(-1);
      sync.encode(px, W * 4, W, H, null, LOCAL_CODECS, 1, 1, out, stats);
      const want = fields(await async.encodeAsync(px, W * 4, W, H, null, LOCAL_CODECS, 1, 1, new Uint8Array(out.byteLength)));
      expect([...stats]).toEqual(want);
      expect(want[0]).toBeGreaterThan(0);
      if (i === 1) {
        // The refused call left the mirror alone: the scroll is still found against the first page.
        expect(want[5]).toBeGreaterThan(0);
        expect(want[3]).toBeGreaterThan(0);
      }
    }
  });

  it('refuses an output buffer that is too small, a short source and a short stride', () => {
    const enc = new FrameEncoder(wire, 64, 65000);
    const px = noise(W, H, 6);
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return isNativeError(err) ? err.code : 'not native';
      }
      return undefined;
    };
    expect(code(() => enc.encode(px, W * 4, W, H, null, codecBit(CODEC_RAW), 1, 1, new Uint8Array(1000), new Float64Array(FRAME_STATS_LENGTH)))).toBe('ENOBUFS');
    const fresh = new FrameEncoder(wire, 64, 65000);
    expect(code(() => fresh.encode(px.subarray(0, 100), W * 4, W, H, null, codecBit(CODEC_RAW), 1, 1, new Uint8Array(fresh.outputBound(W, H)), new Float64Array(FRAME_STATS_LENGTH)))).toBe('ERANGE');
    expect(code(() => fresh.encode(px, W * 2, W, H, null, codecBit(CODEC_RAW), 1, 1, new Uint8Array(fresh.outputBound(W, H)), new Float64Array(FRAME_STATS_LENGTH)))).toBe('EINVAL');
    expect(code(() => fresh.encode(px, W * 4, W, H, new Int32Array(3), codecBit(CODEC_RAW), 1, 1, new Uint8Array(fresh.outputBound(W, H)), new Float64Array(FRAME_STATS_LENGTH)))).toBe('EINVAL');
    expect(code(() => new FrameEncoder(wire, 2, 65000))).toBe('EINVAL');
    // the bound is enough for the worst case: every tile changed, alternating solid and noise
    const worst = new Uint8Array(W * H * 4);
    const rand = prng(7);
    for (let i = 0; i < worst.length; i++) worst[i] = (Math.floor(i / 4 / 64) + Math.floor(i / (W * 4) / 64)) % 2 === 0 ? 9 : Math.floor(rand() * 256);
    const out = new Uint8Array(fresh.outputBound(W, H));
    const stats = new Float64Array(FRAME_STATS_LENGTH);
    fresh.encode(worst, W * 4, W, H, null, LOCAL_CODECS, 1, 1, out, stats);
    expect(stats[0]).toBeGreaterThan(0);
    expect(stats[0]).toBeLessThanOrEqual(out.byteLength);
  });
});

describe('the native tile writer', () => {
  it('never crashes on random tiles: each is written or refused with a TileError, and a refused one changes nothing', () => {
    const rand = prng(99);
    const target = { width: 97, height: 61, format: 'argb8888' as const, pixels: new Uint8Array(97 * 61 * 4) };
    const codecs = [CODEC_RAW, CODEC_LZ4, CODEC_ZSTD, CODEC_SOLID, CODEC_LZ4_SPANS, CODEC_COPY, CODEC_RAW_RGB, CODEC_LZ4_RGB, 5, 6, 31];
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const source = noise(97, 61, 98);
    const valid: Uint8Array[] = [];
    enc.encode({ width: 97, height: 61, format: 'argb8888', pixels: source }, null, (t) => valid.push(t.data.slice()));
    new TileEncoder({ codecs: LOCAL_CODECS }).encode({ width: 97, height: 61, format: 'xrgb8888', pixels: source }, null, (t) => valid.push(t.data.slice()));
    const deadline = Date.now() + 1500;
    let written = 0;
    let refused = 0;
    while (Date.now() < deadline) {
      const codec = codecs[Math.floor(rand() * codecs.length)]!;
      const w = 1 + Math.floor(rand() * 120);
      const h = 1 + Math.floor(rand() * 80);
      const x = Math.floor(rand() * 100) - 3;
      const y = Math.floor(rand() * 70) - 3;
      let data: Uint8Array;
      const pick = rand();
      if (pick < 0.3 && valid.length > 0) {
        // a valid payload, maybe cut or flipped
        data = valid[Math.floor(rand() * valid.length)]!.slice();
        if (rand() < 0.5) data = data.subarray(0, Math.floor(rand() * data.length));
        else if (data.length > 0) data[Math.floor(rand() * data.length)] ^= 1 + Math.floor(rand() * 255);
      } else if (pick < 0.5) {
        data = new Uint8Array(w * h * 4);
      } else {
        data = new Uint8Array(Math.floor(rand() * 300)).map(() => Math.floor(rand() * 256));
      }
      const before = Buffer.from(target.pixels);
      try {
        applyTile({ ...target, format: rand() < 0.5 ? 'argb8888' : 'xrgb8888' }, { x, y, width: w, height: h, codec, data }, LOCAL_CODECS);
        written++;
      } catch (err) {
        expect(err).toBeInstanceOf(TileError);
        expect(Buffer.from(target.pixels).equals(before)).toBe(true);
        refused++;
      }
    }
    expect(written).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('3-byte pixels (raw_rgb, lz4_rgb) for xrgb8888 surfaces', () => {
  /** Every byte random, the 4th too. */
  function grain(width: number, height: number, seed: number): Uint8Array {
    const rand = prng(seed);
    return new Uint8Array(width * height * 4).map(() => Math.floor(rand() * 256));
  }
  const xrgb = (pixels: Uint8Array): PixelImage => ({ width: W, height: H, format: 'xrgb8888', pixels });
  const opaque = (px: Uint8Array): Uint8Array => px.map((b, i) => (i % 4 === 3 ? 0xff : b));
  const lossless = LOCAL_CODECS & ~codecBit(CODEC_ZSTD);

  it('sends incompressible xrgb8888 content as raw_rgb, a quarter fewer bytes, and it decodes exactly', () => {
    const px = opaque(grain(W, H, 30));
    const rgb = new TileEncoder({ codecs: lossless }).encode(xrgb(px), null);
    const four = new TileEncoder({ codecs: lossless & ~RGB_CODECS }).encode(xrgb(px), null);
    expect(rgb.tiles.length).toBe(four.tiles.length);
    expect(rgb.tiles.every((t) => t.codec === CODEC_RAW_RGB)).toBe(true);
    expect(four.tiles.every((t) => t.codec === CODEC_RAW)).toBe(true);
    const data = (r: EncodeResult): number => r.tiles.reduce((n, t) => n + t.data.byteLength, 0);
    expect(data(four)).toBe(W * H * 4);
    expect(data(rgb)).toBe(W * H * 3);
    const dec = new TileDecoder();
    dec.begin(W, H, FORMAT_XRGB8888);
    for (const t of rgb.tiles) dec.apply(t);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
  });

  it('keeps a 4th byte that is not 0xff: a band with one goes in 4-byte pixels, so every pixel comes back as written', () => {
    // weston-simple-shm draws a cross with X = 0 that weston 10 shows black: the receiver must get those bytes.
    const px = opaque(grain(W, H, 34));
    for (let y = 100; y < 110; y++) for (let x = 0; x < W; x += 7) px[(y * W + x) * 4 + 3] = 0;
    const res = new TileEncoder({ codecs: lossless }).encode(xrgb(px), null);
    expect(res.tiles.some((t) => t.codec === CODEC_RAW_RGB)).toBe(true);
    expect(res.tiles.some((t) => t.codec === CODEC_RAW && t.y <= 100 && t.y + t.height > 100)).toBe(true);
    const dec = new TileDecoder();
    dec.begin(W, H, FORMAT_XRGB8888);
    for (const t of res.tiles) dec.apply(t);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
  });

  it('never sends them for an argb8888 surface, whose 4th byte is alpha', () => {
    const px = grain(W, H, 31);
    const res = new TileEncoder({ codecs: lossless }).encode(image(px), null);
    expect(res.tiles.length).toBeGreaterThan(0);
    expect(res.tiles.some((t) => (codecBit(t.codec) & RGB_CODECS) !== 0)).toBe(false);
    const dec = new TileDecoder();
    dec.begin(W, H, FORMAT_ARGB8888);
    for (const t of res.tiles) dec.apply(t);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
  });

  it('compresses the packed pixels with LZ4 (lz4_rgb) where that is smaller, and zstd keeps 4-byte pixels', () => {
    // Colour bands with a little grain in the low bits: LZ4 shrinks them, damage follows.
    const rand = prng(32);
    const px = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) px.set([(i >> 5) & 0xf0, 0x40 | (rand() < 0.1 ? 1 : 0), 0x80, 0xff], 4 * i);
    const enc = new TileEncoder({ codecs: lossless & ~codecBit(CODEC_LZ4_SPANS) });
    const res = enc.encode(xrgb(px), null);
    expect(res.tiles.some((t) => t.codec === CODEC_LZ4_RGB)).toBe(true);
    expect(res.tiles.some((t) => t.codec === CODEC_LZ4)).toBe(false);
    const dec = new TileDecoder();
    dec.begin(W, H, FORMAT_XRGB8888);
    for (const t of res.tiles) dec.apply(t);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(px))).toBe(true);
    const zstd = new TileEncoder({ codecs: LOCAL_CODECS & ~codecBit(CODEC_LZ4_SPANS) }).encode(xrgb(px), null);
    expect(zstd.tiles.some((t) => t.codec === CODEC_ZSTD)).toBe(true);
    expect(zstd.tiles.some((t) => (codecBit(t.codec) & RGB_CODECS) !== 0)).toBe(false);
  });

  it('refuses hostile 3-byte tiles before writing anything', () => {
    const target = { width: 40, height: 30, format: 'xrgb8888' as const, pixels: grain(40, 30, 33) };
    const before = Buffer.from(target.pixels);
    const block = (n: number): Uint8Array => {
      const out = new Uint8Array(n + 64);
      return out.subarray(0, lz4Compress(grain(n / 4, 1, 34).subarray(0, n), out));
    };
    const cases: [string, () => unknown, string][] = [
      ['raw_rgb one byte short', () => applyTile(target, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_RAW_RGB, data: new Uint8Array(299) }), 'ERR_TILE_DATA'],
      ['raw_rgb with 4-byte pixels', () => applyTile(target, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_RAW_RGB, data: new Uint8Array(400) }), 'ERR_TILE_DATA'],
      ['lz4_rgb that decodes to 4-byte pixels', () => applyTile(target, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_LZ4_RGB, data: block(400) }), 'ERR_TILE_DATA'],
      ['lz4_rgb that decodes short', () => applyTile(target, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_LZ4_RGB, data: block(296) }), 'ERR_TILE_DATA'],
      ['lz4_rgb of garbage', () => applyTile(target, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_LZ4_RGB, data: grain(20, 1, 35) }), 'ERR_TILE_DATA'],
      ['raw_rgb outside the surface', () => applyTile(target, { x: 35, y: 0, width: 10, height: 1, codec: CODEC_RAW_RGB, data: new Uint8Array(30) }), 'ERR_TILE_BOUNDS'],
      ['raw_rgb on an argb8888 buffer', () => applyTile({ ...target, format: 'argb8888' }, { x: 0, y: 0, width: 1, height: 1, codec: CODEC_RAW_RGB, data: new Uint8Array(3) }), 'ERR_TILE_CODEC'],
      ['lz4_rgb not announced', () => applyTile(target, { x: 0, y: 0, width: 1, height: 1, codec: CODEC_LZ4_RGB, data: block(3) }, LOCAL_CODECS & ~RGB_CODECS), 'ERR_TILE_CODEC'],
    ];
    const big = { width: 200, height: 100, format: 'xrgb8888' as const, pixels: new Uint8Array(200 * 100 * 4) };
    cases.push(['lz4_rgb of more than 65535 bytes of 4-byte pixels', () => applyTile(big, { x: 0, y: 0, width: 200, height: 82, codec: CODEC_LZ4_RGB, data: block(200 * 82 * 3) }), 'ERR_TILE_SIZE']);
    for (const [what, f, code] of cases) {
      let error: unknown = null;
      try {
        f();
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(TileError);
      expect((error as TileError).code, what).toBe(code);
      expect(Buffer.from(target.pixels).equals(before), what).toBe(true);
    }
    expect(big.pixels.every((b) => b === 0)).toBe(true);
    // and the valid ones are written
    applyTile(target, { x: 1, y: 2, width: 1, height: 1, codec: CODEC_RAW_RGB, data: new Uint8Array([1, 2, 3]) });
    expect([...target.pixels.subarray((2 * 40 + 1) * 4, (2 * 40 + 2) * 4)]).toEqual([1, 2, 3, 255]);
  });
});
