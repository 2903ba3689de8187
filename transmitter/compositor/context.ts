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
import type { Surface } from './compositor.js';
import type { FrameClock } from './frame-clock.js';
import type { OutputGlobal } from './output.js';
import type { Seat } from './seat.js';
import type { Selections } from './selection.js';
import type { ClientLimits } from './client-limits.js';

export interface DisplayContext {
  readonly server: WaylandServer;
  readonly logger: Logger;
  readonly scene: Scene;
  readonly seat: Seat;
  /** The first output: xdg_toplevel sizes (maximized, fullscreen) follow it. */
  readonly output: OutputGlobal;
  /** Every output, the first one included. */
  readonly outputs: readonly OutputGlobal[];
  /** The output a mapped surface is shown on (enters). */
  outputFor(surface: Surface): OutputGlobal;
  /** The clipboard and the primary selection. */
  readonly clipboard: Selections;
  readonly frames: FrameClock;
  /** Limits per application (default DEFAULT_CLIENT_LIMITS). */
  readonly limits?: ClientLimits;
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
