import { describe, expect, it } from 'vitest';
import { nextPresentation } from './presentation.js';

describe('nextPresentation', () => {
  const last = { timeNs: 100_000_000_500n, refreshNs: 16_000_000, seq: 7n, flags: 3 };

  it('is the last presentation while it is not past', () => {
    expect(nextPresentation(last, last.timeNs - 1n)).toEqual(last);
    expect(nextPresentation(last, last.timeNs)).toEqual(last);
  });

  it('moves on by whole refreshes to the first one not past, the sequence with it', () => {
    expect(nextPresentation(last, last.timeNs + 1n)).toEqual({ ...last, timeNs: last.timeNs + 16_000_000n, seq: 8n });
    expect(nextPresentation(last, last.timeNs + 40_000_000n)).toEqual({ ...last, timeNs: last.timeNs + 48_000_000n, seq: 10n });
  });

  it('keeps the last presentation when the refresh is unknown, and a sequence of 0 (none) at 0', () => {
    expect(nextPresentation({ ...last, refreshNs: 0 }, last.timeNs + 40_000_000n)).toEqual({ ...last, refreshNs: 0 });
    expect(nextPresentation({ ...last, seq: 0n }, last.timeNs + 1n).seq).toBe(0n);
  });
});
