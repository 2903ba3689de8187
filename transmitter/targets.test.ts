import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressOf, parseReceiverAddress, readPersisted } from './targets.js';

describe('receiver address of a control request', () => {
  it('takes HOST[:PORT] with the default port 34400 and bracketed IPv6', () => {
    expect(parseReceiverAddress('ivi-head')).toEqual({ host: 'ivi-head', port: 34400 });
    expect(parseReceiverAddress('10.0.0.2:35000')).toEqual({ host: '10.0.0.2', port: 35000 });
    expect(parseReceiverAddress('[fd00::1]:9')).toEqual({ host: 'fd00::1', port: 9 });
    expect(addressOf({ host: 'fd00::1', port: 9 })).toBe('[fd00::1]:9');
  });

  it('refuses anything else', () => {
    for (const bad of [undefined, 3, '', 'a b', 'host:0', 'host:99999', 'host:12:3', 'x;rm -rf /', 'http://h']) {
      expect(() => parseReceiverAddress(bad), JSON.stringify(bad)).toThrow(/HOST\[:PORT\]|out of range/);
    }
  });
});

describe('persisted receivers', () => {
  it('reads WALTHAM_TO from the state file: absent means "not set", empty means "none"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-targets-'));
    try {
      const file = join(dir, 'transmitter.env');
      expect(readPersisted(file)).toBeUndefined();
      expect(readPersisted(null)).toBeUndefined();
      writeFileSync(file, '# comment\nOTHER=1\n');
      expect(readPersisted(file)).toBeUndefined();
      writeFileSync(file, 'WALTHAM_TO=\n');
      expect(readPersisted(file)).toEqual([]);
      writeFileSync(file, 'WALTHAM_TO="head:35000,cluster"\n');
      expect(readPersisted(file)).toEqual([
        { name: 'to-1', host: 'head', port: 35000, mode: null, appIds: [], iviIds: [] },
        { name: 'to-2', host: 'cluster', port: 34400, mode: null, appIds: [], iviIds: [] },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
