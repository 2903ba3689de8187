/**
 * The lossy codecs of wthp_content (`jpeg`, `webp` in protocol/waltham.xml): a rectangle of
 * pixels as one complete image file, through sharp (libvips), which runs on libuv's thread pool,
 * so neither direction blocks the JavaScript thread beyond a copy of the rectangle.
 *
 * For opaque content only (xrgb8888, or argb8888 that happens to be opaque, such as video):
 * JPEG has no alpha channel, and both codecs are encoded without one; decoded tiles have alpha
 * 255. Pixels are in wl_shm memory order (B, G, R, A/X bytes); sharp works in R, G, B: the shim
 * packs a rectangle into R, G, B rows in one pass (packRgb) and writes decoded rows back as
 * B, G, R, 255 (unpackRgb), so libvips does no channel work of its own.
 *
 * Settings are the fastest of each codec: baseline JPEG with the standard Huffman tables (no
 * optimised coding, trellis or progressive scans; mozjpeg's defaults off) and 4:2:0 chroma;
 * WebP at effort 0.
 *
 * Decoding treats the payload as hostile: the codec's signature is checked, sharp fails on any
 * decoder warning (truncated data included), the image may not have more pixels than the tile
 * (checked from its header, before decoding), and its size must equal the tile's. Anything else
 * is a `TileError` and leaves the target unchanged.
 */
import type Sharp from 'sharp';
import { loadSharp } from '../sharp.js';
import type { Rect } from '../scene/scene.js';
import { packRgb, unpackRgb } from '../native.js';
import { WthpContentCodec } from '../generated/waltham/index.js';
import { codecBit, TileError, type PixelImage } from './tiles.js';

/** wthp_content.codec */
export const CODEC_JPEG = WthpContentCodec.Jpeg;
export const CODEC_WEBP = WthpContentCodec.Webp;

export type LossyCodec = typeof CODEC_JPEG | typeof CODEC_WEBP;

/** The lossy codecs this build decodes, as a wthp_content.codecs mask. */
export const LOSSY_CODECS = codecBit(CODEC_JPEG) | codecBit(CODEC_WEBP);

export interface LossyOptions {
  /** 1..100; higher is better and larger. Default 80. */
  readonly quality?: number;
  /** WebP only: 0 (fastest) .. 6 (smallest). Default 0: frames are sent once. */
  readonly effort?: number;
}

export const DEFAULT_LOSSY_QUALITY = 80;

export function isLossy(codec: number): codec is LossyCodec {
  return codec === CODEC_JPEG || codec === CODEC_WEBP;
}

function lossyName(codec: LossyCodec): string {
  return codec === CODEC_JPEG ? 'jpeg' : 'webp';
}

function checkQuality(value: number | undefined, fallback: number, min: number, max: number, what: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

/**
 * Encode the `width` x `height` rectangle at (x, y) of `pixels` (`stride` bytes per row, B,G,R,X
 * bytes) as one JPEG or WebP image. The rectangle is copied before this returns, so the caller
 * may change `pixels` while the promise is pending. Alpha is dropped.
 */
export async function encodeLossy(
  codec: LossyCodec,
  pixels: Uint8Array,
  stride: number,
  x: number,
  y: number,
  width: number,
  height: number,
  options: LossyOptions = {},
): Promise<Uint8Array> {
  const quality = checkQuality(options.quality, DEFAULT_LOSSY_QUALITY, 1, 100, 'quality');
  const effort = checkQuality(options.effort, 0, 0, 6, 'effort');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid rectangle size ${width}x${height}`);
  }
  // One packed R, G, B copy (native; throws ERANGE outside `pixels`): sharp reads raw input
  // tightly packed, and later, on a worker thread.
  const packed = Buffer.allocUnsafe(width * height * 3);
  packRgb(pixels, stride, x, y, width, height, packed);
  return encodeRgb(codec, packed, width, height, { quality, effort });
}

/**
 * Encode `width` x `height` packed R, G, B pixels (`width * 3` bytes per row, from the start of
 * `rgb`, which must not change until the promise settles) as one JPEG or WebP image.
 */
export async function encodeRgb(codec: LossyCodec, rgb: Uint8Array, width: number, height: number, options: LossyOptions = {}): Promise<Uint8Array> {
  const quality = checkQuality(options.quality, DEFAULT_LOSSY_QUALITY, 1, 100, 'quality');
  const effort = checkQuality(options.effort, 0, 0, 6, 'effort');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid rectangle size ${width}x${height}`);
  }
  if (rgb.byteLength < width * height * 3) throw new RangeError(`${rgb.byteLength} bytes do not hold ${width}x${height} R, G, B pixels`);
  const sharp = await loadSharp();
  // A view, not a copy.
  const image = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, width * height * 3), { raw: { width, height, channels: 3 } });
  const out =
    codec === CODEC_JPEG
      ? await image
          .jpeg({
            quality,
            chromaSubsampling: '4:2:0',
            mozjpeg: false,
            optimiseCoding: false,
            trellisQuantisation: false,
            overshootDeringing: false,
            optimiseScans: false,
            progressive: false,
          })
          .toBuffer()
      : await image.webp({ quality, effort }).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The file signature of each codec: JPEG's SOI marker, WebP's RIFF....WEBP. */
function hasSignature(codec: LossyCodec, data: Uint8Array): boolean {
  if (codec === CODEC_JPEG) return data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  const tag = (at: number, text: string): boolean => [...text].every((c, i) => data[at + i] === c.charCodeAt(0));
  return data.length >= 12 && tag(0, 'RIFF') && tag(8, 'WEBP');
}

/**
 * Decode a lossy tile payload into the `width` x `height` rectangle at (x, y) of `target`
 * (alpha set to 255). Returns the rectangle. Throws TileError (ERR_TILE_BOUNDS for a rectangle
 * outside the target, ERR_TILE_DATA for a payload that is not one complete image of the codec
 * with exactly the tile's size) and then leaves `target` unchanged.
 */
export async function decodeLossy(
  codec: LossyCodec,
  data: Uint8Array,
  target: PixelImage,
  x: number,
  y: number,
  width: number,
  height: number,
): Promise<Rect> {
  if (width <= 0 || height <= 0 || x < 0 || y < 0 || x > target.width - width || y > target.height - height) {
    throw new TileError('ERR_TILE_BOUNDS', `tile ${width}x${height}+${x}+${y} is outside the ${target.width}x${target.height} surface`);
  }
  const rgb = await decodeLossyRgb(codec, data, width, height);
  placeRgb(rgb, target, x, y, width, height);
  return { x, y, width, height };
}

/**
 * The first half of `decodeLossy`, for callers that place the tile later: the payload decoded
 * (on a worker thread) to packed R, G, B rows, `width * 3` bytes each. Throws TileError
 * (ERR_TILE_DATA) for a payload that is not one complete image of the codec of exactly
 * `width` x `height` pixels.
 */
export async function decodeLossyRgb(codec: LossyCodec, data: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const name = lossyName(codec);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new TileError('ERR_TILE_BOUNDS', `invalid tile size ${width}x${height}`);
  }
  if (!hasSignature(codec, data)) {
    throw new TileError('ERR_TILE_DATA', `${name} ${width}x${height} tile does not hold a ${name} image`);
  }
  const sharp = await loadSharp();
  let decoded: { data: Buffer; info: Sharp.OutputInfo };
  try {
    decoded = await sharp(data, { limitInputPixels: width * height, failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new TileError('ERR_TILE_DATA', `${name} ${width}x${height} tile does not decode: ${(err as Error).message}`);
  }
  const { info } = decoded;
  // Three channels: what `encodeLossy` writes (a grey or alpha image is not one of its tiles).
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new TileError(
      'ERR_TILE_DATA',
      `${name} ${width}x${height} tile holds a ${info.width}x${info.height} image with ${info.channels} channels`,
    );
  }
  return new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
}

/**
 * The second half: `rgb` (from `decodeLossyRgb`) written into the `width` x `height` rectangle
 * at (x, y) of `target` as B, G, R, 255 (native, one pass; throws ERANGE outside `target`).
 */
export function placeRgb(rgb: Uint8Array, target: PixelImage, x: number, y: number, width: number, height: number): void {
  unpackRgb(rgb, target.pixels, target.width * 4, x, y, width, height);
}
