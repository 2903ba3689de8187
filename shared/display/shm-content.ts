/**
 * Content into wl_shm, attached with its damage; the caller commits. Content
 * whose pixels are shared memory (SharedPixels: the receiver decodes into
 * such buffers) is attached as it is, without a copy. Other content has its
 * damaged part copied into a free buffer of the surface's ShmBufferSet (a new
 * set when the size or format changed).
 */
import type { Content } from '../scene/scene.js';
import type { WlBufferProxy, WlShmProxy, WlSurfaceProxy } from '../generated/wayland/index.js';
import type { SharedBuffers } from './shared-buffers.js';
import { ShmBufferSet } from './buffers.js';
import type { Damage } from './damage.js';

/** Where content goes: a local surface and its buffers. */
export interface ShmTarget {
  readonly wl: WlSurfaceProxy;
  buffers: ShmBufferSet | null;
  /** Size of the content last attached. */
  contentSize: { width: number; height: number } | null;
}

/**
 * Copy `content` within `damage` (buffer pixels of the current content;
 * made full when a new buffer set is needed) into a free buffer of `target`
 * and attach it with the damage; `damage` is cleared then. Returns the bytes
 * copied, or null when no buffer is free (`onRelease` is called when one is).
 */
export function attachContent(
  shm: WlShmProxy,
  shared: SharedBuffers,
  target: ShmTarget,
  content: Content,
  damage: Damage,
  onRelease: () => void,
): number | null {
  const wl = target.wl;
  const size = target.contentSize;
  if (size === null || size.width !== content.width || size.height !== content.height) {
    damage.reset(content.width, content.height);
    damage.addFull();
    target.contentSize = { width: content.width, height: content.height };
  }
  const direct =
    content.shared !== undefined && content.shared.pixels === content.pixels
      ? shared.attachable(content.shared, content.width, content.height, content.format)
      : null;
  let copied = 0;
  let attach: WlBufferProxy;
  if (direct !== null) {
    target.buffers?.destroy();
    target.buffers = null;
    attach = direct;
  } else {
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
    copied = buffer.copied;
    attach = buffer.wl;
  }
  wl.attach(attach, 0, 0);
  if (wl.version >= 4) {
    for (const r of damage.rects) wl.damageBuffer(r.x, r.y, r.width, r.height);
  } else {
    wl.damage(0, 0, 0x7fffffff, 0x7fffffff);
  }
  damage.clear();
  return copied;
}
