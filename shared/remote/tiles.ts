/**
 * The tile pipeline of wthp_content (protocol/waltham.xml, part 2).
 *
 * Transmitter side, `TileEncoder`: keeps a mirror of the pixels the receiver
 * has for one surface. Given the new content and the commit's damage (buffer
 * pixels), it walks the grid tiles the damage touches, keeps only those whose
 * pixels differ from the mirror, encodes them (one pixel for a uniform tile,
 * LZ4 when it is smaller, raw otherwise), merges horizontal neighbours into
 * runs, and updates the mirror. Every tile's data stays under the Waltham
 * message limit (65535 bytes, header and arguments included).
 *
 * Receiver side, `applyTile` / `TileDecoder`: validates a tile against the
 * surface it targets and writes it into that surface's pixels. A hostile tile
 * (outside the surface, data of the wrong length, a codec not announced,
 * sizes beyond the limits) throws a `TileError` and changes nothing.
 *
 * Pixels are `width * 4` bytes per row, in wl_shm memory order (B, G, R, A).
 */
import type { PixelFormat, Rect } from '../scene/scene.js';
import { lz4Available, lz4CompressBlock, lz4DecompressBlock } from './lz4.js';

/** wthp_content.codec */
export const CODEC_RAW = 0;
export const CODEC_LZ4 = 1;
export const CODEC_ZSTD = 2;
export const CODEC_SOLID = 3;

const CODEC_NAMES = ['raw', 'lz4', 'zstd', 'solid'] as const;

export function codecName(codec: number): string {
  return CODEC_NAMES[codec] ?? `codec ${codec}`;
}

export function codecBit(codec: number): number {
  return 1 << codec;
}

/** The codecs this build decodes, as wthp_content.codecs announces them. */
export const LOCAL_CODECS = codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) | (lz4Available ? codecBit(CODEC_LZ4) : 0);

/** wthp_content.format */
export const FORMAT_ARGB8888 = 0;
export const FORMAT_XRGB8888 = 1;

export function formatToWire(format: PixelFormat): number {
  return format === 'argb8888' ? FORMAT_ARGB8888 : FORMAT_XRGB8888;
}

export function formatFromWire(format: number): PixelFormat | null {
  if (format === FORMAT_ARGB8888) return 'argb8888';
  if (format === FORMAT_XRGB8888) return 'xrgb8888';
  return null;
}

/** Largest Waltham message, header included. */
export const MAX_MESSAGE_SIZE = 65535;
/**
 * Bytes of a wthp_content.tile message besides its data payload: header 8,
 * target 4, surface 4, x/y/width/height/codec 20, data length 4.
 */
export const TILE_MESSAGE_OVERHEAD = 40;
/** Largest tile data that keeps the message (with padding) within the limit. */
export const MAX_TILE_DATA = (MAX_MESSAGE_SIZE - TILE_MESSAGE_OVERHEAD) & ~3;

/** Size on the wire of a tile message carrying `dataLength` bytes. */
export function tileMessageSize(dataLength: number): number {
  return TILE_MESSAGE_OVERHEAD + ((dataLength + 3) & ~3);
}

export interface PixelImage {
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  readonly pixels: Uint8Array;
}

export interface Tile {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly codec: number;
  readonly data: Uint8Array;
}

export type TileErrorCode =
  | 'ERR_TILE_BOUNDS' // the rectangle is empty or leaves the surface
  | 'ERR_TILE_SIZE' // the surface or the decoded tile is larger than allowed
  | 'ERR_TILE_DATA' // the payload does not decode to exactly the tile's pixels
  | 'ERR_TILE_CODEC' // unknown codec, or one this side did not announce
  | 'ERR_TILE_STATE'; // a tile before any begin, or an unknown format

export class TileError extends Error {
  constructor(
    readonly code: TileErrorCode,
    message: string,
  ) {
    super(message);
  }

  override get name(): string {
    return 'TileError';
  }
}

function asBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

// ---------------------------------------------------------------------------
// Encoder

export interface TileEncoderOptions {
  /** Grid size in pixels (default 64). */
  readonly tileSize?: number;
  /** Codecs the peer decodes, as a mask of 1 << codec (default raw | solid). */
  readonly codecs?: number;
  /** Largest data payload per tile (default and maximum MAX_TILE_DATA). */
  readonly maxData?: number;
}

export interface EncodeResult {
  readonly tiles: Tile[];
  /** The mirror was (re)created: the receiver starts from transparent black. */
  readonly reset: boolean;
  /** Grid tiles inside the damage whose pixels changed. */
  readonly changedTiles: number;
  /** Grid tiles inside the damage whose pixels were already on the receiver. */
  readonly unchangedTiles: number;
  /** Bytes of the pixels the tiles cover, before encoding. */
  readonly rawBytes: number;
  /** Bytes of the tile messages on the wire. */
  readonly wireBytes: number;
}

interface MutableTile {
  x: number;
  y: number;
  width: number;
  height: number;
  codec: number;
  data: Uint8Array;
}

export class TileEncoder {
  readonly tileSize: number;
  private readonly maxData: number;
  private codecs: number;
  private mirror: Buffer | null = null;
  private mirrorWidth = 0;
  private mirrorHeight = 0;
  private mirrorFormat: PixelFormat | null = null;

  constructor(options: TileEncoderOptions = {}) {
    this.tileSize = options.tileSize ?? 64;
    this.maxData = Math.min(options.maxData ?? MAX_TILE_DATA, MAX_TILE_DATA);
    if (!Number.isInteger(this.tileSize) || this.tileSize < 4 || this.tileSize * 4 > this.maxData) {
      throw new RangeError(`tile size ${this.tileSize} is out of range`);
    }
    this.codecs = options.codecs ?? codecBit(CODEC_RAW) | codecBit(CODEC_SOLID);
  }

  /** Change the codecs used from now on (mask of 1 << codec). */
  setCodecs(mask: number): void {
    this.codecs = mask;
  }

  /** Forget what the receiver has: the next encode sends the whole surface. */
  reset(): void {
    this.mirror = null;
    this.mirrorWidth = 0;
    this.mirrorHeight = 0;
    this.mirrorFormat = null;
  }

  /** Whether the next encode of an image of this size starts a new buffer on the receiver. */
  needsReset(width: number, height: number): boolean {
    return this.mirror === null || width !== this.mirrorWidth || height !== this.mirrorHeight;
  }

  /**
   * Encode what changed in `image` inside `damage` (buffer pixels; null = the
   * whole image) and record it as sent. A new size resets the mirror to
   * transparent black, like the receiver does, and implies full damage.
   */
  encode(image: PixelImage, damage: readonly Rect[] | null): EncodeResult {
    const { width, height } = image;
    if (image.pixels.byteLength < width * height * 4) {
      throw new RangeError(`image of ${width}x${height} has only ${image.pixels.byteLength} bytes`);
    }
    let reset = false;
    if (this.needsReset(width, height)) {
      this.mirror = Buffer.alloc(width * height * 4);
      this.mirrorWidth = width;
      this.mirrorHeight = height;
      reset = true;
    }
    if (reset || image.format !== this.mirrorFormat) damage = null;
    this.mirrorFormat = image.format;
    const mirror = this.mirror!;
    const src = asBuffer(image.pixels);
    const T = this.tileSize;
    const cols = Math.ceil(width / T);
    const rows = Math.ceil(height / T);
    if (cols === 0 || rows === 0) {
      return { tiles: [], reset, changedTiles: 0, unchangedTiles: 0, rawBytes: 0, wireBytes: 0 };
    }

    // Grid tiles touched by the damage.
    const candidate = new Uint8Array(cols * rows);
    const rects = damage ?? [{ x: 0, y: 0, width, height }];
    for (const r of rects) {
      const x0 = Math.max(0, Math.floor(r.x));
      const y0 = Math.max(0, Math.floor(r.y));
      const x1 = Math.min(width, Math.ceil(r.x + r.width));
      const y1 = Math.min(height, Math.ceil(r.y + r.height));
      if (x1 <= x0 || y1 <= y0) continue;
      for (let ty = Math.floor(y0 / T); ty <= Math.floor((y1 - 1) / T); ty++) {
        for (let tx = Math.floor(x0 / T); tx <= Math.floor((x1 - 1) / T); tx++) candidate[ty * cols + tx] = 1;
      }
    }

    const stride = width * 4;
    const tiles: MutableTile[] = [];
    let changedTiles = 0;
    let unchangedTiles = 0;
    let rawBytes = 0;
    // Solid runs of the previous tile row, to merge vertically: key x,width,colour.
    let solidAbove = new Map<string, MutableTile>();

    for (let ty = 0; ty < rows; ty++) {
      const y = ty * T;
      const h = Math.min(T, height - y);
      const solidHere = new Map<string, MutableTile>();
      // Current run of changed, non-uniform tiles in this row.
      let runX = -1;
      let runW = 0;
      const closeRun = (): void => {
        if (runW > 0) this.emitPixels(src, stride, runX, y, runW, h, tiles);
        runX = -1;
        runW = 0;
      };
      for (let tx = 0; tx < cols; tx++) {
        const x = tx * T;
        const w = Math.min(T, width - x);
        if (candidate[ty * cols + tx] === 0) {
          closeRun();
          continue;
        }
        if (sameRect(src, mirror, stride, x, y, w, h)) {
          unchangedTiles++;
          closeRun();
          continue;
        }
        changedTiles++;
        rawBytes += w * h * 4;
        copyRect(src, mirror, stride, x, y, w, h);
        const colour = this.codecs & codecBit(CODEC_SOLID) ? uniformPixel(src, stride, x, y, w, h) : -1;
        if (colour >= 0) {
          closeRun();
          const prev = tiles.length > 0 ? tiles[tiles.length - 1]! : null;
          if (prev !== null && prev.codec === CODEC_SOLID && prev.y === y && prev.x + prev.width === x && pixelOf(prev.data) === colour) {
            solidHere.delete(`${prev.x},${prev.width},${colour}`);
            prev.width += w;
            solidHere.set(`${prev.x},${prev.width},${colour}`, prev);
          } else {
            const data = new Uint8Array(4);
            src.copy(data, 0, y * stride + x * 4, y * stride + x * 4 + 4);
            const t: MutableTile = { x, y, width: w, height: h, codec: CODEC_SOLID, data };
            tiles.push(t);
            solidHere.set(`${x},${w},${colour}`, t);
          }
          continue;
        }
        if (runW > 0 && (runW + w) * h * 4 > this.maxData) closeRun();
        if (runW === 0) runX = x;
        runW += w;
      }
      closeRun();
      // Merge this row's solid runs into identical runs right above them.
      for (const [key, t] of solidHere) {
        const above = solidAbove.get(key);
        if (above !== undefined && above.y + above.height === t.y) {
          above.height += t.height;
          tiles.splice(tiles.lastIndexOf(t), 1);
          solidHere.set(key, above);
        }
      }
      solidAbove = solidHere;
    }

    let wireBytes = 0;
    for (const t of tiles) wireBytes += tileMessageSize(t.data.byteLength);
    return { tiles, reset, changedTiles, unchangedTiles, rawBytes, wireBytes };
  }

  /** Encode the pixels of a rectangle as one or more tiles of bounded size. */
  private emitPixels(src: Buffer, stride: number, x: number, y: number, w: number, h: number, out: MutableTile[]): void {
    const rowBytes = w * 4;
    const bandRows = Math.max(1, Math.floor(this.maxData / rowBytes));
    for (let by = y; by < y + h; by += bandRows) {
      const bh = Math.min(bandRows, y + h - by);
      const raw = Buffer.allocUnsafe(rowBytes * bh);
      for (let r = 0; r < bh; r++) {
        const off = (by + r) * stride + x * 4;
        src.copy(raw, r * rowBytes, off, off + rowBytes);
      }
      let codec = CODEC_RAW;
      let data: Uint8Array = raw;
      if (this.codecs & codecBit(CODEC_LZ4) && lz4Available) {
        const packed = lz4CompressBlock(raw);
        if (packed.byteLength < raw.byteLength) {
          codec = CODEC_LZ4;
          data = packed;
        }
      }
      out.push({ x, y: by, width: w, height: bh, codec, data });
    }
  }
}

function sameRect(a: Buffer, b: Buffer, stride: number, x: number, y: number, w: number, h: number): boolean {
  const len = w * 4;
  for (let r = 0; r < h; r++) {
    const off = (y + r) * stride + x * 4;
    if (a.compare(b, off, off + len, off, off + len) !== 0) return false;
  }
  return true;
}

function copyRect(src: Buffer, dst: Buffer, stride: number, x: number, y: number, w: number, h: number): void {
  const len = w * 4;
  for (let r = 0; r < h; r++) {
    const off = (y + r) * stride + x * 4;
    src.copy(dst, off, off, off + len);
  }
}

/** The pixel (as a little-endian u32) filling the rectangle, or -1 when it is not uniform. */
function uniformPixel(src: Buffer, stride: number, x: number, y: number, w: number, h: number): number {
  const first = y * stride + x * 4;
  const p = src.readUInt32LE(first);
  for (let i = 1; i < w; i++) {
    if (src.readUInt32LE(first + i * 4) !== p) return -1;
  }
  const len = w * 4;
  for (let r = 1; r < h; r++) {
    const off = (y + r) * stride + x * 4;
    if (src.compare(src, first, first + len, off, off + len) !== 0) return -1;
  }
  return p;
}

function pixelOf(data: Uint8Array): number {
  return (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
}

// ---------------------------------------------------------------------------
// Decoder

/** A tile decoded with LZ4 never expands beyond what an encoder can send raw. */
export const MAX_LZ4_TILE_BYTES = MAX_MESSAGE_SIZE;

export interface SurfaceLimits {
  readonly maxWidth: number;
  readonly maxHeight: number;
}

export const DEFAULT_SURFACE_LIMITS: SurfaceLimits = { maxWidth: 8192, maxHeight: 8192 };

/** Check the arguments of wthp_content.begin; returns the pixel format. */
export function checkBegin(width: number, height: number, format: number, limits: SurfaceLimits = DEFAULT_SURFACE_LIMITS): PixelFormat {
  const fmt = formatFromWire(format);
  if (fmt === null) throw new TileError('ERR_TILE_STATE', `unknown pixel format ${format}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new TileError('ERR_TILE_SIZE', `invalid buffer size ${width}x${height}`);
  }
  if (width > limits.maxWidth || height > limits.maxHeight) {
    throw new TileError('ERR_TILE_SIZE', `buffer size ${width}x${height} exceeds the limit ${limits.maxWidth}x${limits.maxHeight}`);
  }
  return fmt;
}

/**
 * Validate `tile` against `target` and write it into `target.pixels`.
 * `codecs` is the mask of codecs this side announced. Returns the tile's
 * rectangle (buffer pixels), for damage. Throws TileError without touching
 * the pixels when the tile is invalid.
 */
export function applyTile(target: PixelImage, tile: Tile, codecs: number = LOCAL_CODECS): Rect {
  const { x, y, width: w, height: h, codec, data } = tile;
  if (codec < 0 || codec > 31 || (codecs & codecBit(codec)) === 0 || CODEC_NAMES[codec] === undefined) {
    throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} is not a codec this receiver announced`);
  }
  if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > target.width - w || y > target.height - h) {
    throw new TileError('ERR_TILE_BOUNDS', `tile ${w}x${h}+${x}+${y} is outside the ${target.width}x${target.height} surface`);
  }
  const stride = target.width * 4;
  const rowBytes = w * 4;
  const dst = asBuffer(target.pixels);
  const size = rowBytes * h;
  switch (codec) {
    case CODEC_SOLID: {
      if (data.byteLength !== 4) throw new TileError('ERR_TILE_DATA', `solid tile carries ${data.byteLength} bytes instead of 4`);
      const pattern = Buffer.from(data.buffer, data.byteOffset, 4);
      for (let r = 0; r < h; r++) {
        const off = (y + r) * stride + x * 4;
        dst.fill(pattern, off, off + rowBytes);
      }
      break;
    }
    case CODEC_RAW: {
      if (data.byteLength !== size) {
        throw new TileError('ERR_TILE_DATA', `raw ${w}x${h} tile carries ${data.byteLength} bytes instead of ${size}`);
      }
      blit(asBuffer(data), dst, stride, x, y, rowBytes, h);
      break;
    }
    case CODEC_LZ4: {
      if (size > MAX_LZ4_TILE_BYTES) {
        throw new TileError('ERR_TILE_SIZE', `lz4 tile of ${w}x${h} decodes to ${size} bytes, more than ${MAX_LZ4_TILE_BYTES}`);
      }
      let raw: Uint8Array;
      try {
        raw = lz4DecompressBlock(data, size);
      } catch (err) {
        throw new TileError('ERR_TILE_DATA', `lz4 ${w}x${h} tile does not decode: ${(err as Error).message}`);
      }
      blit(asBuffer(raw), dst, stride, x, y, rowBytes, h);
      break;
    }
    default:
      throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} tiles cannot be decoded here`);
  }
  return { x, y, width: w, height: h };
}

function blit(src: Buffer, dst: Buffer, stride: number, x: number, y: number, rowBytes: number, h: number): void {
  for (let r = 0; r < h; r++) src.copy(dst, (y + r) * stride + x * 4, r * rowBytes, (r + 1) * rowBytes);
}

/** A surface's pixels on the receiving side: begin, then tiles. */
export class TileDecoder {
  image: PixelImage | null = null;

  constructor(
    private readonly codecs: number = LOCAL_CODECS,
    private readonly limits: SurfaceLimits = DEFAULT_SURFACE_LIMITS,
  ) {}

  /** wthp_content.begin: a new size starts from transparent black; the same size keeps the pixels. */
  begin(width: number, height: number, format: number): void {
    const fmt = checkBegin(width, height, format, this.limits);
    const old = this.image;
    if (old !== null && old.width === width && old.height === height) {
      this.image = { ...old, format: fmt };
    } else {
      this.image = { width, height, format: fmt, pixels: new Uint8Array(width * height * 4) };
    }
  }

  apply(tile: Tile): Rect {
    if (this.image === null) throw new TileError('ERR_TILE_STATE', 'tile before begin');
    return applyTile(this.image, tile, this.codecs);
  }
}
