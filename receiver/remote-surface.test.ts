import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SceneSurface, type Rect, type SceneFeedback, type SceneOwner } from '../shared/scene/scene.js';
import { prng } from '../shared/test/helpers.js';
import { CODEC_COPY, CODEC_LZ4_SPANS, CODEC_RAW, CODEC_SOLID, codecBit, LOCAL_CODECS, TileDecoder, TileEncoder, FORMAT_ARGB8888, type PixelImage, type Tile } from '../shared/remote/tiles.js';
import { RemoteSurface } from './remote-surface.js';

const owner: SceneOwner = { name: 'test', feedback: {} as SceneFeedback };

function surface(): RemoteSurface {
  return new RemoteSurface(new SceneSurface(owner));
}

function image(width: number, height: number): PixelImage & { pixels: Uint8Array } {
  return { width, height, format: 'argb8888', pixels: new Uint8Array(width * height * 4) };
}

function paint(img: PixelImage, r: Rect, rand: () => number, kind: 'noise' | 'flat' | 'dots'): void {
  const px = new Uint32Array(img.pixels.buffer, img.pixels.byteOffset, img.width * img.height);
  const colour = (rand() * 0xffffffff) >>> 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      if (kind === 'noise') px[y * img.width + x] = (rand() * 0xffffffff) >>> 0;
      else if (kind === 'flat') px[y * img.width + x] = colour;
      else if (rand() < 0.05) px[y * img.width + x] = colour;
    }
  }
}

function randomRect(w: number, h: number, rand: () => number): Rect {
  const x = Math.floor(rand() * w);
  const y = Math.floor(rand() * h);
  return { x, y, width: 1 + Math.floor(rand() * Math.min(40, w - x)), height: 1 + Math.floor(rand() * Math.min(40, h - y)) };
}

/** What the transmitter sends for one commit: begin, then the tiles. */
function send(rs: RemoteSurface, img: PixelImage, tiles: readonly Tile[]): void {
  rs.pending.image = rs.nextImage(img.width, img.height, img.format);
  for (const t of tiles) rs.writeTile(t, LOCAL_CODECS);
}

function content(rs: RemoteSurface): Uint8Array | null {
  return rs.scene.content?.pixels ?? null;
}

const same = (a: Uint8Array | null, b: Uint8Array): boolean => a !== null && Buffer.from(a).equals(Buffer.from(b));

describe('pending buffers on the receiver', () => {
  it('keeps the pixels outside the tiles of the previous buffer', () => {
    const rs = surface();
    const src = image(50, 40);
    paint(src, { x: 0, y: 0, width: 50, height: 40 }, prng(1), 'noise');
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    send(rs, src, enc.encode(src, null).tiles);
    rs.commit();
    const first = content(rs)!;
    expect(same(first, src.pixels)).toBe(true);

    paint(src, { x: 10, y: 12, width: 3, height: 2 }, prng(2), 'flat');
    send(rs, src, enc.encode(src, [{ x: 10, y: 12, width: 3, height: 2 }]).tiles);
    // The next buffer is another one: the content is untouched until the commit.
    expect(rs.pending.image!.pixels).not.toBe(first);
    expect(content(rs)).toBe(first);
    rs.commit();
    expect(same(content(rs), src.pixels)).toBe(true);
  });

  it('alternates between two buffers, each brought up to date with what it missed', () => {
    const rand = prng(3);
    const rs = surface();
    const src = image(64, 64);
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    const seen: Uint8Array[] = [];
    for (let frame = 0; frame < 8; frame++) {
      const r = frame === 0 ? { x: 0, y: 0, width: 64, height: 64 } : randomRect(64, 64, rand);
      paint(src, r, rand, frame % 2 === 0 ? 'noise' : 'dots');
      send(rs, src, enc.encode(src, [r]).tiles);
      rs.commit();
      expect(same(content(rs), src.pixels)).toBe(true);
      if (!seen.includes(content(rs)!)) seen.push(content(rs)!);
    }
    expect(seen).toHaveLength(2);
    expect(rs.pixelBytes()).toBe(2 * 64 * 64 * 4);
  });

  it('matches a full copy per commit over random sizes, codecs, unmaps and tiles', () => {
    const rand = prng(4);
    for (const codecs of [LOCAL_CODECS, codecBit(CODEC_RAW) | codecBit(CODEC_SOLID), codecBit(CODEC_RAW) | codecBit(CODEC_LZ4_SPANS)]) {
      const rs = surface();
      const enc = new TileEncoder({ codecs });
      let src = image(90, 70);
      for (let frame = 0; frame < 60; frame++) {
        const roll = rand();
        if (roll < 0.05) {
          // attach(null) + commit: unmapped; the next buffer starts from black.
          rs.dropPendingImage();
          rs.commit();
          expect(content(rs)).toBeNull();
          enc.reset();
          src = image(src.width, src.height);
          continue;
        }
        if (roll < 0.1) src = image(60 + Math.floor(rand() * 60), 50 + Math.floor(rand() * 40));
        const damage: Rect[] = [];
        for (let i = 0; i < 1 + Math.floor(rand() * 3); i++) {
          const r = randomRect(src.width, src.height, rand);
          paint(src, r, rand, (['noise', 'flat', 'dots'] as const)[Math.floor(rand() * 3)]!);
          damage.push(r);
        }
        const res = enc.encode(src, damage);
        // An empty commit of the same size keeps the content and sends no begin.
        if (res.tiles.length > 0 || res.reset) send(rs, src, res.tiles);
        rs.commit();
        expect(same(content(rs), src.pixels)).toBe(true);
      }
    }
  });

  it('applies scrolls (copy tiles) to buffers that first catch up with what they missed', () => {
    // Text lines scrolling by a few rows per frame, and a line that changes on its own: every
    // frame goes to the other buffer, whose pixels are two frames old until caught up.
    const W = 128;
    const H = 140;
    const page = (top: number, status: number): PixelImage => {
      const img = image(W, H);
      const px = new Uint32Array(img.pixels.buffer);
      for (let y = 0; y < H; y++) {
        const line = Math.floor((y + top) / 10);
        for (let x = 0; x < W; x++) {
          const ink = (y + top) % 10 < 7 && (x * 5 + line * 11 + ((y + top) % 10) * 3) % 7 < 3;
          px[y * W + x] = y >= H - 8 ? status : ink ? 0xff000000 + line * 0x010305 : 0xffeeeeee;
        }
      }
      return img;
    };
    const rs = surface();
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    let copies = 0;
    let top = 0;
    for (let frame = 0; frame < 12; frame++) {
      top += [3, 10, 1, -4][frame % 4]!;
      const src = page(top, 0xff000000 + frame);
      const res = enc.encode(src, [{ x: 0, y: 0, width: W, height: H }]);
      copies += res.tiles.filter((t) => t.codec === CODEC_COPY).length;
      send(rs, src, res.tiles);
      rs.commit();
      expect(same(content(rs), src.pixels), `frame ${frame}`).toBe(true);
    }
    expect(copies).toBeGreaterThanOrEqual(10);
  });

  it('gives copy tiles mixed with other tiles the same pixels as one buffer applying them in order', () => {
    // Random raw and copy tiles (sources anywhere, overlapping what earlier tiles wrote or not):
    // the pooled buffers, caught up lazily or copied from straight, must agree with the plain model.
    const rand = prng(12);
    const rs = surface();
    const model = new TileDecoder();
    const [W, H] = [48, 40];
    for (let frame = 0; frame < 80; frame++) {
      const tiles: Tile[] = [];
      for (let i = 0; i < 1 + Math.floor(rand() * 4); i++) {
        const r = randomRect(W, H, rand);
        if (frame === 0 || rand() < 0.4) {
          tiles.push({ ...r, codec: CODEC_RAW, data: Uint8Array.from({ length: r.width * r.height * 4 }, () => Math.floor(rand() * 256)) });
        } else {
          const data = new Uint8Array(8);
          new DataView(data.buffer).setUint32(0, Math.floor(rand() * (W - r.width + 1)), true);
          new DataView(data.buffer).setUint32(4, Math.floor(rand() * (H - r.height + 1)), true);
          tiles.push({ ...r, codec: CODEC_COPY, data });
        }
      }
      if (frame === 0) tiles.unshift({ x: 0, y: 0, width: W, height: H, codec: CODEC_SOLID, data: new Uint8Array([1, 2, 3, 4]) });
      model.begin(W, H, FORMAT_ARGB8888);
      for (const t of tiles) model.apply(t);
      send(rs, model.image!, tiles);
      rs.commit();
      expect(same(content(rs), model.image!.pixels), `frame ${frame}`).toBe(true);
    }
  });

  it('gives a synchronized subsurface its cached buffer when the parent commits', () => {
    const rand = prng(5);
    const parent = surface();
    const child = surface();
    child.scene.role = { kind: 'subsurface', parent: parent.scene, x: 0, y: 0, sync: true };
    child.parent = parent;
    parent.children.add(child);
    const src = image(40, 30);
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    paint(src, { x: 0, y: 0, width: 40, height: 30 }, rand, 'noise');
    send(child, src, enc.encode(src, null).tiles);
    child.commit();
    expect(content(child)).toBeNull(); // cached until the parent commits
    parent.commit();
    expect(same(content(child), src.pixels)).toBe(true);
    const shown = Buffer.from(content(child)!);

    // Two cached commits in a row: each new buffer starts from the cached one.
    for (let i = 0; i < 2; i++) {
      const r = randomRect(40, 30, rand);
      paint(src, r, rand, 'dots');
      send(child, src, enc.encode(src, [r]).tiles);
      child.commit();
      expect(Buffer.from(content(child)!).equals(shown)).toBe(true);
    }
    parent.commit();
    expect(same(content(child), src.pixels)).toBe(true);
    expect(child.pixelBytes()).toBeLessThanOrEqual(3 * 40 * 30 * 4);
  });

  it('does not reuse the pixels of a pending buffer dropped by attach(null)', () => {
    const rand = prng(7);
    const rs = surface();
    const a = image(40, 40);
    paint(a, { x: 0, y: 0, width: 40, height: 40 }, rand, 'noise');
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    send(rs, a, enc.encode(a, null).tiles);
    rs.commit();
    send(rs, a, enc.encode(a, null).tiles);
    rs.commit();
    const shown = Buffer.from(content(rs)!);
    // Tiles that never get committed: the buffer is dropped, then a new one begins.
    const other = image(40, 40);
    paint(other, { x: 0, y: 0, width: 40, height: 40 }, rand, 'noise');
    send(rs, other, new TileEncoder({ codecs: LOCAL_CODECS }).encode(other, null).tiles);
    rs.dropPendingImage();
    rs.pending.image = rs.nextImage(40, 40, 'argb8888');
    rs.commit();
    expect(Buffer.from(content(rs)!).equals(shown)).toBe(true);
  });

  it('drops the rest of a pending buffer a tile overwrites, and copies what a span tile keeps', () => {
    const rs = surface();
    const a = image(32, 32);
    paint(a, { x: 0, y: 0, width: 32, height: 32 }, prng(6), 'noise');
    const enc = new TileEncoder({ codecs: LOCAL_CODECS });
    send(rs, a, enc.encode(a, null).tiles);
    rs.commit();
    // Frame 2 changes a block; frame 3 the same block again (raw) and dots elsewhere (spans).
    for (const [r, kind] of [
      [{ x: 4, y: 4, width: 20, height: 20 }, 'noise'],
      [{ x: 4, y: 4, width: 20, height: 20 }, 'noise'],
      [{ x: 0, y: 20, width: 32, height: 12 }, 'dots'],
    ] as const) {
      paint(a, r, prng(r.y + r.width), kind);
      send(rs, a, enc.encode(a, [r]).tiles);
      rs.commit();
      expect(same(content(rs), a.pixels)).toBe(true);
    }
  });
});

describe('the shared memory of a receiver surface', () => {
  const openFds = (): number => readdirSync('/proc/self/fd').length;

  it('closes every memfd it made, without the garbage collector: buffers past the pool when released, the rest when the surface goes', () => {
    const before = openFds();
    const rand = prng(7);
    for (let cycle = 0; cycle < 20; cycle++) {
      const rs = surface();
      const held: NonNullable<PixelImage['shared']>[] = [];
      for (let frame = 0; frame < 12; frame++) {
        // Sizes change now and then (a new pool); a compositor reads most frames a while, so the pool runs full.
        const size = 16 + 8 * Math.floor(frame / 5);
        const src = image(size, size);
        paint(src, { x: 0, y: 0, width: size, height: size }, rand, 'noise');
        send(rs, src, new TileEncoder({ codecs: LOCAL_CODECS }).encode(src, null).tiles);
        rs.commit();
        const shared = rs.scene.buffer!.shared!;
        if (frame % 4 !== 3) {
          shared.hold();
          held.push(shared);
        }
        if (held.length > 4) held.shift()!.release();
      }
      for (const shared of held.splice(0)) shared.release();
      rs.dispose();
    }
    expect(openFds()).toBe(before);
  });

  it('does not keep a buffer made past the pool once the compositor released it', () => {
    const rs = surface();
    const before = openFds();
    const src = image(8, 8);
    const frames: NonNullable<PixelImage['shared']>[] = [];
    for (let i = 0; i < 6; i++) {
      send(rs, src, []);
      rs.commit();
      const shared = rs.scene.buffer!.shared!;
      shared.hold();
      frames.push(shared);
    }
    // Three pooled buffers and three past the pool, all read by the compositor.
    expect(openFds()).toBe(before + 6);
    for (const shared of frames.slice(0, 5)) shared.release();
    // The ones past the pool that the surface no longer shows are closed at their release.
    expect(frames.slice(3, 5).every((s) => s.disposed)).toBe(true);
    expect(frames[5]!.disposed).toBe(false);
    expect(openFds()).toBe(before + 4);
    frames[5]!.release();
    rs.dispose();
    expect(openFds()).toBe(before);
  });
});

