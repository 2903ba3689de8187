/**
 * Limits per application on the virtual display: one application cannot take
 * the transmitter (and every other application) down by creating objects,
 * surfaces or pixel buffers without end, or by not reading. Past one, that
 * application gets wl_display.error no_memory naming the limit and is
 * disconnected; the others go on. Each is a key of [transmitter] in
 * weston.ini (shared/config/transmitter-limits.ts); the defaults are sized for
 * a board with 1 GiB.
 */
import { WlDisplayError } from '../../shared/generated/wayland/index.js';
import type { Resource } from '../../shared/wire/object.js';
import type { ClientState } from './client-state.js';
import type { Surface } from './compositor.js';

export interface ClientLimits {
  /** Live Wayland objects of one application. */
  readonly maxObjects: number;
  /** Live wl_surface objects of one application. */
  readonly maxSurfaces: number;
  /** Pixel memory of one application's committed buffers (what the transmitter copies and keeps). */
  readonly maxPixelBytes: number;
  /** Bytes queued for an application that does not read its socket. */
  readonly maxQueuedBytes: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  maxObjects: 65536,
  maxSurfaces: 1024,
  maxPixelBytes: 256 * 1024 * 1024,
  maxQueuedBytes: 4 * 1024 * 1024,
};

/** Whether `client` may create one more surface; else it is given the error (and dropped). */
export function admitSurface(limits: ClientLimits, client: ClientState, on: Resource): boolean {
  if (client.surfaces.size < limits.maxSurfaces) return true;
  on.postError(WlDisplayError.NoMemory, `limit max-surfaces: more than ${limits.maxSurfaces} surfaces`);
  return false;
}

/**
 * Whether `surface`'s application may keep a `width` x `height` buffer on it
 * besides what its other surfaces keep; else it is given the error.
 */
export function admitPixels(limits: ClientLimits, surface: Surface, width: number, height: number, on: Resource): boolean {
  let bytes = width * height * 4;
  for (const s of surface.client.surfaces) {
    const c = s === surface ? null : s.scene.content;
    if (c !== null) bytes += c.width * c.height * 4;
  }
  if (bytes <= limits.maxPixelBytes) return true;
  on.postError(WlDisplayError.NoMemory, `limit max-pixel-mib: a ${width}x${height} buffer brings the application's pixels to ${bytes} bytes (limit ${limits.maxPixelBytes})`);
  return false;
}
