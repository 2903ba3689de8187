// Speed and size of the lossy tile codecs (shared/remote/lossy.ts). Needs `npm run build`.
// Results: bench/README.md, "Codecs".
//
//   node bench/lossy.mjs [IMAGE [TILEWxTILEH]]   a full-HD photo (default: weston's background) as
//                                                 whole frames and as tiles, next to zstd and lz4
//   node bench/lossy.mjs video [FRAMES [QUALITY [jpeg|webp]]]
//                                                 full-HD video-like frames (the `video` content of
//                                                 bench/client/wb-bench-client.c, ported), each cut
//                                                 into bands that fit a Waltham message and encoded
//                                                 as the transmitter does (LossySender), decoded as
//                                                 the receiver does (all tiles at once); next to the
//                                                 previous pipeline (copy, libvips channel swap and
//                                                 alpha steps, default JPEG settings, the previous
//                                                 band sizing), on the same frames
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { compress } from '../dist/shared/native.js';
import { CODEC_JPEG, CODEC_WEBP, decodeLossy, decodeLossyRgb, encodeLossy, placeRgb } from '../dist/shared/remote/lossy.js';

if (process.argv[2] === 'video') {
  await video(Number(process.argv[3] ?? 30), Number(process.argv[4] ?? 80), process.argv[5] === 'webp' ? CODEC_WEBP : CODEC_JPEG);
  process.exit(0);
}

const file = process.argv[2] ?? '/usr/share/weston/background.png';
if (!existsSync(file)) {
  console.log(`skip: ${file} is missing`);
  process.exit(0);
}
const [TW, TH] = (process.argv[3] ?? '480x270').split('x').map(Number);
const W = 1920;
const H = 1080;
const { data } = await sharp(file).resize(W, H, { fit: 'fill' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // R/B swap does not matter here
const frameBytes = W * H * 4;
const target = { width: W, height: H, format: 'xrgb8888', pixels: new Uint8Array(frameBytes) };

async function timed(reps, fn) {
  await fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await fn();
  return Number(process.hrtime.bigint() - t) / 1e6 / reps;
}

const mbps = (ms) => ((frameBytes / 1e6) / (ms / 1000)).toFixed(0);
console.log('| codec | unit | quality | ratio | encode ms/frame (MB/s) | decode ms/frame (MB/s) |');
console.log('|---|---|---|---|---|---|');
for (const [name, codec] of [['jpeg', CODEC_JPEG], ['webp', CODEC_WEBP]]) {
  for (const quality of [50, 80]) {
    let bytes = 0;
    const enc = await timed(3, async () => {
      bytes = (await encodeLossy(codec, pixels, W * 4, 0, 0, W, H, { quality })).length;
    });
    const payload = await encodeLossy(codec, pixels, W * 4, 0, 0, W, H, { quality });
    const dec = await timed(3, () => decodeLossy(codec, payload, target, 0, 0, W, H));
    console.log(`| ${name} | frame | ${quality} | ${(bytes / frameBytes).toFixed(4)} | ${enc.toFixed(1)} (${mbps(enc)}) | ${dec.toFixed(1)} (${mbps(dec)}) |`);
    // Tiles of TWxTH, all encoded concurrently (sharp spreads them over libuv's threads).
    const tiles = [];
    for (let y = 0; y + TH <= H; y += TH) for (let x = 0; x + TW <= W; x += TW) tiles.push([x, y]);
    let tileBytes = 0;
    let payloads = [];
    const tenc = await timed(3, async () => {
      payloads = await Promise.all(tiles.map(([x, y]) => encodeLossy(codec, pixels, W * 4, x, y, TW, TH, { quality })));
      tileBytes = payloads.reduce((n, p) => n + p.length, 0);
    });
    const tdec = await timed(3, () => Promise.all(tiles.map(([x, y], i) => decodeLossy(codec, payloads[i], target, x, y, TW, TH))));
    const covered = tiles.length * TW * TH * 4;
    const maxPayload = Math.max(...payloads.map((p) => p.length));
    console.log(`| ${name} | ${TW}x${TH} tiles (max ${maxPayload} B) | ${quality} | ${(tileBytes / covered).toFixed(4)} | ${((tenc * frameBytes) / covered).toFixed(1)} (${mbps((tenc * frameBytes) / covered)}) | ${((tdec * frameBytes) / covered).toFixed(1)} (${mbps((tdec * frameBytes) / covered)}) |`);
  }
}
for (const [codec, level] of [['lz4', 0], ['zstd', 1], ['zstd', -1]]) {
  const dst = new Uint8Array(frameBytes + 65536);
  let total = 0;
  const enc = await timed(3, async () => {
    total = 0;
    for (let off = 0; off < frameBytes; off += 65535) {
      const n = compress(codec, pixels.subarray(off, Math.min(off + 65535, frameBytes)), dst, level);
      total += n;
    }
  });
  console.log(`| ${codec} ${level} | 64 KiB blocks | - | ${(total / frameBytes).toFixed(4)} | ${enc.toFixed(1)} (${mbps(enc)}) | - |`);
}

// ---- video-like frames ----

async function video(frames, quality, codec) {
  const { LossySender } = await import('../dist/transmitter/remote/lossy-sender.js');
  const { copyPixels } = await import('../dist/shared/native.js');
  const { MAX_TILE_DATA } = await import('../dist/shared/remote/tiles.js');
  const W = 1920;
  const H = 1080;
  const paint = videoPainter(W, H);
  const target = { width: W, height: H, format: 'xrgb8888', pixels: new Uint8Array(W * H * 4) };
  const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return silent; } };
  const sender = new LossySender({ logger: silent, where: 'bench' });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

  // The current pipeline: LossySender (native R,G,B packing, fastest settings, bands sized from
  // the densest band) and the receiver's decode (all tiles at once, native unpacking).
  const encodeNow = (pixels) =>
    new Promise((resolve, reject) => {
      sender.start(sender, {
        width: W,
        height: H,
        pixels,
        damage: null,
        codec,
        quality,
        current: () => true,
        send: resolve,
        dropped: (err) => reject(err ?? new Error('dropped')),
      });
    });
  const decodeNow = async (tiles) => {
    const rgb = await Promise.all(tiles.map((t) => decodeLossyRgb(t.codec, t.data, t.width, t.height)));
    tiles.forEach((t, i) => placeRgb(rgb[i], target, t.x, t.y, t.width, t.height));
  };

  // The previous pipeline, as it was: a packed B,G,R,X copy, libvips removeAlpha + recomb, JPEG
  // with sharp's defaults (optimised Huffman coding); bands from a running average of the bytes
  // per pixel (0.7 old + 0.3 new) cut to 70 % of a message, halved while too large.
  const SWAP = [[0, 0, 1], [0, 1, 0], [1, 0, 0]];
  let oldBpp = 1;
  const oldEncode = async (pixels, x, y, w, h) => {
    const packed = Buffer.allocUnsafe(w * h * 4);
    copyPixels(pixels, W * 4, x, y, packed, w * 4, 0, 0, w, h);
    const image = sharp(packed, { raw: { width: w, height: h, channels: 4 } }).removeAlpha().recomb(SWAP);
    return codec === CODEC_JPEG
      ? image.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer()
      : image.webp({ quality, effort: 0, alphaQuality: 100 }).toBuffer();
  };
  const oldBand = async (pixels, band) => {
    const data = await oldEncode(pixels, band.x, band.y, band.width, band.height);
    if (data.length <= MAX_TILE_DATA) return [{ ...band, codec, data }];
    const half = band.height >> 1;
    const parts = await Promise.all([
      oldBand(pixels, { ...band, height: half }),
      oldBand(pixels, { ...band, y: band.y + half, height: band.height - half }),
    ]);
    return parts.flat();
  };
  const encodeBefore = async (pixels) => {
    const rows = Math.max(1, Math.min(H, Math.floor((0.7 * MAX_TILE_DATA) / Math.max(1, W * oldBpp))));
    const bands = [];
    for (let y = 0; y < H; y += rows) bands.push({ x: 0, y, width: W, height: Math.min(rows, H - y) });
    const tiles = (await Promise.all(bands.map((b) => oldBand(pixels, b)))).flat();
    const bytes = tiles.reduce((n, t) => n + t.data.length, 0);
    oldBpp = 0.7 * oldBpp + (0.3 * bytes) / (W * H);
    return tiles;
  };
  const decodeBefore = async (tiles) => {
    const out = await Promise.all(
      tiles.map(async (t) => {
        const px = new Uint8Array(t.width * t.height * 4);
        const { data } = await sharp(t.data, { failOn: 'warning' }).removeAlpha().recomb(SWAP).ensureAlpha(1).raw().toBuffer({ resolveWithObject: true });
        px.set(data);
        return px;
      }),
    );
    tiles.forEach((t, i) => copyPixels(out[i], t.width * 4, 0, 0, target.pixels, W * 4, t.x, t.y, t.width, t.height));
  };

  const runs = {
    before: { encode: encodeBefore, decode: decodeBefore },
    now: { encode: async (px) => (await encodeNow(px)).tiles, decode: decodeNow },
  };
  const results = {};
  for (const name of Object.keys(runs)) results[name] = { enc: [], dec: [], bytes: [], tiles: [], resplits: 0 };
  const pixels = new Uint8Array(W * H * 4);
  const warmup = 5;
  // Interleaved, frame by frame, so that both see the same load.
  for (let f = 0; f < warmup + frames; f++) {
    paint(pixels, f);
    for (const [name, run] of Object.entries(runs)) {
      const t0 = performance.now();
      const tiles = await run.encode(pixels);
      const t1 = performance.now();
      await run.decode(tiles);
      const t2 = performance.now();
      if (f < warmup) continue;
      const r = results[name];
      r.enc.push(t1 - t0);
      r.dec.push(t2 - t1);
      r.bytes.push(tiles.reduce((n, t) => n + t.data.length, 0));
      r.tiles.push(tiles.length);
    }
  }
  console.log(`${frames} full-HD video-like frames, ${codec === CODEC_JPEG ? 'jpeg' : 'webp'} quality ${quality}, sharp concurrency ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}`);
  console.log('| pipeline | tiles/frame | KiB/frame (max) | encode ms p50 / p90 | decode ms p50 / p90 | encode+decode fps |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results)) {
    const kib = (b) => (b / 1024).toFixed(0);
    const fps = 1000 / (median(r.enc) + median(r.dec));
    console.log(
      `| ${name} | ${median(r.tiles)} | ${kib(median(r.bytes))} (${kib(Math.max(...r.bytes))}) | ${median(r.enc).toFixed(1)} / ${p90(r.enc).toFixed(1)} | ${median(r.dec).toFixed(1)} / ${p90(r.dec).toFixed(1)} | ${fps.toFixed(1)} |`,
    );
  }
  console.log(`resplit bands (now): ${sender.counters.resplits}`);

  // Encoder settings alone: one whole frame of packed R,G,B, one sharp call at a time.
  const { packRgb } = await import('../dist/shared/native.js');
  const rgb = Buffer.alloc(W * H * 3);
  packRgb(pixels, W * 4, 0, 0, W, H, rgb);
  const settings = [
    ['jpeg, sharp defaults (optimised Huffman coding)', (i) => i.jpeg({ quality, chromaSubsampling: '4:2:0' })],
    ['jpeg, as encodeLossy (standard tables)', (i) => i.jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false, optimiseCoding: false, trellisQuantisation: false })],
    ['jpeg, mozjpeg defaults (trellis, progressive)', (i) => i.jpeg({ quality, mozjpeg: true })],
    ['webp effort 0', (i) => i.webp({ quality, effort: 0 })],
    ['webp effort 4 (sharp default)', (i) => i.webp({ quality })],
  ];
  console.log('\n| settings (whole frame, R,G,B in) | KiB | encode ms | decode ms |');
  console.log('|---|---|---|---|');
  for (const [what, fmt] of settings) {
    const enc = [];
    const dec = [];
    let out;
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      out = await fmt(sharp(rgb, { raw: { width: W, height: H, channels: 3 } })).toBuffer();
      const t1 = performance.now();
      await sharp(out).raw().toBuffer();
      const t2 = performance.now();
      if (i > 0) {
        enc.push(t1 - t0);
        dec.push(t2 - t1);
      }
    }
    console.log(`| ${what} | ${(out.length / 1024).toFixed(0)} | ${median(enc).toFixed(1)} | ${median(dec).toFixed(1)} |`);
  }
}

/** bench/client/wb-bench-client.c's `video` content: a plasma through a palette, three shaded discs, grain in the two low bits. */
function videoPainter(w, h) {
  const wave = new Uint8Array(4096);
  for (let i = 0; i < 4096; i++) wave[i] = Math.round(127.5 + 127.5 * Math.sin((i * 2 * Math.PI) / 4096));
  const palette = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const t = (i / 256) * 2 * Math.PI;
    const r = Math.round(128 + 100 * Math.sin(t));
    const g = Math.round(128 + 100 * Math.sin(t + 2.1));
    const b = Math.round(128 + 100 * Math.sin(t + 4.2));
    palette[i] = (0xff000000 | (r << 16) | (g << 8) | b) >>> 0;
  }
  const grainLen = w * 64 + 65537;
  const grain = new Uint32Array(grainLen);
  let seed = 0x12345678;
  for (let i = 0; i < grainLen; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    grain[i] = seed & 0x00030303;
  }
  return (bytes, t) => {
    const p = new Uint32Array(bytes.buffer, bytes.byteOffset, w * h);
    const disc = [0, 1, 2].map((i) => ({
      cx: Math.trunc(w / 2 + (w / 3) * Math.sin(t * (0.031 + 0.011 * i) + i * 2)),
      cy: Math.trunc(h / 2 + (h / 3) * Math.cos(t * (0.023 + 0.007 * i) + i)),
      r: Math.trunc(h / (5 + i * 2)) + 1,
      c: i === 0 ? 0xffe8c040 : i === 1 ? 0xff3070d0 : 0xffd04060,
    }));
    for (let y = 0; y < h; y++) {
      const row = y * w;
      const g0 = (t * 7919 + y * w) % (grainLen - w);
      const wy = wave[(y * 5 + t * 13) & 4095];
      for (let x = 0; x < w; x++) {
        const v = wave[(x * 3 + t * 17) & 4095] + wy + wave[((x + y) * 2 + t * 29) & 4095];
        p[row + x] = palette[(Math.trunc(v / 3) + t) & 255];
      }
      for (const d of disc) {
        const dy = y - d.cy;
        if (dy < -d.r || dy > d.r) continue;
        const half = Math.trunc(Math.sqrt(d.r * d.r - dy * dy));
        const x0 = Math.max(0, d.cx - half);
        const x1 = Math.min(w, d.cx + half);
        for (let x = x0; x < x1; x++) {
          const k = 64 - Math.trunc(Math.trunc((Math.abs(x - d.cx) * 64) / (half + 1)) / 2);
          const c = d.c;
          p[row + x] = (0xff000000 | ((((c >>> 16) & 255) * k) >> 6) << 16 | ((((c >>> 8) & 255) * k) >> 6) << 8 | (((c & 255) * k) >> 6)) >>> 0;
        }
      }
      for (let x = 0; x < w; x++) p[row + x] = (p[row + x] ^ grain[g0 + x]) >>> 0;
    }
  };
}
