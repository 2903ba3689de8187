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
 * the codecs the receiver announced; then the mirror is updated. Rows that
 * moved up or down (a scroll) go first, as one `copy` tile of pixels the
 * receiver has.
 *
 * Receiver side, `applyTile` / `TileDecoder`: validates a tile against the
 * surface it targets and writes it into that surface's pixels. A hostile tile
 * (outside the surface, data of the wrong length, a codec not announced,
 * sizes beyond the limits) throws a `TileError` and changes nothing.
 *
 * Pixels are `width * 4` bytes per row, in wl_shm memory order (B, G, R, A).
 * An xrgb8888 surface's tiles may carry 3 bytes a pixel (`raw_rgb`,
 * `lz4_rgb`: B, G, R; the receiver writes the 4th byte as 0xff) when the
 * receiver announced them.
 * The pixel loops and LZ4 run in the native shim (shared/native.ts).
 */
import type { PixelFormat, Rect } from '../scene/scene.js';
import type { SharedPixels } from '../scene/shared-pixels.js';
import { FRAME_STATS_LENGTH, FrameEncoder, isNativeError, TileWriter, type FrameStats } from '../native.js';
import { pinPixels } from '../scene/pinned-pixels.js';
import { WthpContentCodec, WthpContentFormat, wthpContentInterface } from '../generated/waltham/waltham.js';
import type { MessageSpec } from '../wire/protocol.js';

/** wthp_content.codec (protocol/waltham.xml, through the generated enum) */
export const CODEC_RAW = WthpContentCodec.Raw;
export const CODEC_LZ4 = WthpContentCodec.Lz4;
export const CODEC_ZSTD = WthpContentCodec.Zstd;
export const CODEC_SOLID = WthpContentCodec.Solid;
export const CODEC_LZ4_SPANS = WthpContentCodec.Lz4Spans;
export const CODEC_COPY = WthpContentCodec.Copy;
export const CODEC_RAW_RGB = WthpContentCodec.RawRgb;
export const CODEC_LZ4_RGB = WthpContentCodec.Lz4Rgb;

/** Wire names of the codecs, from the XML. */
const CODEC_NAMES: ReadonlyMap<number, string> = new Map(
  (wthpContentInterface.enums.find((e) => e.name === 'codec')?.entries ?? []).map((e) => [e.value, e.name] as const),
);

export function codecName(codec: number): string {
  return CODEC_NAMES.get(codec) ?? `codec ${codec}`;
}

export function codecBit(codec: number): number {
  return 1 << codec;
}

/** The codecs of 3-byte pixels, for xrgb8888 buffers only. */
export const RGB_CODECS = codecBit(CODEC_RAW_RGB) | codecBit(CODEC_LZ4_RGB);

/** The codecs this build decodes, as wthp_content.codecs announces them. */
export const LOCAL_CODECS =
  codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) | codecBit(CODEC_LZ4) | codecBit(CODEC_ZSTD) | codecBit(CODEC_LZ4_SPANS) | codecBit(CODEC_COPY) | RGB_CODECS;

/** wthp_content.format */
export const FORMAT_ARGB8888 = WthpContentFormat.Argb8888;
export const FORMAT_XRGB8888 = WthpContentFormat.Xrgb8888;

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
  /** The shared memory `pixels` is, when a display may read it directly. */
  readonly shared?: SharedPixels;
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
  /** Pixels sent as a copy of pixels the receiver had (a scroll). */
  readonly copiedPixels: number;
  /** Bytes of the tile messages on the wire. */
  readonly wireBytes: number;
}

/** What `encodeMessages` wrote. */
export interface EncodedFrame {
  /** The wthp_content.tile messages, back to back; valid until `release()`. */
  readonly bytes: Uint8Array;
  /** Give the memory of `bytes` back to the encoder (once they are written); at most once. */
  release(): void;
  /** The mirror was (re)created: the receiver starts from transparent black. */
  readonly reset: boolean;
  readonly tiles: number;
  readonly changedTiles: number;
  readonly unchangedTiles: number;
  readonly rawBytes: number;
  readonly copiedPixels: number;
}

/** One encode's input as the native encoder takes it, and its output buffer. */
interface EncodeJob {
  readonly stride: number;
  readonly rects: Int32Array | null;
  /** `outputBound` of the image. */
  readonly bound: number;
  readonly out: Uint8Array;
  readonly codecs: number;
}

/** The wire numbers of the native encoder, from the generated protocol tables. */
/** The tile wire numbers the native encoder and writers use, from the generated tables. */
export const FRAME_WIRE = {
  tileOpcode: tileRequest().opcode,
  codecRaw: CODEC_RAW,
  codecLz4: CODEC_LZ4,
  codecZstd: CODEC_ZSTD,
  codecSolid: CODEC_SOLID,
  codecLz4Spans: CODEC_LZ4_SPANS,
  codecCopy: CODEC_COPY,
  codecRawRgb: CODEC_RAW_RGB,
  codecLz4Rgb: CODEC_LZ4_RGB,
};

function tileRequest(): MessageSpec {
  const spec = wthpContentInterface.requests.find((m) => m.name === 'tile');
  if (spec === undefined) throw new Error('protocol/waltham.xml: wthp_content has no tile request');
  return spec;
}

/**
 * The transmitter's encoder for one surface on one receiver: the mirror of
 * what the receiver has and the one-pass native encoder that keeps it
 * (native/wayland-shim/src/frame.rs). Each encode is one native call that
 * diffs the damaged tiles against the mirror, picks a codec per band and
 * writes the finished wthp_content.tile messages.
 */
export class TileEncoder {
  readonly tileSize: number;
  private codecs: number;
  private readonly native: FrameEncoder;
  private mirrorFormat: PixelFormat | null = null;
  /** Output buffers given back by `release()`, for the next frames. */
  private readonly spare: Uint8Array[] = [];
  private damageScratch = new Int32Array(64);
  /** What the last synchronous encode wrote (the native side fills it: no object a frame). */
  private readonly stats = new Float64Array(FRAME_STATS_LENGTH);
  /** The output bound of the last image size (it changes with the size only). */
  private bound = { width: -1, height: -1, bytes: 0 };
  private inFlight = false;

  constructor(options: TileEncoderOptions = {}) {
    this.tileSize = options.tileSize ?? 64;
    const maxData = Math.min(options.maxData ?? MAX_TILE_DATA, MAX_TILE_DATA);
    if (!Number.isInteger(this.tileSize) || this.tileSize < 4 || this.tileSize * 4 > maxData) {
      throw new RangeError(`tile size ${this.tileSize} is out of range`);
    }
    this.codecs = options.codecs ?? codecBit(CODEC_RAW) | codecBit(CODEC_SOLID);
    this.native = new FrameEncoder(FRAME_WIRE, this.tileSize, maxData);
  }

  /** The native encoder and its mirror (the transmitter's steady commits encode with it). */
  get nativeEncoder(): FrameEncoder {
    return this.native;
  }

  /** Change the codecs used from now on (mask of 1 << codec). */
  setCodecs(mask: number): void {
    this.codecs = mask;
  }

  /** Forget what the receiver has: the next encode sends the whole surface. */
  reset(): void {
    this.native.reset();
    this.mirrorFormat = null;
  }

  /**
   * The receiver got something other than the exact pixels inside `rects`
   * (buffer pixels; lossy tiles): the mirror of the grid tiles they touch is
   * unknown, and the next encode whose damage covers such a tile sends all
   * of it again. Returns those grid tiles (as rectangles clipped to the
   * surface): the damage that brings the exact pixels back.
   */
  forget(rects: readonly Rect[], width: number, height: number): Rect[] {
    const t = this.tileSize;
    const out: Rect[] = [];
    const q = new Int32Array(4 * rects.length);
    rects.forEach((r, i) => {
      const x0 = Math.max(0, Math.floor(r.x / t) * t);
      const y0 = Math.max(0, Math.floor(r.y / t) * t);
      const x1 = Math.min(width, Math.ceil((r.x + r.width) / t) * t);
      const y1 = Math.min(height, Math.ceil((r.y + r.height) / t) * t);
      if (x1 > x0 && y1 > y0) out.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
      q.set([x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)], 4 * i);
    });
    if (out.length > 0) this.native.forget(q);
    return out;
  }

  /** Whether the next encode of an image of this size starts a new buffer on the receiver. */
  needsReset(width: number, height: number): boolean {
    return this.native.needsReset(width, height);
  }

  /**
   * Encode what changed in `image` inside `damage` (buffer pixels; null = the
   * whole image) as wthp_content.tile messages to object `target` for the
   * surface object `surface`, and record it as sent. A new size resets the
   * mirror to transparent black, like the receiver does, and implies full
   * damage. `image.stride` (default width * 4) lets the pixels be a view of
   * the client's own buffer.
   *
   * The bytes stay valid until the caller calls `release()` on the result,
   * which gives their memory back for the next frames (a caller that hands
   * them to a socket releases them once written).
   */
  encodeMessages(image: PixelImage & { readonly stride?: number }, damage: readonly Rect[] | null, target: number, surface: number): EncodedFrame {
    const job = this.prepare(image, damage);
    const s = this.stats;
    this.native.encode(image.pixels, job.stride, image.width, image.height, job.rects, job.codecs, target, surface, job.out, s);
    return this.finish(job, { bytes: s[0]!, tiles: s[1]!, changedTiles: s[2]!, unchangedTiles: s[3]!, rawBytes: s[4]!, copiedPixels: s[5]!, reset: s[6] !== 0 });
  }

  /**
   * `encodeMessages` on a worker thread: the JavaScript thread goes on while
   * the damage is diffed and compressed. Until the promise settles the
   * encoder is `busy` (its other methods throw) and `image.pixels` are pinned
   * (pinned-pixels.ts: producers write into a copy instead). The damage is
   * taken now.
   */
  async encodeMessagesAsync(image: PixelImage & { readonly stride?: number }, damage: readonly Rect[] | null, target: number, surface: number): Promise<EncodedFrame> {
    const job = this.prepare(image, damage);
    // The worker reads the rectangles after this turn: its own copy, not the scratch array.
    const rects = job.rects === null ? null : job.rects.slice();
    const unpin = pinPixels(image.pixels);
    this.inFlight = true;
    try {
      const stats = await this.native.encodeAsync(image.pixels, job.stride, image.width, image.height, rects, job.codecs, target, surface, job.out);
      return this.finish(job, stats);
    } catch (err) {
      if (job.out.byteLength >= job.bound && this.spare.length < MAX_SPARE_OUTPUTS) this.spare.push(job.out);
      throw err;
    } finally {
      this.inFlight = false;
      unpin();
    }
  }

  /** An `encodeMessagesAsync` has not settled yet. */
  get busy(): boolean {
    return this.inFlight;
  }

  /** The damage as the native encoder takes it, the codecs and an output buffer for one encode. */
  private prepare(image: PixelImage & { readonly stride?: number }, damage: readonly Rect[] | null): EncodeJob {
    const { width, height } = image;
    const stride = image.stride ?? width * 4;
    // A new size (or the first encode after reset()) sends everything: the native side then
    // leaves the damage aside and says so in the stats.
    let rects: Int32Array | null = null;
    if (damage !== null && image.format === this.mirrorFormat) {
      if (this.damageScratch.length < 4 * damage.length) this.damageScratch = new Int32Array(4 * damage.length);
      const q = this.damageScratch.subarray(0, 4 * damage.length);
      // Clipped to the image here: the native side gets small non-negative numbers.
      damage.forEach((r, i) => {
        const x0 = Math.max(0, Math.min(width, Math.floor(r.x)));
        const y0 = Math.max(0, Math.min(height, Math.floor(r.y)));
        q[4 * i] = x0;
        q[4 * i + 1] = y0;
        q[4 * i + 2] = Math.max(0, Math.min(width, Math.ceil(r.x + r.width)) - x0);
        q[4 * i + 3] = Math.max(0, Math.min(height, Math.ceil(r.y + r.height)) - y0);
      });
      rects = q;
    }
    this.mirrorFormat = image.format;
    const bound = this.outputBound(width, height);
    let out = this.spare.pop();
    if (out === undefined || out.byteLength < bound) out = Buffer.allocUnsafeSlow(bound);
    // 3-byte pixels drop the 4th byte: only where it carries nothing.
    const codecs = image.format === 'xrgb8888' ? this.codecs : this.codecs & ~RGB_CODECS;
    return { stride, rects, bound, out, codecs };
  }

  /**
   * An output buffer for native code that encodes with this encoder's mirror across calls (the
   * transmitter's steady commits): one of the spares, or a new one. Give it back with
   * `returnOutput`.
   */
  lendOutput(width: number, height: number): Uint8Array {
    const bound = this.outputBound(width, height);
    const out = this.spare.pop();
    return out !== undefined && out.byteLength >= bound ? out : Buffer.allocUnsafeSlow(bound);
  }

  /** A buffer of `lendOutput` comes back to the spares. */
  returnOutput(out: Uint8Array): void {
    if (this.spare.length < MAX_SPARE_OUTPUTS) this.spare.push(out);
  }

  /** `outputBound` of the native encoder, asked once per size. */
  private outputBound(width: number, height: number): number {
    const b = this.bound;
    if (b.width !== width || b.height !== height) {
      this.bound = { width, height, bytes: width > 0 && height > 0 ? this.native.outputBound(width, height) : 0 };
    }
    return this.bound.bytes;
  }

  private finish(job: EncodeJob, stats: FrameStats): EncodedFrame {
    let released = false;
    const { out, bound } = job;
    return {
      bytes: out.subarray(0, stats.bytes),
      release: () => {
        if (released) return;
        released = true;
        if (this.spare.length < MAX_SPARE_OUTPUTS && out.byteLength >= bound) this.spare.push(out);
      },
      reset: stats.reset,
      tiles: stats.tiles,
      changedTiles: stats.changedTiles,
      unchangedTiles: stats.unchangedTiles,
      rawBytes: stats.rawBytes,
      copiedPixels: stats.copiedPixels,
    };
  }

  /**
   * `encodeMessages` as tiles: the messages parsed back (for tests and
   * tools). With a `sink`, tiles are handed to it instead of being collected
   * in the result (whose `tiles` is then empty), and their data is a view that
   * is only valid during the call.
   */
  encode(image: PixelImage, damage: readonly Rect[] | null, sink?: (tile: Tile) => void): EncodeResult {
    const frame = this.encodeMessages(image, damage, 1, 1);
    const tiles: Tile[] = [];
    const view = new DataView(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength);
    for (let at = 0; at < frame.bytes.byteLength; ) {
      const size = view.getUint16(at + 2, true);
      const word = (i: number): number => view.getInt32(at + 8 + 4 * i, true);
      const length = view.getUint32(at + TILE_MESSAGE_OVERHEAD - 4, true);
      const data = frame.bytes.subarray(at + TILE_MESSAGE_OVERHEAD, at + TILE_MESSAGE_OVERHEAD + length);
      const tile: Tile = { x: word(2), y: word(3), width: word(4), height: word(5), codec: word(6) >>> 0, data: sink === undefined ? new Uint8Array(data) : data };
      if (sink === undefined) tiles.push(tile);
      else sink(tile);
      at += size;
    }
    frame.release();
    return {
      tiles,
      reset: frame.reset,
      changedTiles: frame.changedTiles,
      unchangedTiles: frame.unchangedTiles,
      rawBytes: frame.rawBytes,
      copiedPixels: frame.copiedPixels,
      wireBytes: frame.bytes.byteLength,
    };
  }
}

/** Output buffers an encoder keeps for reuse (frames in flight use more). */
const MAX_SPARE_OUTPUTS = 1;

// ---------------------------------------------------------------------------
// Decoder

/** A tile decoded with LZ4 never expands beyond what an encoder can send raw. */
export const MAX_LZ4_TILE_BYTES = MAX_MESSAGE_SIZE;

/** Writes tiles into pixels in one native call each (native/wayland-shim/src/frame.rs). */
const tileWriter = new TileWriter(FRAME_WIRE);

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
  if (codec < 0 || codec > 31 || (codecs & codecBit(codec)) === 0 || !CODEC_NAMES.has(codec)) {
    throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} is not a codec this receiver announced`);
  }
  if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > target.width - w || y > target.height - h) {
    throw new TileError('ERR_TILE_BOUNDS', `tile ${w}x${h}+${x}+${y} is outside the ${target.width}x${target.height} surface`);
  }
  if ((codecBit(codec) & RGB_CODECS) !== 0 && target.format !== 'xrgb8888') {
    throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} tiles are for xrgb8888 buffers, this one is ${target.format}`);
  }
  const size = w * h * 4;
  if ((codec === CODEC_LZ4 || codec === CODEC_ZSTD || codec === CODEC_LZ4_SPANS || codec === CODEC_LZ4_RGB) && size > MAX_LZ4_TILE_BYTES) {
    throw new TileError('ERR_TILE_SIZE', `${codecName(codec)} tile of ${w}x${h} decodes to ${size} bytes, more than ${MAX_LZ4_TILE_BYTES}`);
  }
  if (codec !== CODEC_RAW && codec !== CODEC_SOLID && codec !== CODEC_LZ4 && codec !== CODEC_ZSTD && codec !== CODEC_LZ4_SPANS && codec !== CODEC_COPY && codec !== CODEC_RAW_RGB && codec !== CODEC_LZ4_RGB) {
    throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} tiles cannot be decoded here`);
  }
  try {
    tileWriter.write(codec, data, target.pixels, target.width * 4, x, y, w, h);
  } catch (err) {
    if (isNativeError(err, 'EBADMSG')) throw new TileError('ERR_TILE_DATA', err.message);
    throw err;
  }
  return { x, y, width: w, height: h };
}

/** Where a copy tile takes its pixels from (its data: source x, y), or null when the data is not that. */
export function copySource(tile: Tile): Rect | null {
  if (tile.codec !== CODEC_COPY || tile.data.byteLength !== 8) return null;
  const view = new DataView(tile.data.buffer, tile.data.byteOffset, 8);
  return { x: view.getUint32(0, true), y: view.getUint32(4, true), width: tile.width, height: tile.height };
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
