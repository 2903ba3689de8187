import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';
import { receiverConfig } from './receiver.js';

describe('receiver limits in [receiver]', () => {
  it('reads each key in its unit (MiB, Mpx, seconds) and leaves the others unset', () => {
    const c = receiverConfig(
      parseIni('[receiver]\nmax-connections=16\nmax-connections-per-address=4\nmax-pixel-mib-total=200\nmax-queued-mib=8\nwork-rate=100\nwork-burst=300\nwork-rate-total=250\nwork-burst-total=600\nhandshake-timeout=3\nidle-timeout=0\n'),
      'r.ini',
    );
    expect(c.limits).toEqual({
      maxConnections: 16,
      maxConnectionsPerAddress: 4,
      maxPixelBytesTotal: 200 * 1024 * 1024,
      maxQueuedBytes: 8 * 1024 * 1024,
      workPixelsPerSecond: 100e6,
      workBurstPixels: 300e6,
      workPixelsPerSecondTotal: 250e6,
      workBurstPixelsTotal: 600e6,
      handshakeTimeoutMs: 3000,
      idleTimeoutMs: 0,
    });
    expect(receiverConfig(parseIni('[receiver]\nshell=xdg\n'), 'r.ini').limits).toEqual({});
  });

  it('rejects values out of range, naming the key', () => {
    expect(() => receiverConfig(parseIni('[receiver]\nmax-connections=0\n'), 'r.ini')).toThrow(/max-connections=0 is not an integer in 1\.\./);
    expect(() => receiverConfig(parseIni('[receiver]\nmax-pixel-mib=lots\n'), 'r.ini')).toThrow(/max-pixel-mib=lots/);
  });
});
