import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';
import { transmitterLimits } from './transmitter-limits.js';

describe('transmitter limits in [transmitter]', () => {
  it('reads each key in its unit (MiB for memory) and leaves the others unset', () => {
    const l = transmitterLimits(parseIni('[transmitter]\nmax-objects=2000\nmax-surfaces=12\nmax-pixel-mib=64\nmax-queued-mib=2\n[transmitter-output]\nhost=x\nmax-surfaces=99\n'), 't.ini');
    expect(l).toEqual({ maxObjects: 2000, maxSurfaces: 12, maxPixelBytes: 64 * 1024 * 1024, maxQueuedBytes: 2 * 1024 * 1024 });
    expect(transmitterLimits(parseIni('[transmitter]\ntoken-file=tokens\n'), 't.ini')).toEqual({});
  });

  it('rejects values out of range, naming the file and key', () => {
    expect(() => transmitterLimits(parseIni('[transmitter]\nmax-surfaces=0\n'), 't.ini')).toThrow(/t\.ini.*max-surfaces=0 is not an integer in 1\.\./);
    expect(() => transmitterLimits(parseIni('[transmitter]\nmax-pixel-mib=lots\n'), 't.ini')).toThrow(/max-pixel-mib=lots/);
  });
});
