/**
 * A scene's windows as one picture, for status screenshots and thumbnails:
 * each root (toplevel or ivi surface) with its subsurfaces and popups, the
 * roots side by side from left to right (a virtual display has no window
 * positions of its own), composed over a transparent background and encoded
 * to PNG with sharp. Content pixels are little-endian ARGB/XRGB (B, G, R, A
 * in memory); buffer scale and transform are not applied (buffer pixels).
 */
import { loadSharp } from '../sharp.js';
import type { Scene, SceneSurface } from '../scene/scene.js';

/** Space between two windows in a composed picture (pixels). */
const GAP = 8;

export interface Placed {
  readonly surface: SceneSurface;
  readonly x: number;
  readonly y: number;
}

export interface Composition {
  readonly width: number;
  readonly height: number;
  /** RGBA, width * 4 bytes per row. */
  readonly rgba: Uint8Array;
}

/** `root` with its subsurfaces and popups, relative to the root's origin, bottom to top. */
export function layoutWindow(root: SceneSurface, popupsOf: (s: SceneSurface) => SceneSurface[]): Placed[] {
  const out: Placed[] = [];
  const visit = (s: SceneSurface, x: number, y: number): void => {
    for (const member of s.stack) {
      if (member === s) {
        if (s.buffer !== null) out.push({ surface: s, x, y });
      } else if (member.role?.kind === 'subsurface') {
        visit(member, x + member.role.x, y + member.role.y);
      }
    }
    for (const popup of popupsOf(s)) {
      if (popup.role?.kind !== 'popup') continue;
      const g = popup.role.geometry ?? null;
      visit(popup, x + popup.role.rect.x - (g?.x ?? 0), y + popup.role.rect.y - (g?.y ?? 0));
    }
  };
  visit(root, 0, 0);
  return out;
}

/** Lay out `roots` side by side (or the scene's mapped roots) and compose them; null when nothing is drawn. */
export function composeScene(scene: Scene, roots: readonly SceneSurface[] = scene.roots()): Composition | null {
  const popups = new Map<SceneSurface, SceneSurface[]>();
  for (const s of scene.surfaces) {
    if (s.role?.kind !== 'popup' || s.buffer === null) continue;
    const list = popups.get(s.role.parent) ?? [];
    list.push(s);
    popups.set(s.role.parent, list);
  }
  const popupsOf = (s: SceneSurface): SceneSurface[] => popups.get(s) ?? [];
  const placed: Placed[] = [];
  let left = 0;
  let height = 0;
  for (const root of roots) {
    if (!root.mapped) continue;
    const parts = layoutWindow(root, popupsOf);
    if (parts.length === 0) continue;
    const minX = Math.min(...parts.map((p) => p.x));
    const minY = Math.min(...parts.map((p) => p.y));
    let right = 0;
    for (const p of parts) {
      const c = p.surface.content!;
      placed.push({ surface: p.surface, x: left + p.x - minX, y: p.y - minY });
      right = Math.max(right, p.x - minX + c.width);
      height = Math.max(height, p.y - minY + c.height);
    }
    left += right + GAP;
  }
  const width = left - GAP;
  if (placed.length === 0 || width <= 0 || height <= 0) return null;
  const rgba = new Uint8Array(width * height * 4);
  for (const p of placed) blend(rgba, width, height, p);
  return { width, height, rgba };
}

/** Draw one surface's content at (x, y) over `rgba` (source-over for ARGB, copy for XRGB). */
function blend(rgba: Uint8Array, width: number, height: number, p: Placed): void {
  const c = p.surface.content!;
  const opaque = c.format === 'xrgb8888';
  for (let row = 0; row < c.height; row++) {
    const ty = p.y + row;
    if (ty < 0 || ty >= height) continue;
    for (let col = 0; col < c.width; col++) {
      const tx = p.x + col;
      if (tx < 0 || tx >= width) continue;
      const s = (row * c.width + col) * 4;
      const d = (ty * width + tx) * 4;
      const b = c.pixels[s]!;
      const g = c.pixels[s + 1]!;
      const r = c.pixels[s + 2]!;
      const a = opaque ? 255 : c.pixels[s + 3]!;
      if (a === 255) {
        rgba[d] = r;
        rgba[d + 1] = g;
        rgba[d + 2] = b;
        rgba[d + 3] = 255;
      } else if (a > 0) {
        // Premultiplied source (wl_shm ARGB is premultiplied) over the destination.
        const k = 255 - a;
        rgba[d] = Math.min(255, r + Math.round((rgba[d]! * k) / 255));
        rgba[d + 1] = Math.min(255, g + Math.round((rgba[d + 1]! * k) / 255));
        rgba[d + 2] = Math.min(255, b + Math.round((rgba[d + 2]! * k) / 255));
        rgba[d + 3] = Math.min(255, a + Math.round((rgba[d + 3]! * k) / 255));
      }
    }
  }
}

export interface PngOptions {
  /** Fit into this box (keeping the aspect ratio), for thumbnails. */
  readonly maxWidth?: number;
  readonly maxHeight?: number;
}

/** A composition as PNG; an empty scene gives a 1x1 transparent PNG. */
export async function compositionToPng(c: Composition | null, options: PngOptions = {}): Promise<Buffer> {
  const pic = c ?? { width: 1, height: 1, rgba: new Uint8Array(4) };
  const sharp = await loadSharp();
  let img = sharp(Buffer.from(pic.rgba.buffer, pic.rgba.byteOffset, pic.rgba.byteLength), {
    raw: { width: pic.width, height: pic.height, channels: 4 },
  });
  if (options.maxWidth !== undefined || options.maxHeight !== undefined) {
    img = img.resize({ width: options.maxWidth, height: options.maxHeight, fit: 'inside', withoutEnlargement: true });
  }
  return img.png({ compressionLevel: 3 }).toBuffer();
}
