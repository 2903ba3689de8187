/**
 * Values that come from a receiver are checked and clamped here before they
 * reach an application: a receiver is a peer on the network, and an
 * application given a 100000x100000 configure allocates (or crashes), one
 * given a 5,000-character output make is disconnected by its own
 * libwayland (4 KiB message limit).
 */
import type { OutputInfo } from '../../shared/scene/output.js';
import type { Rect } from '../../shared/scene/scene.js';

/** The largest window size a receiver may ask of an application (a 8K screen fits). */
export const MAX_CONFIGURE_SIZE = 8192;
/** The longest output make or model passed on, in characters. */
export const MAX_OUTPUT_TEXT = 64;
/** Largest output mode (pixels per side) and scale taken from a receiver. */
const MAX_OUTPUT_SIZE = 16384;
const MAX_SCALE = 16;

function clampInt(v: number, min: number, max: number): number {
  if (!Number.isFinite(v)) return min;
  return Math.min(max, Math.max(min, Math.trunc(v)));
}

/** A configure size: 0 (the application chooses) up to MAX_CONFIGURE_SIZE. */
export function configureSize(width: number, height: number): { width: number; height: number } {
  return { width: clampInt(width, 0, MAX_CONFIGURE_SIZE), height: clampInt(height, 0, MAX_CONFIGURE_SIZE) };
}

/** A popup placement: size 1..MAX_CONFIGURE_SIZE, position within the same range either way. */
export function popupRect(r: Rect): Rect {
  return {
    x: clampInt(r.x, -MAX_CONFIGURE_SIZE, MAX_CONFIGURE_SIZE),
    y: clampInt(r.y, -MAX_CONFIGURE_SIZE, MAX_CONFIGURE_SIZE),
    width: clampInt(r.width, 1, MAX_CONFIGURE_SIZE),
    height: clampInt(r.height, 1, MAX_CONFIGURE_SIZE),
  };
}

/** Printable text of at most MAX_OUTPUT_TEXT characters (control characters dropped). */
export function outputText(s: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex
  return [...(s ?? '').replace(/[\u0000-\u001f\u007f]/g, '')].slice(0, MAX_OUTPUT_TEXT).join('');
}

/** An output description with every field in its range. */
export function outputInfo(o: OutputInfo): OutputInfo {
  return {
    ...o,
    name: outputText(o.name),
    description: outputText(o.description),
    make: outputText(o.make),
    model: outputText(o.model),
    x: clampInt(o.x, -MAX_OUTPUT_SIZE, MAX_OUTPUT_SIZE),
    y: clampInt(o.y, -MAX_OUTPUT_SIZE, MAX_OUTPUT_SIZE),
    physicalWidth: clampInt(o.physicalWidth, 0, 100_000),
    physicalHeight: clampInt(o.physicalHeight, 0, 100_000),
    subpixel: clampInt(o.subpixel, 0, 5),
    transform: clampInt(o.transform, 0, 7),
    width: clampInt(o.width, 0, MAX_OUTPUT_SIZE),
    height: clampInt(o.height, 0, MAX_OUTPUT_SIZE),
    refresh: clampInt(o.refresh, 0, 1_000_000),
    scale: clampInt(o.scale, 1, MAX_SCALE),
  };
}
