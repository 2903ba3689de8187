/**
 * What the parts of the virtual display share: the Wayland server, the scene
 * they produce, the one seat, the output, the clipboard and the frame clock.
 * Each interface family (compositor.ts, xdg-shell.ts, seat.ts...) reaches the
 * others through this object rather than through imports of each other's
 * state, so the files stay independent.
 */
import type { Logger } from '../../shared/log.js';
import type { Scene } from '../../shared/scene/scene.js';
import type { WaylandServer, WaylandServerClient } from '../../shared/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { FrameClock } from './frame-clock.js';
import type { OutputGlobal } from './output.js';
import type { Seat } from './seat.js';
import type { Clipboard } from './data-device.js';

/** The remote output the virtual display stands for. */
export interface OutputInfo {
  /** Connector-like name (xdg_output.name), e.g. "HDMI-A-1". */
  readonly name: string;
  /** Mode in pixels. */
  readonly width: number;
  readonly height: number;
  /** Refresh rate in mHz (60 Hz = 60000). */
  readonly refreshMHz: number;
  readonly physicalWidthMm: number;
  readonly physicalHeightMm: number;
  /** Integer output scale (wl_output.scale). */
  readonly scale: number;
  readonly make: string;
  readonly model: string;
}

export interface DisplayContext {
  readonly server: WaylandServer;
  readonly logger: Logger;
  readonly scene: Scene;
  readonly seat: Seat;
  readonly output: OutputGlobal;
  readonly clipboard: Clipboard;
  readonly frames: FrameClock;
  /** ivi ids in use (ivi_application.surface_create), display-wide. */
  readonly iviIds: Map<number, unknown>;
  /** The per-client state of a connected client. */
  clientOf(client: WaylandServerClient): ClientState;
  /** Every connected client. */
  clients(): Iterable<ClientState>;
  /** A new serial (wl_display_next_serial). */
  serial(): number;
  /** Milliseconds of the monotonic clock, as wl_callback.done and input events carry them (wraps at 2^32). */
  now(): number;
}

/** CLOCK_MONOTONIC in milliseconds, truncated to 32 bits. */
export function monotonicMs(): number {
  return Number((process.hrtime.bigint() / 1_000_000n) & 0xffffffffn);
}

/** Packs 32-bit values into a Wayland array argument (host order, little-endian). */
export function u32Array(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}
