/**
 * wp_viewporter v1 (viewporter.xml): crop and scale of a surface's content.
 *
 * The viewport is applied here, in the pipeline: the content consumers see
 * is the source rectangle of the buffer scaled to the destination size, so
 * every display shows it at the right size whether or not its compositor has
 * wp_viewporter. The scaled content keeps the buffer scale (a HiDPI client
 * stays crisp) and has no transform; nearest-neighbour sampling.
 *
 * The crop and scale state is double-buffered with the wl_surface state
 * (`SurfaceState.viewport`); the checks that depend on the buffer
 * (out_of_buffer, bad_size) run when the state is applied, as the protocol
 * says.
 */
import type { Content, Rect } from '../../shared/scene/scene.js';
import { surfaceSize } from '../../shared/scene/scene.js';
import {
  WpViewportError,
  WpViewporterError,
  WpViewporterResource,
  WpViewportResource,
} from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';
import { surfacePointToBuffer } from './geometry.js';

/** Crop and scale state of a surface; null fields are unset. */
export interface ViewportState {
  /** Source rectangle, surface-local coordinates before the viewport (wl_fixed values). */
  readonly source: Rect | null;
  /** Destination size, surface-local. */
  readonly destination: { readonly width: number; readonly height: number } | null;
}

export const NO_VIEWPORT: ViewportState = Object.freeze({ source: null, destination: null });

const viewports = new WeakMap<Surface, WpViewportResource>();

/** The state applied last, per surface (absent: never had a viewport). */
const applied = new WeakMap<Surface, ViewportState>();

function active(v: ViewportState): boolean {
  return v.source !== null || v.destination !== null;
}

function sameViewport(a: ViewportState, b: ViewportState): boolean {
  const s = a.source;
  const t = b.source;
  const sameSource = s === null || t === null ? s === t : s.x === t.x && s.y === t.y && s.width === t.width && s.height === t.height;
  const d = a.destination;
  const e = b.destination;
  const sameDestination = d === null || e === null ? d === e : d.width === e.width && d.height === e.height;
  return sameSource && sameDestination;
}

/**
 * Checks a state about to be applied (the surface's buffer is `buffer`, null
 * when none): posts out_of_buffer or bad_size and returns false, as weston
 * does when the surface state is applied.
 */
export function checkViewport(surface: Surface, viewport: ViewportState | undefined, buffer: { width: number; height: number } | null, transform: number, scale: number): boolean {
  const v = viewport ?? applied.get(surface) ?? NO_VIEWPORT;
  const resource = viewports.get(surface);
  if (!active(v) || resource === undefined || resource.destroyed) return true;
  const src = v.source;
  if (src !== null && buffer !== null) {
    const size = surfaceSize(buffer.width, buffer.height, transform, scale);
    if (src.x + src.width > size.width || src.y + src.height > size.height) {
      resource.postError(
        WpViewportError.OutOfBuffer,
        `source rectangle ${src.width}x${src.height}@${src.x},${src.y} extends outside the ${size.width}x${size.height} surface of the buffer`,
      );
      return false;
    }
  }
  if (v.destination === null && src !== null && (!Number.isInteger(src.width) || !Number.isInteger(src.height))) {
    resource.postError(WpViewportError.BadSize, `source size ${src.width}x${src.height} is not integer and no destination size is set`);
    return false;
  }
  return true;
}

/**
 * What consumers see of the surface: `raw` (the copy of the client's
 * buffer) cropped and scaled by the viewport state applied with this commit,
 * with the damage and resize flag of that view. Without a viewport, `raw`
 * and the commit's own damage pass through.
 */
export function viewContent(
  surface: Surface,
  viewport: ViewportState | undefined,
  raw: Content | null,
  shown: Content | null,
  damage: Rect[],
  resized: boolean,
): { content: Content | null; damage: Rect[]; resized: boolean } {
  const before = applied.get(surface);
  if (viewport !== undefined && (before !== undefined || active(viewport))) applied.set(surface, viewport);
  const now = applied.get(surface) ?? NO_VIEWPORT;
  const changed = !sameViewport(before ?? NO_VIEWPORT, now);
  if (raw === null) return { content: null, damage, resized: resized || shown !== null };
  if (!active(now)) {
    if (!changed) return { content: raw, damage, resized };
    return { content: raw, damage: [{ x: 0, y: 0, width: raw.width, height: raw.height }], resized: true };
  }
  if (!changed && damage.length === 0 && !resized && shown !== null) return { content: shown, damage: [], resized: false };
  const content = scaled(raw, now, shown);
  const same = shown !== null && shown.width === content.width && shown.height === content.height && shown.format === content.format && shown.scale === content.scale && shown.transform === 0;
  return { content, damage: [{ x: 0, y: 0, width: content.width, height: content.height }], resized: !same };
}

/** `raw` cropped to the source rectangle and scaled to the destination size (in buffer pixels of its scale). */
export function scaled(raw: Content, v: ViewportState, previous: Content | null): Content {
  const surf = surfaceSize(raw.width, raw.height, raw.transform, raw.scale);
  const src = v.source ?? { x: 0, y: 0, width: surf.width, height: surf.height };
  const dst = v.destination ?? { width: Math.trunc(src.width), height: Math.trunc(src.height) };
  const scale = raw.scale;
  const width = Math.max(1, dst.width * scale);
  const height = Math.max(1, dst.height * scale);
  const reuse = previous !== null && previous.width === width && previous.height === height && previous.pixels.byteLength === width * height * 4 && previous.shared === undefined;
  const pixels = reuse ? previous.pixels : new Uint8Array(width * height * 4);
  const from = new Uint32Array(raw.pixels.buffer, raw.pixels.byteOffset, raw.width * raw.height);
  const to = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  const fx = src.width / dst.width;
  const fy = src.height / dst.height;
  const plain = raw.transform === 0;
  if (plain) {
    // Without a transform, columns and rows map independently: one lookup table per axis.
    const cols = new Int32Array(width);
    for (let ox = 0; ox < width; ox++) cols[ox] = Math.min(raw.width - 1, Math.max(0, Math.floor((src.x + ((ox + 0.5) / scale) * fx) * scale)));
    for (let oy = 0; oy < height; oy++) {
      const iy = Math.min(raw.height - 1, Math.max(0, Math.floor((src.y + ((oy + 0.5) / scale) * fy) * scale)));
      const rowIn = iy * raw.width;
      const rowOut = oy * width;
      for (let ox = 0; ox < width; ox++) to[rowOut + ox] = from[rowIn + cols[ox]!]!;
    }
    return { width, height, format: raw.format, pixels, scale, transform: 0 };
  }
  for (let oy = 0; oy < height; oy++) {
    const sy = src.y + ((oy + 0.5) / scale) * fy;
    for (let ox = 0; ox < width; ox++) {
      const sx = src.x + ((ox + 0.5) / scale) * fx;
      const [bx, by] = surfacePointToBuffer(sx, sy, surf.width, surf.height, raw.transform, scale);
      const ix = Math.min(raw.width - 1, Math.max(0, Math.floor(bx)));
      const iy = Math.min(raw.height - 1, Math.max(0, Math.floor(by)));
      to[oy * width + ox] = from[iy * raw.width + ix]!;
    }
  }
  return { width, height, format: raw.format, pixels, scale, transform: 0 };
}

export function registerViewporter(ctx: DisplayContext): void {
  ctx.server.addGlobal(WpViewporterResource, 1, (viewporter) => {
    viewporter.listen({
      destroy: () => {},
      getViewport: (id, surfaceResource) => {
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        const existing = viewports.get(surface);
        if (existing !== undefined && !existing.destroyed) {
          viewporter.postError(WpViewporterError.ViewportExists, `${surfaceResource.toString()} already has a viewport`);
          return;
        }
        viewports.set(surface, id);
        let pending: ViewportState = applied.get(surface) ?? NO_VIEWPORT;
        const set = (next: ViewportState): void => {
          pending = next;
          surface.pendingState.viewport = next;
        };
        const alive = (): boolean => {
          if (!surface.isDestroyed) return true;
          id.postError(WpViewportError.NoSurface, `the wl_surface of ${id.toString()} was destroyed`);
          return false;
        };
        id.listen({
          destroy: () => {},
          setSource: (x, y, width, height) => {
            if (!alive()) return;
            if (x === -1 && y === -1 && width === -1 && height === -1) {
              set({ ...pending, source: null });
              return;
            }
            if (x < 0 || y < 0 || width <= 0 || height <= 0) {
              id.postError(WpViewportError.BadValue, `source rectangle ${width}x${height}@${x},${y} is invalid`);
              return;
            }
            set({ ...pending, source: { x, y, width, height } });
          },
          setDestination: (width, height) => {
            if (!alive()) return;
            if (width === -1 && height === -1) {
              set({ ...pending, destination: null });
              return;
            }
            if (width <= 0 || height <= 0) {
              id.postError(WpViewportError.BadValue, `destination size ${width}x${height} is invalid`);
              return;
            }
            set({ ...pending, destination: { width, height } });
          },
        });
        id.onDestroy(() => {
          if (viewports.get(surface) === id) viewports.delete(surface);
          // The crop and scale state goes with the next commit.
          if (!surface.isDestroyed) surface.pendingState.viewport = NO_VIEWPORT;
        });
      },
    });
  });
}
