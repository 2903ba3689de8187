/**
 * The tile pipeline of wthp_content (protocol/waltham.xml, part 2).
 *
 * Transmitter side, `TileEncoder`: keeps a mirror of the pixels the receiver
 * has for one surface. Given the new content and the commit's damage (buffer
 * pixels), it compares the grid tiles the damage touches with the mirror,
 * keeps those that changed (and only their changed rows), sends a uniform
 * tile as one pixel, and merges horizontal neighbours into runs, cut into
 * bands that fit a Waltham message (65535 bytes, header and arguments
 * included). A band goes out as the span stream of its changed pixels
 * (`lz4_spans`), as LZ4 of its pixels, or raw, whichever is smallest among
 * the codecs the receiver announced; then the mirror is updated.
 *
 * Receiver side, `applyTile` / `TileDecoder`: validates a tile against the
 * surface it targets and writes it into that surface's pixels. A hostile tile
 * (outside the surface, data of the wrong length, a codec not announced,
 * sizes beyond the limits) throws a `TileError` and changes nothing.
 *
 * Pixels are `width * 4` bytes per row, in wl_shm memory order (B, G, R, A).
 * The pixel loops and LZ4 run in the native shim (shared/native.ts).
 */
import type { PixelFormat, Rect } from '../scene/scene.js';
import { applySpans, copyPixels, diffTiles, encodeSpans, lz4Compress, lz4Decompress, uniformPixel } from '../native.js';

/** wthp_content.codec */
export const CODEC_RAW = 0;
export const CODEC_LZ4 = 1;
export const CODEC_ZSTD = 2;
export const CODEC_SOLID = 3;
export const CODEC_LZ4_SPANS = 4;

const CODEC_NAMES = ['raw', 'lz4', 'zstd', 'solid', 'lz4_spans'] as const;

export function codecName(codec: number): string {
  return CODEC_NAMES[codec] ?? `codec ${codec}`;
}

export function codecBit(codec: number): number {
  return 1 << codec;
}

/** The codecs this build decodes, as wthp_content.codecs announces them. */
export const LOCAL_CODECS = codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) | codecBit(CODEC_LZ4) | codecBit(CODEC_LZ4_SPANS);

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

/**
 * Above this share of the raw size the span stream of a band is considered
 * dense (most pixels changed), and LZ4 of the plain pixels is tried as well.
 */
const DENSE_SPANS = 0.75;
/** A band whose best encoding is above this share of its raw size is taken for incompressible. */
const INCOMPRESSIBLE = 0.9;

export class TileEncoder {
  readonly tileSize: number;
  private readonly maxData: number;
  private codecs: number;
  private mirror: Uint8Array | null = null;
  private mirrorWidth = 0;
  private mirrorHeight = 0;
  private mirrorFormat: PixelFormat | null = null;
  /** diffTiles output: first and last changed row per grid column. */
  private columns = new Int32Array(0);
  /** Work buffers of one band, at most maxData bytes each. */
  private readonly plain: Uint8Array;
  private readonly spans: Uint8Array;
  private readonly packedSpans: Uint8Array;
  private readonly packedPlain: Uint8Array;

  constructor(options: TileEncoderOptions = {}) {
    this.tileSize = options.tileSize ?? 64;
    this.maxData = Math.min(options.maxData ?? MAX_TILE_DATA, MAX_TILE_DATA);
    if (!Number.isInteger(this.tileSize) || this.tileSize < 4 || this.tileSize * 4 > this.maxData) {
      throw new RangeError(`tile size ${this.tileSize} is out of range`);
    }
    this.codecs = options.codecs ?? codecBit(CODEC_RAW) | codecBit(CODEC_SOLID);
    const scratch = new ArrayBuffer(4 * this.maxData);
    this.plain = new Uint8Array(scratch, 0, this.maxData);
    this.spans = new Uint8Array(scratch, this.maxData, this.maxData);
    this.packedSpans = new Uint8Array(scratch, 2 * this.maxData, this.maxData);
    this.packedPlain = new Uint8Array(scratch, 3 * this.maxData, this.maxData);
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
   *
   * With a `sink`, tiles are handed to it as they are made instead of being
   * collected in the result (whose `tiles` is then empty), and their data is
   * a view that is only valid during the call: no copy per tile.
   */
  encode(image: PixelImage, damage: readonly Rect[] | null, sink?: (tile: Tile) => void): EncodeResult {
    const { width, height } = image;
    if (image.pixels.byteLength < width * height * 4) {
      throw new RangeError(`image of ${width}x${height} has only ${image.pixels.byteLength} bytes`);
    }
    let reset = false;
    if (this.needsReset(width, height)) {
      this.mirror = new Uint8Array(width * height * 4);
      this.mirrorWidth = width;
      this.mirrorHeight = height;
      reset = true;
    }
    if (reset || image.format !== this.mirrorFormat) damage = null;
    this.mirrorFormat = image.format;
    const mirror = this.mirror!;
    const src = image.pixels;
    const T = this.tileSize;
    const cols = Math.ceil(width / T);
    const rows = Math.ceil(height / T);
    if (cols === 0 || rows === 0) {
      return { tiles: [], reset, changedTiles: 0, unchangedTiles: 0, rawBytes: 0, wireBytes: 0 };
    }
    if (this.columns.length < 2 * cols) this.columns = new Int32Array(2 * cols);
    const columns = this.columns;

    // Grid tiles touched by the damage, and per row of tiles the columns the damage spans
    // (content changes only inside the damage: runs are cut to it).
    const candidate = new Uint8Array(cols * rows);
    const damageLeft = new Int32Array(rows).fill(width);
    const damageRight = new Int32Array(rows);
    const rects = damage ?? [{ x: 0, y: 0, width, height }];
    for (const r of rects) {
      const x0 = Math.max(0, Math.floor(r.x));
      const y0 = Math.max(0, Math.floor(r.y));
      const x1 = Math.min(width, Math.ceil(r.x + r.width));
      const y1 = Math.min(height, Math.ceil(r.y + r.height));
      if (x1 <= x0 || y1 <= y0) continue;
      for (let ty = Math.floor(y0 / T); ty <= Math.floor((y1 - 1) / T); ty++) {
        candidate.fill(1, ty * cols + Math.floor(x0 / T), ty * cols + Math.floor((x1 - 1) / T) + 1);
        damageLeft[ty] = Math.min(damageLeft[ty]!, x0);
        damageRight[ty] = Math.max(damageRight[ty]!, x1);
      }
    }

    const stride = width * 4;
    const solid = (this.codecs & codecBit(CODEC_SOLID)) !== 0;
    // Solid tiles are collected (later ones may grow them); the others go to the sink, if any.
    const tiles: MutableTile[] = [];
    let wireBytes = 0;
    const emit =
      sink === undefined
        ? (t: Tile): void => {
            tiles.push({ ...t, data: t.data.slice() });
          }
        : (t: Tile): void => {
            wireBytes += tileMessageSize(t.data.byteLength);
            sink(t);
          };
    let changedTiles = 0;
    let unchangedTiles = 0;
    let rawBytes = 0;
    // Solid runs of the previous tile row, to merge vertically: key x,width,colour.
    let solidAbove = new Map<string, MutableTile>();

    for (let ty = 0; ty < rows; ty++) {
      const y = ty * T;
      const h = Math.min(T, height - y);
      const solidHere = new Map<string, MutableTile>();
      // The solid tile right before the current position in this row, to grow sideways.
      let lastSolid: MutableTile | null = null;
      // Current run of changed, non-uniform tiles in this row, and the rows that changed in it.
      let runX = -1;
      let runW = 0;
      let runTop = h;
      let runBottom = 0;
      const left = damageLeft[ty]!;
      const right = damageRight[ty]!;
      const closeRun = (): void => {
        const x0 = Math.max(runX, left);
        const x1 = Math.min(runX + runW, right);
        if (runW > 0 && x1 > x0) this.emitRun(src, mirror, stride, width, x0, y + runTop, x1 - x0, runBottom - runTop, emit);
        runX = -1;
        runW = 0;
        runTop = h;
        runBottom = 0;
      };
      for (let tx = 0; tx < cols; ) {
        if (candidate[ty * cols + tx] === 0) {
          closeRun();
          lastSolid = null;
          tx++;
          continue;
        }
        // A stretch of candidate tiles, compared with the mirror in one call.
        const c0 = tx;
        while (tx < cols && candidate[ty * cols + tx] === 1) tx++;
        const sx = c0 * T;
        diffTiles(src, mirror, stride, sx, y, Math.min(width, tx * T) - sx, h, T, columns);
        for (let k = 0; k < tx - c0; k++) {
          const x = sx + k * T;
          const w = Math.min(T, width - x);
          const first = columns[2 * k]!;
          if (first < 0) {
            unchangedTiles++;
            closeRun();
            lastSolid = null;
            continue;
          }
          changedTiles++;
          rawBytes += w * h * 4;
          const colour = solid ? uniformPixel(src, stride, x, y, w, h) : -1;
          if (colour >= 0) {
            closeRun();
            copyPixels(src, stride, x, y, mirror, stride, x, y, w, h);
            const prev = lastSolid;
            if (prev !== null && prev.y === y && prev.height === h && prev.x + prev.width === x && pixelOf(prev.data) === colour) {
              solidHere.delete(`${prev.x},${prev.width},${colour}`);
              prev.width += w;
              solidHere.set(`${prev.x},${prev.width},${colour}`, prev);
            } else {
              const data = src.slice(y * stride + x * 4, y * stride + x * 4 + 4);
              const t: MutableTile = { x, y, width: w, height: h, codec: CODEC_SOLID, data };
              tiles.push(t);
              solidHere.set(`${x},${w},${colour}`, t);
              lastSolid = t;
            }
            continue;
          }
          lastSolid = null;
          if (runW === 0) runX = x;
          runW += w;
          runTop = Math.min(runTop, first);
          runBottom = Math.max(runBottom, columns[2 * k + 1]!);
        }
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

    for (const t of tiles) wireBytes += tileMessageSize(t.data.byteLength);
    if (sink === undefined) return { tiles, reset, changedTiles, unchangedTiles, rawBytes, wireBytes };
    for (const t of tiles) sink(t);
    return { tiles: [], reset, changedTiles, unchangedTiles, rawBytes, wireBytes };
  }

  /**
   * Send the rectangle of a run as bands of at most maxData raw bytes (of
   * equal height), each with the smallest codec, and bring the mirror up to
   * date. A codec that saved nothing on a band is not tried again on the
   * rest of the run, and once a band saves less than a tenth of its raw
   * size the rest of the run goes raw (noise: trying costs a pass over the
   * pixels per codec and saves nothing).
   */
  private emitRun(src: Uint8Array, mirror: Uint8Array, stride: number, width: number, x: number, y: number, w: number, h: number, emit: (t: Tile) => void): void {
    const rowBytes = w * 4;
    const maxRows = Math.max(1, Math.floor(this.maxData / rowBytes));
    const bandRows = Math.ceil(h / Math.ceil(h / maxRows));
    let useSpans = (this.codecs & codecBit(CODEC_LZ4_SPANS)) !== 0;
    let useLz4 = (this.codecs & codecBit(CODEC_LZ4)) !== 0;
    for (let by = y; by < y + h; by += bandRows) {
      const bh = Math.min(bandRows, y + h - by);
      const raw = rowBytes * bh;
      let codec = CODEC_RAW;
      let packed: Uint8Array | null = null;
      let dense = true;
      if (useSpans) {
        // The span stream must be shorter than the raw pixels to be worth it.
        const streamBytes = encodeSpans(src, mirror, stride, x, by, w, bh, this.spans.subarray(0, raw - 1));
        if (streamBytes === 0) continue; // nothing changed in these rows
        if (streamBytes > 0) {
          dense = streamBytes > DENSE_SPANS * raw;
          const n = lz4Compress(this.spans.subarray(0, streamBytes), this.packedSpans.subarray(0, raw - 1));
          if (n > 0) {
            codec = CODEC_LZ4_SPANS;
            packed = this.packedSpans.subarray(0, n);
          }
        }
        if (packed === null) useSpans = false;
      }
      // The band's pixels, packed rows (a view of the source when the rows are whole).
      let plain: Uint8Array;
      if (x === 0 && w === width) {
        plain = src.subarray(by * stride, (by + bh) * stride);
      } else {
        copyPixels(src, stride, x, by, this.plain, rowBytes, 0, 0, w, bh);
        plain = this.plain.subarray(0, raw);
      }
      if (useLz4 && (packed === null || dense)) {
        const limit = (packed === null ? raw : packed.byteLength) - 1;
        const n = limit > 0 ? lz4Compress(plain, this.packedPlain.subarray(0, limit)) : -1;
        if (n > 0) {
          codec = CODEC_LZ4;
          packed = this.packedPlain.subarray(0, n);
        } else if (packed === null) {
          useLz4 = false;
        }
      }
      if (packed === null || packed.byteLength > INCOMPRESSIBLE * raw) {
        useSpans = false;
        useLz4 = false;
      }
      emit({ x, y: by, width: w, height: bh, codec, data: packed ?? plain });
      copyPixels(src, stride, x, by, mirror, stride, x, by, w, bh);
    }
  }
}

function pixelOf(data: Uint8Array): number {
  return (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
}

// ---------------------------------------------------------------------------
// Decoder

/** A tile decoded with LZ4 never expands beyond what an encoder can send raw. */
export const MAX_LZ4_TILE_BYTES = MAX_MESSAGE_SIZE;

/**
 * Where LZ4 tiles are decoded before they are copied into place: a span
 * stream is at most a 4-byte header and a pixel per pixel of the tile.
 */
const decodeBuffer = new Uint8Array(2 * MAX_LZ4_TILE_BYTES + 8);

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
  const dst = target.pixels;
  const size = rowBytes * h;
  switch (codec) {
    case CODEC_SOLID: {
      if (data.byteLength !== 4) throw new TileError('ERR_TILE_DATA', `solid tile carries ${data.byteLength} bytes instead of 4`);
      const pattern = Buffer.from(data.buffer, data.byteOffset, 4);
      const pixels = Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength);
      if (x === 0 && w === target.width) {
        pixels.fill(pattern, y * stride, (y + h) * stride);
        break;
      }
      for (let r = 0; r < h; r++) {
        const off = (y + r) * stride + x * 4;
        pixels.fill(pattern, off, off + rowBytes);
      }
      break;
    }
    case CODEC_RAW: {
      if (data.byteLength !== size) {
        throw new TileError('ERR_TILE_DATA', `raw ${w}x${h} tile carries ${data.byteLength} bytes instead of ${size}`);
      }
      copyPixels(data, rowBytes, 0, 0, dst, stride, x, y, w, h);
      break;
    }
    case CODEC_LZ4:
    case CODEC_LZ4_SPANS: {
      if (size > MAX_LZ4_TILE_BYTES) {
        throw new TileError('ERR_TILE_SIZE', `${codecName(codec)} tile of ${w}x${h} decodes to ${size} bytes, more than ${MAX_LZ4_TILE_BYTES}`);
      }
      const limit = codec === CODEC_LZ4 ? size : 2 * size;
      let n: number;
      try {
        n = lz4Decompress(data, decodeBuffer.subarray(0, limit));
      } catch (err) {
        throw new TileError('ERR_TILE_DATA', `${codecName(codec)} ${w}x${h} tile does not decode: ${(err as Error).message}`);
      }
      if (codec === CODEC_LZ4) {
        if (n !== size) throw new TileError('ERR_TILE_DATA', `lz4 ${w}x${h} tile does not decode: ${n} bytes instead of ${size}`);
        copyPixels(decodeBuffer, rowBytes, 0, 0, dst, stride, x, y, w, h);
        break;
      }
      try {
        applySpans(decodeBuffer.subarray(0, n), dst, stride, x, y, w, h);
      } catch (err) {
        throw new TileError('ERR_TILE_DATA', `lz4_spans ${w}x${h} tile does not decode: ${(err as Error).message}`);
      }
      break;
    }
    default:
      throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} tiles cannot be decoded here`);
  }
  return { x, y, width: w, height: h };
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
