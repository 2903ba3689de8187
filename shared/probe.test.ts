import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProbeTable } from './probe.js';
import { closeFd, recvMsgInto, sendMsg, socketPair, MAX_FDS } from './native.js';
import { waitFor } from './test/helpers.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('ProbeTable', () => {
  it('gives each kind its count, mean and quartiles, and starts over', () => {
    const t = new ProbeTable();
    for (const us of [40, 10, 30, 20]) t.add('wayland wake', us);
    t.add('waltham write', 7);
    expect(t.take()).toEqual({
      'wayland wake': { n: 4, mean: 25, p25: 20, p50: 30, p75: 40 },
      'waltham write': { n: 1, mean: 7, p25: 7, p50: 7, p75: 7 },
    });
    expect(t.take()).toEqual({});
  });
});

/** A Wayland-style wake-up through fd-watch: a byte written to a watched socket, read by its handler. */
async function wakeOnce(): Promise<{ takeProbes: () => Record<string, { n: number }> }> {
  const probe = await import('./probe.js');
  const { READABLE, unwatchFd, watchFd } = await import('./wayland/fd-watch.js');
  const [a, b] = socketPair();
  let woken = 0;
  const buf = new Uint8Array(16);
  const fds = new Int32Array(MAX_FDS);
  watchFd(a, READABLE, () => {
    recvMsgInto(a, buf, 0, fds);
    woken++;
  }, true);
  try {
    sendMsg(b, Uint8Array.of(1), []);
    await waitFor(() => woken === 1, 5000, 'the wake-up');
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    unwatchFd(a);
    closeFd(a);
    closeFd(b);
  }
  return probe;
}

describe('WALTHAM_PROBE', () => {
  it('times wake-ups of the loop when set', async () => {
    vi.stubEnv('WALTHAM_PROBE', '1');
    vi.resetModules();
    const probe = await wakeOnce();
    const figures = probe.takeProbes();
    expect(figures['wayland wake']?.n).toBe(1);
  });

  it('records nothing when not set', async () => {
    vi.stubEnv('WALTHAM_PROBE', '');
    vi.resetModules();
    const probe = await wakeOnce();
    expect(probe.takeProbes()).toEqual({});
  });
});
