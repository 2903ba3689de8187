/**
 * Content into wl_shm: the damaged part of a scene surface's pixels copied
 * into a free buffer of the surface's ShmBufferSet (a new set when the size or
 * format changed), attached with its damage. The caller commits.
 */
import type { Content } from '../scene/scene.js';
import type { WlShmProxy, WlSurfaceProxy } from '../generated/wayland/index.js';
import { ShmBufferSet } from './buffers.js';
import type { Damage } from './damage.js';

/** Where content goes: a local surface and its buffers. */
export interface ShmTarget {
  readonly wl: WlSurfaceProxy;
  buffers: ShmBufferSet | null;
}

/**
 * Copy `content` within `damage` (buffer pixels of the current content;
 * made full when a new buffer set is needed) into a free buffer of `target`
 * and attach it with the damage; `damage` is cleared then. Returns the bytes
 * copied, or null when no buffer is free (`onRelease` is called when one is).
 */
export function attachContent(shm: WlShmProxy, target: ShmTarget, content: Content, damage: Damage, onRelease: () => void): number | null {
  const wl = target.wl;
  let set = target.buffers;
  if (set === null || set.width !== content.width || set.height !== content.height || set.format !== content.format) {
    set?.destroy();
    set = new ShmBufferSet(shm, content.width, content.height, content.format, onRelease);
    target.buffers = set;
    damage.reset(content.width, content.height);
    damage.addFull();
  }
  set.addDamage(damage.rects);
  const buffer = set.acquire(content.pixels);
  if (buffer === null) return null;
  wl.attach(buffer.wl, 0, 0);
  if (wl.version >= 4) {
    for (const r of damage.rects) wl.damageBuffer(r.x, r.y, r.width, r.height);
  } else {
    wl.damage(0, 0, 0x7fffffff, 0x7fffffff);
  }
  damage.clear();
  return buffer.copied;
}
