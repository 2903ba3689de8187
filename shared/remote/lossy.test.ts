import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CODEC_JPEG, CODEC_WEBP, decodeLossy, encodeLossy, isLossy, type LossyCodec } from './lossy.js';
import { CODEC_LZ4, TileError, type PixelImage } from './tiles.js';

/** weston's background photo (Debian's weston package; scripts/install-deps.sh installs it). */
const PHOTO = '/usr/share/weston/background.png';

/** A real photo as a `width` x `height` B,G,R,X image inside a wider buffer (stride > width * 4). */
async function photo(width: number, height: number, pad = 16): Promise<PixelImage & { stride: number }> {
  const { data } = await sharp(PHOTO).resize(width, height, { fit: 'fill' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const stride = (width + pad) * 4;
  const pixels = new Uint8Array(stride * height).fill(0x55);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      const d = y * stride + x * 4;
      pixels[d] = data[s + 2]!; // B
      pixels[d + 1] = data[s + 1]!; // G
      pixels[d + 2] = data[s]!; // R
      pixels[d + 3] = 0x7f; // X: whatever the client left there
    }
  }
  return { width, height, format: 'xrgb8888', pixels, stride };
}

function surface(width: number, height: number, fill: number): PixelImage {
  return { width, height, format: 'xrgb8888', pixels: new Uint8Array(new Uint32Array(width * height).fill(fill).buffer) };
}

/** PSNR in dB of the B,G,R channels of a rectangle of `a` (with `strideA`) against `b`. */
function psnr(a: Uint8Array, strideA: number, ax: number, ay: number, b: Uint8Array, strideB: number, bx: number, by: number, w: number, h: number): number {
  let sum = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const d = a[(ay + y) * strideA + (ax + x) * 4 + c]! - b[(by + y) * strideB + (bx + x) * 4 + c]!;
        sum += d * d;
      }
    }
  }
  const mse = sum / (w * h * 3);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

const CODECS: ReadonlyArray<[string, LossyCodec]> = [
  ['jpeg', CODEC_JPEG],
  ['webp', CODEC_WEBP],
];

describe.skipIf(!existsSync(PHOTO))(`lossy tiles (photo: ${PHOTO})`, () => {
  if (!existsSync(PHOTO)) console.log(`skipping the lossy tile tests: ${PHOTO} is missing (Debian package weston)`);

  for (const [name, codec] of CODECS) {
    it(`${name}: a photo comes back close to the original, in place, with alpha 255`, async () => {
      const src = await photo(320, 200);
      // The rectangle (40, 30) 256x160 of the source goes to (8, 4) of a 300x200 surface.
      const data = await encodeLossy(codec, src.pixels, src.stride, 40, 30, 256, 160, { quality: 80 });
      expect(data.length).toBeLessThan((256 * 160 * 4) / 5);
      const target = surface(300, 200, 0x11223344);
      const rect = await decodeLossy(codec, data, target, 8, 4, 256, 160);
      expect(rect).toEqual({ x: 8, y: 4, width: 256, height: 160 });
      expect(psnr(src.pixels, src.stride, 40, 30, target.pixels, 300 * 4, 8, 4, 256, 160)).toBeGreaterThan(30);
      const px = new Uint32Array(target.pixels.buffer);
      for (let y = 4; y < 164; y += 13) {
        for (let x = 8; x < 264; x += 7) expect(px[y * 300 + x]! >>> 24).toBe(0xff);
      }
      // Outside the rectangle nothing changed.
      expect(px[3 * 300 + 8]).toBe(0x11223344);
      expect(px[4 * 300 + 7]).toBe(0x11223344);
      expect(px[4 * 300 + 264]).toBe(0x11223344);
      expect(px[164 * 300 + 8]).toBe(0x11223344);
    });

    it(`${name}: higher quality costs bytes and brings the error down`, async () => {
      const src = await photo(256, 256, 0);
      const errors: number[] = [];
      const sizes: number[] = [];
      for (const quality of [20, 60, 95]) {
        const data = await encodeLossy(codec, src.pixels, src.stride, 0, 0, 256, 256, { quality });
        const target = surface(256, 256, 0);
        await decodeLossy(codec, data, target, 0, 0, 256, 256);
        sizes.push(data.length);
        errors.push(psnr(src.pixels, src.stride, 0, 0, target.pixels, 256 * 4, 0, 0, 256, 256));
      }
      expect(sizes[0]).toBeLessThan(sizes[1]!);
      expect(sizes[1]).toBeLessThan(sizes[2]!);
      expect(errors[0]).toBeLessThan(errors[1]!);
      expect(errors[1]).toBeLessThan(errors[2]!);
      expect(errors[2]).toBeGreaterThan(36);
    });

    it(`${name}: payloads of another size, truncated, of the other codec or garbage are rejected without a change`, async () => {
      const src = await photo(64, 48, 0);
      const data = await encodeLossy(codec, src.pixels, src.stride, 0, 0, 64, 48);
      const other = await encodeLossy(codec === CODEC_JPEG ? CODEC_WEBP : CODEC_JPEG, src.pixels, src.stride, 0, 0, 64, 48);
      const target = surface(100, 100, 0x01020304);
      const before = Uint8Array.from(target.pixels);
      const rejects = async (payload: Uint8Array, w: number, h: number, code: string, message: RegExp): Promise<void> => {
        const error = await decodeLossy(codec, payload, target, 0, 0, w, h).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(TileError);
        expect((error as TileError).code).toBe(code);
        expect((error as TileError).message).toMatch(message);
        expect(Buffer.compare(target.pixels, before)).toBe(0);
      };
      // A smaller tile than the image: refused from the header, before decoding.
      await rejects(data, 32, 48, 'ERR_TILE_DATA', /does not decode/);
      // A larger tile than the image.
      await rejects(data, 64, 49, 'ERR_TILE_DATA', /holds a 64x48 image/);
      await rejects(data.subarray(0, data.length >> 1), 64, 48, 'ERR_TILE_DATA', /does not decode/);
      await rejects(other, 64, 48, 'ERR_TILE_DATA', new RegExp(`does not hold a ${name} image`));
      await rejects(new Uint8Array(data.length).fill(0xab), 64, 48, 'ERR_TILE_DATA', /does not hold/);
      const corrupt = Uint8Array.from(data);
      corrupt.fill(0, 12, corrupt.length);
      await rejects(corrupt, 64, 48, 'ERR_TILE_DATA', /does not decode/);
      await rejects(data, 64, 48 + 60, 'ERR_TILE_BOUNDS', /outside the 100x100 surface/);
      // An image with alpha is not one of our tiles.
      if (codec === CODEC_WEBP) {
        const alpha = await sharp(Buffer.alloc(64 * 48 * 4, 0x80), { raw: { width: 64, height: 48, channels: 4 } }).webp().toBuffer();
        await rejects(alpha, 64, 48, 'ERR_TILE_DATA', /with 4 channels/);
      }
      await expect(decodeLossy(codec, data, target, 36, 52, 64, 48)).resolves.toEqual({ x: 36, y: 52, width: 64, height: 48 });
      // A grey image decodes as R = G = B, opaque.
      const greyImage = sharp(Buffer.alloc(64 * 48, 0x80), { raw: { width: 64, height: 48, channels: 1 } });
      const grey = await (codec === CODEC_JPEG ? greyImage.jpeg({ quality: 100 }) : greyImage.webp({ quality: 100 })).toBuffer();
      await decodeLossy(codec, grey, target, 0, 0, 64, 48);
      for (const at of [0, 4 * 63, 100 * 4 * 47]) {
        for (const c of [0, 1, 2]) expect(Math.abs(target.pixels[at + c]! - 0x80)).toBeLessThanOrEqual(2);
        expect(target.pixels[at + 3]).toBe(255);
      }
    });
  }
});

describe('lossy codec arguments', () => {
  it('only jpeg and webp are lossy', () => {
    expect(isLossy(CODEC_JPEG)).toBe(true);
    expect(isLossy(CODEC_WEBP)).toBe(true);
    expect(isLossy(CODEC_LZ4)).toBe(false);
  });

  it('refuses bad qualities and rectangles outside the source', async () => {
    const px = new Uint8Array(16 * 16 * 4);
    await expect(encodeLossy(CODEC_JPEG, px, 64, 0, 0, 16, 16, { quality: 0 })).rejects.toThrow(/quality/);
    await expect(encodeLossy(CODEC_WEBP, px, 64, 0, 0, 16, 16, { effort: 7 })).rejects.toThrow(/effort/);
    await expect(encodeLossy(CODEC_JPEG, px, 64, 8, 8, 16, 16)).rejects.toMatchObject({ code: 'ERANGE' });
    await expect(encodeLossy(CODEC_JPEG, px, 64, 0, 0, 0, 16)).rejects.toThrow(/size/);
  });
});
