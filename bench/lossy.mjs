// Speed and size of the lossy tile codecs (shared/remote/lossy.ts) on a full-HD photo, as whole
// frames and as the 256x64 tiles whose payloads fit a Waltham message, next to zstd and lz4 on
// the same pixels. Needs `npm run build`. Usage: node bench/lossy.mjs [IMAGE [TILEWxTILEH]]
// (default: weston's background photo). Results: bench/README.md, "Codecs".
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { compress } from '../dist/shared/native.js';
import { CODEC_JPEG, CODEC_WEBP, decodeLossy, encodeLossy } from '../dist/shared/remote/lossy.js';

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
