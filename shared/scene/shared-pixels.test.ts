/**
 * SharedPixels owns its memfd: dispose() closes it at once (no garbage
 * collector involved), once only; descriptors do not pile up over cycles.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharedPixels } from './shared-pixels.js';

/** Descriptors open in this process now. */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('SharedPixels', () => {
  it('closes its memfd on dispose, at once and once: 200 create/dispose cycles leave no descriptor behind', () => {
    const before = openFds();
    const kept: SharedPixels[] = [];
    for (let i = 0; i < 200; i++) {
      const s = SharedPixels.allocate(64 * 64 * 4);
      s.pixels.fill(i & 0xff);
      kept.push(s); // still reachable: only dispose() can close them
      expect(openFds()).toBe(before + 1);
      s.dispose();
      s.dispose();
      expect(s.disposed).toBe(true);
      expect(s.fd).toBe(-1);
    }
    expect(openFds()).toBe(before);
    expect(kept).toHaveLength(200);
  });

  it('hands out its fd while live, and tells its listeners once when disposed', () => {
    const s = SharedPixels.allocate(4096);
    expect(readdirSync('/proc/self/fd').map(Number)).toContain(s.fd);
    let disposed = 0;
    s.onDispose(() => disposed++);
    s.dispose({ discard: true });
    s.dispose();
    expect(disposed).toBe(1);
  });
});
