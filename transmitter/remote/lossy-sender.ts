/**
 * Lossy frames of the link (`--codec lossy`, or `auto` with `--allow-lossy` on
 * a bottlenecked link): the damage of a commit as JPEG or WebP tiles.
 *
 * - The damaged pixels are copied at once (a later commit may change the
 *   client's buffer in place); sharp encodes them on libuv's thread pool, so
 *   the link keeps serving other surfaces meanwhile.
 * - The damage becomes bounding boxes (one box when the rectangles fill most
 *   of it), cut into whole-width bands of equal height whose image must fit one
 *   Waltham message: the band height comes from the bytes per pixel of the
 *   densest band of the last frames (a denser frame raises it at once, a
 *   lighter one lowers it by half the difference); a band whose image is too
 *   large anyway is split in two and encoded again. All bands of a frame
 *   encode at once, spread over libuv's threads.
 * - While a surface's encode is in flight the surface is busy: its newer
 *   commits merge as they do while frames are in flight (newest content,
 *   union of damage). When the encode resolves, `send` runs (the link sends
 *   begin, the tiles, the commit and its frame callback) unless `current()`
 *   says the connection or the surface went away meanwhile.
 * - The receiver does not get the exact pixels: the caller marks the regions
 *   unknown in the lossless encoder's mirror (TileEncoder.forget), and the
 *   area returned by `refinement` is damage for the next lossless frame, so
 *   that the exact pixels come back when the link has room or the content
 *   settles (`settleMs` after the last lossy frame, `refine` is called).
 *   A lossy frame soon after a refinement means the content was not still
 *   (the pause was the link's or the CPU's, often the refinement's own
 *   transfer): the surface then waits twice as long before the next one
 *   (up to MAX_SETTLE_MS), and the base time again once it has been still.
 */
import type { Content, Rect } from '../../shared/scene/scene.js';
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import { packRgb } from '../../shared/native.js';
import { encodeRgb, type LossyCodec } from '../../shared/remote/lossy.js';
import { MAX_TILE_DATA } from '../../shared/remote/tiles.js';

/** One encoded lossy tile. */
export interface LossyTile {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly codec: LossyCodec;
  readonly data: Uint8Array;
}

export interface LossyFrame {
  readonly tiles: readonly LossyTile[];
  /** The rectangles the tiles cover (buffer pixels). */
  readonly rects: readonly Rect[];
  /** Bytes of pixels encoded. */
  readonly rawBytes: number;
  /** Bytes of image data. */
  readonly encodedBytes: number;
  /** Wall time of the encode (on worker threads), ms. */
  readonly encodeMs: number;
}

export interface LossyRequest {
  readonly width: number;
  readonly height: number;
  /** width * 4 bytes per row, B, G, R, X. Read during `start` only. */
  readonly pixels: Uint8Array;
  /** Damage in buffer pixels; null: the whole surface. */
  readonly damage: readonly Rect[] | null;
  readonly codec: LossyCodec;
  readonly quality: number;
  /** Whether the frame may still be sent (same connection, surface still there). */
  current(): boolean;
  /** Send the frame (called once, synchronously after the encode, only when current). */
  send(frame: LossyFrame): void;
  /** The encode failed or the frame is no longer current: nothing was sent. */
  dropped(reason: Error | null): void;
}

export interface LossySenderOptions {
  readonly logger: WalthamLogger;
  readonly where: string;
  /** Largest image per tile (default and maximum: what fits a Waltham message). */
  readonly maxData?: number;
  /** After this long without a lossy frame, `refine` is called for a surface with lossy pixels. Default 300 ms. */
  readonly settleMs?: number;
  /** Called when a surface's lossy pixels have settled: send its refinement losslessly. */
  readonly refine?: (key: object) => void;
}

/** The bytes per pixel assumed for the first band height, until measured. */
const PRIOR_BYTES_PER_PIXEL = 1;
/** Bands are cut to this share of the limit, so that most fit the first time. */
const BAND_TARGET = 0.8;
/** A box whose rectangles cover at least this share of it is sent whole. */
const BOX_FILL = 0.5;
/** The longest wait for still content before a refinement. */
const MAX_SETTLE_MS = 5000;
/** A lossy frame this soon after a refinement doubles the surface's wait. */
const MOVING_AGAIN_MS = 2000;
/** Splits of one band before giving up (a 1x1 image always fits). */
const MAX_SPLITS = 24;

interface SurfaceState {
  /** An encode is in flight. */
  busy: boolean;
  /** Lossy pixels not yet replaced by exact ones. */
  refine: Rect[];
  settleTimer: NodeJS.Timeout | undefined;
  /** The lossy pixels settled: the next frame is lossless and replaces them. */
  refineDue: boolean;
  /** This surface's wait for still content, ms. */
  settleMs: number;
  /** When the last refinement became due (performance.now()), until the next lossy frame. */
  refinedAt: number | undefined;
}

export class LossySender {
  private readonly logger: WalthamLogger;
  private readonly where: string;
  private readonly maxData: number;
  private readonly settleMs: number;
  private readonly onRefine: ((key: object) => void) | undefined;
  private readonly surfaces = new WeakMap<object, SurfaceState>();
  private bytesPerPixel = PRIOR_BYTES_PER_PIXEL;
  /** Lossy frames sent; bands encoded again because their image was too large. */
  readonly counters = { frames: 0, tiles: 0, resplits: 0 };

  constructor(options: LossySenderOptions) {
    this.logger = options.logger;
    this.where = options.where;
    this.maxData = Math.min(options.maxData ?? MAX_TILE_DATA, MAX_TILE_DATA);
    this.settleMs = options.settleMs ?? 300;
    this.onRefine = options.refine;
  }

  /** Whether a lossy encode of this surface is in flight (its commits merge meanwhile). */
  busy(key: object): boolean {
    return this.surfaces.get(key)?.busy ?? false;
  }

  /** Nothing lossy of this surface is in flight, on the receiver or due: its frames are all exact. */
  clean(key: object): boolean {
    const s = this.surfaces.get(key);
    return s === undefined || (!s.busy && !s.refineDue && s.refine.length === 0);
  }

  /** Whether the surface's lossy pixels settled: its next frame is to be lossless. */
  refineDue(key: object): boolean {
    return this.surfaces.get(key)?.refineDue ?? false;
  }

  /** The area whose lossy pixels the next lossless frame must replace; taken once. */
  takeRefinement(key: object): Rect[] {
    const s = this.surfaces.get(key);
    if (s === undefined) return [];
    s.refineDue = false;
    if (s.refine.length === 0) return [];
    clearTimeout(s.settleTimer);
    s.settleTimer = undefined;
    const out = s.refine;
    s.refine = [];
    return out;
  }

  /** The surface starts over (new buffer, new connection, gone): nothing lossy is left of it. */
  forget(key: object): void {
    const s = this.surfaces.get(key);
    if (s === undefined) return;
    clearTimeout(s.settleTimer);
    s.settleTimer = undefined;
    s.refine = [];
    s.refineDue = false;
    s.settleMs = this.settleMs;
    s.refinedAt = undefined;
  }

  /** Start a lossy frame of surface `key`; see LossyRequest. */
  start(key: object, request: LossyRequest): void {
    let s = this.surfaces.get(key);
    if (s === undefined) {
      s = { busy: false, refine: [], settleTimer: undefined, refineDue: false, settleMs: this.settleMs, refinedAt: undefined };
      this.surfaces.set(key, s);
    }
    if (s.busy) throw new Error('LossySender.start: an encode of this surface is in flight');
    const state = s;
    state.busy = true;
    clearTimeout(state.settleTimer);
    state.settleTimer = undefined;
    if (state.refinedAt !== undefined) {
      const moving = performance.now() - state.refinedAt < MOVING_AGAIN_MS;
      state.settleMs = moving ? Math.min(MAX_SETTLE_MS, state.settleMs * 2) : this.settleMs;
      state.refinedAt = undefined;
    }
    const boxes = boundingBoxes(request.damage, request.width, request.height);
    // The pixels now (a later commit may change the client's buffer in place), packed as the
    // encoder reads them: R, G, B, `width * 3` bytes per row; a whole-width band is a view.
    const snapshots = boxes.map((b) => {
      const pixels = Buffer.allocUnsafe(b.width * b.height * 3);
      packRgb(request.pixels, request.width * 4, b.x, b.y, b.width, b.height, pixels);
      return { box: b, pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength) };
    });
    const started = performance.now();
    Promise.all(snapshots.map(({ box, pixels }) => this.encodeBox(request, box, pixels)))
      .then(
        (perBox) => {
          state.busy = false;
          if (!request.current()) {
            request.dropped(null);
            return;
          }
          const tiles = perBox.flat();
          const rawBytes = boxes.reduce((n, b) => n + b.width * b.height * 4, 0);
          const encodedBytes = tiles.reduce((n, t) => n + t.data.byteLength, 0);
          this.measure(tiles);
          this.counters.frames++;
          this.counters.tiles += tiles.length;
          state.refine.push(...boxes);
          if (state.refine.length > 64) state.refine = [boundingBox(state.refine)];
          request.send({ tiles, rects: boxes, rawBytes, encodedBytes, encodeMs: performance.now() - started });
          this.settle(key, state);
        },
        (err: unknown) => {
          state.busy = false;
          const error = err instanceof Error ? err : new Error(String(err));
          this.logger.warn({ err: error }, `${this.where}: lossy encode failed (${error.message}); sending the frame losslessly`);
          request.dropped(error);
        },
      )
      .catch((err: unknown) => this.logger.error({ err }, `${this.where}: sending a lossy frame failed: ${(err as Error).message}`));
  }

  /** Updates the bytes per pixel the bands are cut for from the densest tile of a frame. */
  private measure(tiles: readonly LossyTile[]): void {
    let densest = 0;
    for (const t of tiles) densest = Math.max(densest, t.data.byteLength / (t.width * t.height));
    if (densest <= 0) return;
    this.bytesPerPixel = densest >= this.bytesPerPixel ? densest : (this.bytesPerPixel + densest) / 2;
  }

  private settle(key: object, state: SurfaceState): void {
    if (this.onRefine === undefined) return;
    const refine = this.onRefine;
    state.settleTimer = setTimeout(() => {
      state.settleTimer = undefined;
      if (state.refine.length === 0 || state.busy) return;
      state.refineDue = true;
      state.refinedAt = performance.now();
      refine(key);
    }, state.settleMs);
    state.settleTimer.unref();
  }

  /** The box (whose pixels are `pixels`, packed R, G, B) as tiles that each fit a message. */
  private async encodeBox(request: LossyRequest, box: Rect, pixels: Uint8Array): Promise<LossyTile[]> {
    const rowBytes = box.width * this.bytesPerPixel;
    const most = Math.max(1, Math.min(box.height, Math.floor((BAND_TARGET * this.maxData) / Math.max(1, rowBytes))));
    // As few bands as the limit allows, of equal height (no thin remainder band).
    const count = Math.ceil(box.height / most);
    const bands: Rect[] = [];
    for (let i = 0, y = 0; i < count; i++) {
      const height = Math.round(((i + 1) * box.height) / count) - y;
      bands.push({ x: 0, y, width: box.width, height });
      y += height;
    }
    const out = await Promise.all(bands.map((band) => this.encodeBand(request, box, pixels, band, 0)));
    return out.flat();
  }

  /** One band (in box coordinates), split in two and encoded again while its image is too large. */
  private async encodeBand(request: LossyRequest, box: Rect, pixels: Uint8Array, band: Rect, depth: number): Promise<LossyTile[]> {
    const data = await encodeRgb(request.codec, bandPixels(pixels, box.width, band), band.width, band.height, { quality: request.quality });
    if (data.byteLength <= this.maxData) {
      return [{ x: box.x + band.x, y: box.y + band.y, width: band.width, height: band.height, codec: request.codec, data }];
    }
    if (depth >= MAX_SPLITS || (band.width === 1 && band.height === 1)) {
      throw new Error(`a ${band.width}x${band.height} ${request.codec} image takes ${data.byteLength} bytes, more than ${this.maxData}`);
    }
    this.counters.resplits++;
    const halves: Rect[] =
      band.height > 1
        ? [
            { ...band, height: band.height >> 1 },
            { ...band, y: band.y + (band.height >> 1), height: band.height - (band.height >> 1) },
          ]
        : [
            { ...band, width: band.width >> 1 },
            { ...band, x: band.x + (band.width >> 1), width: band.width - (band.width >> 1) },
          ];
    const parts = await Promise.all(halves.map((h) => this.encodeBand(request, box, pixels, h, depth + 1)));
    return parts.flat();
  }
}

/** The R, G, B pixels of `band` of a packed box `width` pixels wide: a view for whole rows, else a copy. */
function bandPixels(pixels: Uint8Array, width: number, band: Rect): Uint8Array {
  if (band.x === 0 && band.width === width) return pixels.subarray(band.y * width * 3, (band.y + band.height) * width * 3);
  const out = new Uint8Array(band.width * band.height * 3);
  for (let y = 0; y < band.height; y++) {
    const from = ((band.y + y) * width + band.x) * 3;
    out.set(pixels.subarray(from, from + band.width * 3), y * band.width * 3);
  }
  return out;
}

/**
 * Whether content can go lossy: the codecs carry no alpha, so it must be opaque
 * (xrgb8888, or an opaque region over the whole surface, in surface coordinates).
 */
export function isOpaque(content: Content, opaque: readonly Rect[], size?: { width: number; height: number }): boolean {
  if (content.format === 'xrgb8888') return true;
  // The opaque region is in surface coordinates: `size` is the surface's (a viewport's destination), else the content's.
  const w = size?.width ?? content.width / content.scale;
  const h = size?.height ?? content.height / content.scale;
  return opaque.some((o) => o.x <= 0 && o.y <= 0 && o.x + o.width >= w && o.y + o.height >= h);
}

/** The damage clipped to the surface, as boxes: one bounding box when the rectangles fill most of it. */
export function boundingBoxes(damage: readonly Rect[] | null, width: number, height: number): Rect[] {
  const whole = { x: 0, y: 0, width, height };
  if (damage === null) return width > 0 && height > 0 ? [whole] : [];
  const clipped: Rect[] = [];
  for (const r of damage) {
    const x0 = Math.max(0, Math.floor(r.x));
    const y0 = Math.max(0, Math.floor(r.y));
    const x1 = Math.min(width, Math.ceil(r.x + r.width));
    const y1 = Math.min(height, Math.ceil(r.y + r.height));
    if (x1 > x0 && y1 > y0) clipped.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  if (clipped.length <= 1) return clipped;
  const box = boundingBox(clipped);
  const area = clipped.reduce((n, r) => n + r.width * r.height, 0);
  return area >= BOX_FILL * box.width * box.height ? [box] : clipped;
}

function boundingBox(rects: readonly Rect[]): Rect {
  const x0 = Math.min(...rects.map((r) => r.x));
  const y0 = Math.min(...rects.map((r) => r.y));
  const x1 = Math.max(...rects.map((r) => r.x + r.width));
  const y1 = Math.max(...rects.map((r) => r.y + r.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
