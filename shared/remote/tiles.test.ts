import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Rect } from '../scene/scene.js';
import { isNativeError, lz4Compress, lz4Decompress } from '../native.js';
import { pixelsPinned } from '../scene/pinned-pixels.js';
import { prng } from '../test/helpers.js';
import {
  applyTile,
  CODEC_LZ4,
  CODEC_LZ4_SPANS,
  CODEC_RAW,
  CODEC_SOLID,
  CODEC_ZSTD,
  codecBit,
  FORMAT_ARGB8888,
  LOCAL_CODECS,
  MAX_MESSAGE_SIZE,
  TileDecoder,
  TileEncoder,
  TileError,
  tileMessageSize,
  type PixelImage,
  type Tile,
} from './tiles.js';

function image(width: number, height: number, fill = 0): PixelImage & { pixels: Uint8Array } {
  const pixels = new Uint8Array(width * height * 4);
  new DataView(pixels.buffer).setUint32(0, 0);
  if (fill !== 0) new Uint32Array(pixels.buffer).fill(fill);
  return { width, height, format: 'argb8888', pixels };
}

/** Paint a rectangle: noise (compressible or not) or a flat colour. */
function paint(img: PixelImage, r: Rect, rand: () => number, kind: 'noise' | 'flat' | 'stripes'): void {
  const px = new Uint32Array(img.pixels.buffer, img.pixels.byteOffset, img.width * img.height);
  const colour = (rand() * 0xffffffff) >>> 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      px[y * img.width + x] = kind === 'flat' ? colour : kind === 'stripes' ? (y & 4 ? colour : 0xff000000) : (rand() * 0xffffffff) >>> 0;
    }
  }
}

function randomRect(w: number, h: number, rand: () => number): Rect {
  const x = Math.floor(rand() * w);
  const y = Math.floor(rand() * h);
  return { x, y, width: 1 + Math.floor(rand() * (w - x)), height: 1 + Math.floor(rand() * (h - y)) };
}

function applyAll(dec: TileDecoder, img: PixelImage, tiles: readonly Tile[]): void {
  dec.begin(img.width, img.height, FORMAT_ARGB8888);
  for (const t of tiles) dec.apply(t);
}

const ALL = LOCAL_CODECS;

describe('tile pipeline round trips', () => {
  for (const [label, codecs] of [
    ['raw and solid', codecBit(CODEC_RAW) | codecBit(CODEC_SOLID)],
    ['raw only', codecBit(CODEC_RAW)],
    ['every local codec', ALL],
  ] as const) {
    it(`reproduces the exact pixels after random damage on random content (${label})`, () => {
      const rand = prng(1234 + codecs);
      for (const [w, h] of [[1, 1], [63, 65], [200, 130], [640, 70], [129, 257]] as const) {
        const enc = new TileEncoder({ codecs });
        const dec = new TileDecoder(ALL);
        const src = image(w, h);
        for (let frame = 0; frame < 12; frame++) {
          const damage: Rect[] = [];
          const n = frame === 0 ? 1 : 1 + Math.floor(rand() * 3);
          for (let i = 0; i < n; i++) {
            const r = frame === 0 ? { x: 0, y: 0, width: w, height: h } : randomRect(w, h, rand);
            const kind = (['noise', 'flat', 'stripes'] as const)[Math.floor(rand() * 3)]!;
            paint(src, r, rand, kind);
            damage.push(r);
          }
          const res = enc.encode(src, damage);
          applyAll(dec, src, res.tiles);
          expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(src.pixels))).toBe(true);
          for (const t of res.tiles) {
            expect(codecs & codecBit(t.codec)).not.toBe(0);
            expect(tileMessageSize(t.data.byteLength)).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
          }
        }
      }
    });
  }

  it('starts a new size from transparent black and sends the whole surface', () => {
    const enc = new TileEncoder({ codecs: ALL });
    const dec = new TileDecoder(ALL);
    const a = image(100, 50, 0xff112233);
    applyAll(dec, a, enc.encode(a, [{ x: 0, y: 0, width: 1, height: 1 }]).tiles);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(a.pixels))).toBe(true);
    const b = image(120, 60, 0xff445566);
    const res = enc.encode(b, []);
    expect(res.reset).toBe(true);
    applyAll(dec, b, res.tiles);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(b.pixels))).toBe(true);
  });

  it('gives each size an output that holds it: incompressible pixels of a larger size after a smaller one', () => {
    const enc = new TileEncoder({ codecs: ALL });
    const dec = new TileDecoder(ALL);
    const rand = prng(5);
    for (const [w, h] of [[16, 16], [300, 200], [40, 30], [320, 240]] as const) {
      const img = image(w, h);
      paint(img, { x: 0, y: 0, width: w, height: h }, rand, 'noise');
      const res = enc.encode(img, null);
      expect(res.reset).toBe(true);
      applyAll(dec, img, res.tiles);
      expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(img.pixels)), `${w}x${h}`).toBe(true);
    }
  });

  it('sends everything again after reset()', () => {
    const enc = new TileEncoder();
    const a = image(64, 64, 0xff010203);
    expect(enc.encode(a, null).reset).toBe(true);
    const again = enc.encode(a, null);
    expect(again.tiles).toHaveLength(0);
    expect(again.reset).toBe(false);
    enc.reset();
    const res = enc.encode(a, []);
    expect(res.reset).toBe(true);
    expect(res.tiles).toHaveLength(1);
  });

  it('sends only pixels the client damaged when the rest is unchanged', () => {
    const rand = prng(7);
    const enc = new TileEncoder({ codecs: ALL });
    const src = image(256, 256);
    paint(src, { x: 0, y: 0, width: 256, height: 256 }, rand, 'noise');
    enc.encode(src, null);
    // Damage everything but change only one pixel: the changed row of one grid tile goes out.
    src.pixels[(100 * 256 + 70) * 4] ^= 0xff;
    const res = enc.encode(src, [{ x: 0, y: 0, width: 256, height: 256 }]);
    expect(res.changedTiles).toBe(1);
    expect(res.unchangedTiles).toBe(15);
    expect(res.tiles).toHaveLength(1);
    expect(res.tiles[0]).toMatchObject({ x: 64, y: 100, width: 64, height: 1 });
  });

  it('does not send unchanged tiles inside the damage at all', () => {
    const enc = new TileEncoder({ codecs: ALL });
    const src = image(300, 200, 0xff00ff00);
    enc.encode(src, null);
    const res = enc.encode(src, [{ x: 0, y: 0, width: 300, height: 200 }]);
    expect(res.tiles).toEqual([]);
    expect(res.changedTiles).toBe(0);
    expect(res.unchangedTiles).toBe(5 * 4);
  });

  it('encodes a uniform area as one solid tile per merged rectangle', () => {
    const enc = new TileEncoder({ codecs: ALL });
    const res = enc.encode(image(640, 480, 0xffabcdef), null);
    expect(res.tiles).toHaveLength(1);
    expect(res.tiles[0]).toMatchObject({ x: 0, y: 0, width: 640, height: 480, codec: CODEC_SOLID });
    expect([...res.tiles[0]!.data]).toEqual([0xef, 0xcd, 0xab, 0xff]);
  });

  it('merges changed neighbours of a row into runs that stay under the message limit', () => {
    const rand = prng(99);
    const enc = new TileEncoder({ codecs: codecBit(CODEC_RAW) });
    const src = image(1920, 200);
    paint(src, { x: 0, y: 0, width: 1920, height: 200 }, rand, 'noise');
    const res = enc.encode(src, null);
    // Each 64-pixel row of tiles is one run 1920 pixels wide, cut into bands
    // of 8 rows (8 * 1920 * 4 = 61440 bytes); the last row is 8 pixels high.
    expect(res.tiles.length).toBe(3 * 8 + 1);
    for (const t of res.tiles) {
      expect(t.codec).toBe(CODEC_RAW);
      expect(t).toMatchObject({ x: 0, width: 1920, height: 8 });
      expect(tileMessageSize(t.data.byteLength)).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
    }
  });

  it('uses lz4 when it is smaller and keeps messages under the limit', () => {
    const rand = prng(5);
    const enc = new TileEncoder({ codecs: ALL & ~codecBit(CODEC_ZSTD) });
    const src = image(1024, 256);
    paint(src, { x: 0, y: 0, width: 1024, height: 256 }, rand, 'stripes');
    const res = enc.encode(src, null);
    expect(res.tiles.some((t) => t.codec === CODEC_LZ4)).toBe(true);
    expect(res.wireBytes).toBeLessThan(res.rawBytes / 4);
    // Incompressible noise falls back to raw.
    const noise = image(128, 64);
    paint(noise, { x: 0, y: 0, width: 128, height: 64 }, rand, 'noise');
    const res2 = new TileEncoder({ codecs: ALL }).encode(noise, null);
    expect(res2.tiles.every((t) => t.codec === CODEC_RAW)).toBe(true);
  });

  it('compresses the pixels with zstd instead of lz4 when zstd is allowed, and decodes them back', () => {
    const rand = prng(15);
    const src = image(1024, 256);
    paint(src, { x: 0, y: 0, width: 1024, height: 256 }, rand, 'stripes');
    const withLz4 = new TileEncoder({ codecs: codecBit(CODEC_RAW) | codecBit(CODEC_LZ4) }).encode(src, null);
    const res = new TileEncoder({ codecs: codecBit(CODEC_RAW) | codecBit(CODEC_ZSTD) }).encode(src, null);
    expect(res.tiles.length).toBeGreaterThan(0);
    expect(res.tiles.every((t) => t.codec === CODEC_ZSTD)).toBe(true);
    expect(res.wireBytes).toBeLessThan(withLz4.wireBytes);
    const dec = new TileDecoder();
    applyAll(dec, src, res.tiles);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(src.pixels))).toBe(true);
  });

  it('sends small changes spread over a large area as spans of the changed pixels', () => {
    const rand = prng(11);
    const enc = new TileEncoder({ codecs: ALL });
    const dec = new TileDecoder(ALL);
    const src = image(800, 480);
    paint(src, { x: 0, y: 0, width: 800, height: 480 }, rand, 'noise');
    applyAll(dec, src, enc.encode(src, null).tiles);
    // A few pixels in every row of a wide area, the rest unchanged (a terminal scrolling text).
    const px = new Uint32Array(src.pixels.buffer);
    for (let y = 50; y < 400; y++) for (let x = 40; x < 760; x += 37) px[y * 800 + x] = 0xff000000 | y;
    const res = enc.encode(src, [{ x: 0, y: 0, width: 800, height: 480 }]);
    expect(res.tiles.every((t) => t.codec === CODEC_LZ4_SPANS)).toBe(true);
    expect(res.wireBytes).toBeLessThan(res.rawBytes / 20);
    applyAll(dec, src, res.tiles);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(src.pixels))).toBe(true);
  });

  it('cuts runs to the damaged columns and the changed rows', () => {
    const rand = prng(12);
    const enc = new TileEncoder({ codecs: codecBit(CODEC_RAW) });
    const src = image(256, 128);
    enc.encode(src, null);
    const r = { x: 70, y: 10, width: 100, height: 30 };
    paint(src, r, rand, 'noise');
    const res = enc.encode(src, [r]);
    expect(res.tiles).toHaveLength(1);
    expect(res.tiles[0]).toMatchObject({ ...r, codec: CODEC_RAW });
  });

  it('splits tiles larger than the message limit into bands', () => {
    const rand = prng(3);
    const enc = new TileEncoder({ codecs: codecBit(CODEC_RAW), tileSize: 127 });
    const src = image(254, 254);
    paint(src, { x: 0, y: 0, width: 254, height: 254 }, rand, 'noise');
    const res = enc.encode(src, null);
    for (const t of res.tiles) expect(tileMessageSize(t.data.byteLength)).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
    const dec = new TileDecoder(ALL);
    applyAll(dec, src, res.tiles);
    expect(Buffer.from(dec.image!.pixels).equals(Buffer.from(src.pixels))).toBe(true);
  });
});

describe('hostile tiles', () => {
  const target = (): PixelImage => image(100, 80);
  const raw = (w: number, h: number): Uint8Array => new Uint8Array(w * h * 4);

  function expectTileError(fn: () => unknown, code: string, text: RegExp): void {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TileError);
    expect((caught as TileError).code).toBe(code);
    expect((caught as TileError).message).toMatch(text);
  }

  it('rejects tiles outside the surface', () => {
    for (const [x, y, w, h] of [
      [90, 0, 20, 10],
      [0, 75, 10, 10],
      [-1, 0, 10, 10],
      [0, -5, 10, 10],
      [0, 0, 0, 10],
      [0, 0, 10, -3],
      [2147483647, 0, 10, 10],
      [50, 50, 2147483647, 2147483647],
    ] as const) {
      expectTileError(() => applyTile(target(), { x, y, width: w, height: h, codec: CODEC_SOLID, data: new Uint8Array(4) }, ALL), 'ERR_TILE_BOUNDS', /outside the 100x80 surface/);
    }
  });

  it('rejects data of the wrong length', () => {
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 10, height: 10, codec: CODEC_RAW, data: raw(10, 9) }, ALL), 'ERR_TILE_DATA', /carries 360 bytes instead of 400/);
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 10, height: 10, codec: CODEC_SOLID, data: new Uint8Array(5) }, ALL), 'ERR_TILE_DATA', /solid tile carries 5 bytes/);
  });

  it('rejects unknown and unannounced codecs', () => {
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 1, height: 1, codec: 30, data: raw(1, 1) }, ALL), 'ERR_TILE_CODEC', /codec 30/);
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 1, height: 1, codec: CODEC_ZSTD, data: raw(1, 1) }, codecBit(CODEC_RAW)), 'ERR_TILE_CODEC', /zstd/);
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 1, height: 1, codec: CODEC_ZSTD, data: raw(1, 1) }, ALL), 'ERR_TILE_DATA', /zstd/);
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 1, height: 1, codec: CODEC_LZ4, data: raw(1, 1) }, codecBit(CODEC_RAW)), 'ERR_TILE_CODEC', /lz4/);
  });

  it('rejects lz4 data that is malformed or expands to another size', () => {
    expectTileError(() => applyTile(target(), { x: 0, y: 0, width: 10, height: 10, codec: CODEC_LZ4, data: Uint8Array.from([0xff, 1, 2, 3, 4, 5]) }, ALL), 'ERR_TILE_DATA', /does not decode/);
    // A valid block of 100 pixels, announced as 99.
    const stripes = image(10, 10);
    paint(stripes, { x: 0, y: 0, width: 10, height: 10 }, prng(1), 'stripes');
    const t = new TileEncoder({ codecs: codecBit(CODEC_RAW) | codecBit(CODEC_LZ4) }).encode(stripes, null).tiles[0]!;
    expect(t.codec).toBe(CODEC_LZ4);
    expectTileError(() => applyTile(target(), { ...t, width: 11, height: 9 }, ALL), 'ERR_TILE_DATA', /does not decode/);
  });

  it('rejects lz4 tiles that would expand past what any encoder sends', () => {
    const big = image(8000, 8000);
    expectTileError(() => applyTile(big, { x: 0, y: 0, width: 8000, height: 8000, codec: CODEC_LZ4, data: new Uint8Array(16) }, ALL), 'ERR_TILE_SIZE', /decodes to 256000000 bytes/);
  });

  it('rejects span streams that are malformed or run past the tile', () => {
    const stream = (...words: number[]): Uint8Array => {
      const raw = new Uint8Array(words.length * 4);
      new DataView(raw.buffer).setUint32(0, 0);
      words.forEach((w, i) => new DataView(raw.buffer).setUint32(i * 4, w >>> 0, true));
      const out = new Uint8Array(raw.length + 64);
      return out.slice(0, lz4Compress(raw, out));
    };
    const tile = (data: Uint8Array): Tile => ({ x: 0, y: 0, width: 4, height: 4, codec: CODEC_LZ4_SPANS, data });
    const t = image(10, 10, 0xff123456);
    const before = Buffer.from(t.pixels);
    // skip 15, count 2: one pixel past the 16 of the tile.
    expectTileError(() => applyTile(t, tile(stream(15 | (2 << 16), 1, 2)), ALL), 'ERR_TILE_DATA', /lz4_spans 4x4 tile does not decode: .*past the end of the tile/);
    // count 3 announced, 1 pixel carried.
    expectTileError(() => applyTile(t, tile(stream(3 << 16, 1)), ALL), 'ERR_TILE_DATA', /more pixels than the stream carries/);
    expectTileError(() => applyTile(t, tile(Uint8Array.from([0xff, 1, 2])), ALL), 'ERR_TILE_DATA', /does not decode/);
    expectTileError(() => applyTile(t, tile(stream(1 << 16, 1)), codecBit(CODEC_RAW)), 'ERR_TILE_CODEC', /lz4_spans/);
    expect(Buffer.from(t.pixels).equals(before)).toBe(true);
    // A valid stream changes exactly the pixels it names, here pixel 5 (row 1, column 1).
    applyTile(t, tile(stream(5 | (1 << 16), 0xff00ff00)), ALL);
    const px = new Uint32Array(t.pixels.buffer);
    expect(px[11]).toBe(0xff00ff00);
    expect([...px].filter((p) => p !== 0xff123456)).toEqual([0xff00ff00]);
  });

  it('rejects huge or invalid buffer sizes and tiles before begin', () => {
    const dec = new TileDecoder(ALL, { maxWidth: 8192, maxHeight: 8192 });
    expectTileError(() => dec.apply({ x: 0, y: 0, width: 1, height: 1, codec: CODEC_SOLID, data: new Uint8Array(4) }), 'ERR_TILE_STATE', /before begin/);
    expectTileError(() => dec.begin(8193, 10, FORMAT_ARGB8888), 'ERR_TILE_SIZE', /exceeds the limit 8192x8192/);
    expectTileError(() => dec.begin(100000, 100000, FORMAT_ARGB8888), 'ERR_TILE_SIZE', /exceeds/);
    expectTileError(() => dec.begin(0, 10, FORMAT_ARGB8888), 'ERR_TILE_SIZE', /invalid buffer size/);
    expectTileError(() => dec.begin(10, 10, 77), 'ERR_TILE_STATE', /unknown pixel format 77/);
  });

  it('leaves the pixels untouched when a tile is rejected', () => {
    const t = image(10, 10, 0xff123456);
    const before = Buffer.from(t.pixels);
    expect(() => applyTile(t, { x: 5, y: 5, width: 10, height: 1, codec: CODEC_SOLID, data: new Uint8Array(4) }, ALL)).toThrow(TileError);
    expect(() => applyTile(t, { x: 0, y: 0, width: 10, height: 10, codec: CODEC_RAW, data: raw(10, 10).subarray(1) }, ALL)).toThrow(TileError);
    expect(Buffer.from(t.pixels).equals(before)).toBe(true);
  });
});

describe('lz4 blocks', () => {
  it('are the standard block format: an independent implementation reads ours and we read its', () => {
    // lz4-napi (lz4_flex) frames a block with its decoded size as a u32 first.
    const other = createRequire(import.meta.url)('lz4-napi') as {
      compressSync(data: Buffer): Buffer;
      uncompressSync(data: Uint8Array): Buffer;
    };
    const rand = prng(21);
    for (const kind of ['noise', 'flat', 'stripes'] as const) {
      const img = image(128, 100);
      paint(img, { x: 0, y: 0, width: 128, height: 100 }, rand, kind);
      const raw = img.pixels.subarray(0, 128 * 100 * 4 - 36); // not a whole number of pixels
      const block = new Uint8Array(raw.length + raw.length / 255 + 16);
      const n = lz4Compress(raw, block);
      const framed = new Uint8Array(n + 4);
      new DataView(framed.buffer).setUint32(0, raw.length, true);
      framed.set(block.subarray(0, n), 4);
      expect(Buffer.from(other.uncompressSync(framed)).equals(Buffer.from(raw))).toBe(true);
      const theirs = other.compressSync(Buffer.from(raw)).subarray(4);
      const back = new Uint8Array(raw.length);
      expect(lz4Decompress(theirs, back)).toBe(raw.length);
      expect(Buffer.from(back).equals(Buffer.from(raw))).toBe(true);
    }
  });
});

describe('encoding on a worker thread', () => {
  /** A sequence of frames: noise, a scroll, a flat area, partial damage. */
  function frames(): { img: PixelImage & { pixels: Uint8Array }; damage: Rect[] | null }[] {
    const rand = prng(77);
    const w = 300;
    const h = 200;
    const out: { img: PixelImage & { pixels: Uint8Array }; damage: Rect[] | null }[] = [];
    let img = image(w, h);
    paint(img, { x: 0, y: 0, width: w, height: h }, rand, 'stripes');
    out.push({ img, damage: null });
    img = { ...img, pixels: img.pixels.slice() };
    // Scrolled up by 10 rows, new rows at the bottom.
    img.pixels.copyWithin(0, 10 * w * 4);
    paint(img, { x: 0, y: h - 10, width: w, height: 10 }, rand, 'noise');
    out.push({ img, damage: [{ x: 0, y: 0, width: w, height: h }] });
    img = { ...img, pixels: img.pixels.slice() };
    paint(img, { x: 20, y: 30, width: 100, height: 50 }, rand, 'flat');
    paint(img, { x: 150, y: 120, width: 40, height: 40 }, rand, 'noise');
    out.push({ img, damage: [{ x: 20, y: 30, width: 100, height: 50 }, { x: 150, y: 120, width: 40, height: 40 }] });
    return out;
  }

  it('writes the same messages as the encode on the JavaScript thread, frame after frame', async () => {
    const codecs = LOCAL_CODECS;
    const sync = new TileEncoder({ codecs });
    const worker = new TileEncoder({ codecs });
    let total = 0;
    for (const { img, damage } of frames()) {
      const a = sync.encodeMessages(img, damage, 5, 9);
      const b = await worker.encodeMessagesAsync(img, damage, 5, 9);
      expect(b.bytes.byteLength).toBeGreaterThan(0);
      expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
      expect([b.reset, b.tiles, b.changedTiles, b.unchangedTiles, b.rawBytes, b.copiedPixels]).toEqual([a.reset, a.tiles, a.changedTiles, a.unchangedTiles, a.rawBytes, a.copiedPixels]);
      total += b.tiles;
      a.release();
      b.release();
    }
    expect(total).toBeGreaterThan(3);
  });

  it('is busy until the promise settles: other calls throw, the pixels are pinned', async () => {
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const [first] = frames();
    const pending = enc.encodeMessagesAsync(first!.img, null, 1, 1);
    expect(enc.busy).toBe(true);
    expect(pixelsPinned(first!.img.pixels)).toBe(true);
    const busyError = (f: () => unknown): boolean => {
      try {
        f();
        return false;
      } catch (err) {
        return isNativeError(err, 'EBUSY');
      }
    };
    expect(busyError(() => enc.encodeMessages(first!.img, null, 1, 1))).toBe(true);
    expect(busyError(() => enc.reset())).toBe(true);
    expect(busyError(() => enc.needsReset(300, 200))).toBe(true);
    const frame = await pending;
    expect(enc.busy).toBe(false);
    expect(pixelsPinned(first!.img.pixels)).toBe(false);
    expect(frame.reset).toBe(true);
    // Usable again, and it kept the mirror: nothing changed, nothing to send.
    expect(enc.encodeMessages(first!.img, null, 1, 1).tiles).toBe(0);
  });

  it('rejects like the encode on the JavaScript thread and is usable after', async () => {
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const short = { width: 64, height: 64, format: 'argb8888' as const, pixels: new Uint8Array(64 * 63 * 4) };
    await expect(enc.encodeMessagesAsync(short, null, 1, 1)).rejects.toThrow(/ERANGE|too short|outside/);
    expect(enc.busy).toBe(false);
    expect(pixelsPinned(short.pixels)).toBe(false);
    expect(enc.encodeMessages(image(64, 64, 0xff102030), null, 1, 1).tiles).toBeGreaterThan(0);
  });
});
