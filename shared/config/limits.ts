/**
 * The receiver's limits from its [receiver] section (README, Security,
 * Limits). Sizes are in MiB, rates in Mpx, times in seconds; each key is
 * the name the receiver gives the limit when it drops a transmitter.
 *
 *   [receiver]
 *   max-connections=64
 *   max-connections-per-address=8
 *   max-objects=16384          max-objects-total=131072
 *   max-surfaces=256           max-surfaces-total=1024
 *   max-surface-width=8192     max-surface-height=8192
 *   max-pixel-mib=256          max-pixel-mib-total=384
 *   max-queued-mib=16          max-queued-mib-total=96
 *   work-rate=500              work-burst=1500
 *   work-rate-total=1000       work-burst-total=3000
 *   handshake-timeout=5        idle-timeout=30
 */
import type { SectionReader } from './ini.js';

/** Field names as the receiver's limits have them; absent: the default. */
export interface ReceiverLimitSettings {
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  maxObjects?: number;
  maxObjectsTotal?: number;
  maxSurfaces?: number;
  maxSurfacesTotal?: number;
  maxSurfaceWidth?: number;
  maxSurfaceHeight?: number;
  maxPixelBytes?: number;
  maxPixelBytesTotal?: number;
  maxQueuedBytes?: number;
  maxQueuedBytesTotal?: number;
  workPixelsPerSecond?: number;
  workBurstPixels?: number;
  workPixelsPerSecondTotal?: number;
  workBurstPixelsTotal?: number;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
}

const MiB = 1024 * 1024;

/** key, field, smallest, largest value in the file's unit, factor to the field's unit. */
const KEYS: readonly [string, keyof ReceiverLimitSettings, number, number, number][] = [
  ['max-connections', 'maxConnections', 1, 100_000, 1],
  ['max-connections-per-address', 'maxConnectionsPerAddress', 1, 100_000, 1],
  ['max-objects', 'maxObjects', 16, 1 << 24, 1],
  ['max-objects-total', 'maxObjectsTotal', 16, 1 << 26, 1],
  ['max-surfaces', 'maxSurfaces', 1, 1 << 20, 1],
  ['max-surfaces-total', 'maxSurfacesTotal', 1, 1 << 22, 1],
  ['max-surface-width', 'maxSurfaceWidth', 1, 32768, 1],
  ['max-surface-height', 'maxSurfaceHeight', 1, 32768, 1],
  ['max-pixel-mib', 'maxPixelBytes', 1, 1 << 20, MiB],
  ['max-pixel-mib-total', 'maxPixelBytesTotal', 1, 1 << 20, MiB],
  ['max-queued-mib', 'maxQueuedBytes', 1, 1 << 16, MiB],
  ['max-queued-mib-total', 'maxQueuedBytesTotal', 1, 1 << 16, MiB],
  ['work-rate', 'workPixelsPerSecond', 1, 1 << 20, 1e6],
  ['work-burst', 'workBurstPixels', 1, 1 << 20, 1e6],
  ['work-rate-total', 'workPixelsPerSecondTotal', 1, 1 << 20, 1e6],
  ['work-burst-total', 'workBurstPixelsTotal', 1, 1 << 20, 1e6],
  ['handshake-timeout', 'handshakeTimeoutMs', 0, 86_400, 1000],
  ['idle-timeout', 'idleTimeoutMs', 0, 86_400, 1000],
];

/** The limits set in a [receiver] section. */
export function readLimitSettings(r: SectionReader): ReceiverLimitSettings {
  const settings: ReceiverLimitSettings = {};
  for (const [key, field, min, max, factor] of KEYS) {
    const v = r.int(key, min, max);
    if (v !== undefined) settings[field] = v * factor;
  }
  return settings;
}
