import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIni } from '../config/ini.js';
import { describeSecurity, isLoopback, loadSecurity, securitySettings } from './config.js';

describe('security settings', () => {
  it('reads tls-*= and token-file= of its own section, relative to the file; tls-server-name only for the transmitter', () => {
    const ini = parseIni('[receiver]\ntls-cert=rx.pem\ntls-key=/keys/rx.key\ntls-ca=ca.pem\ntoken-file=tokens\n[transmitter]\ntls-cert=tx.pem\ntls-server-name=ivi-head\n');
    expect(securitySettings(ini, '/etc/waltham/weston.ini', 'receiver')).toEqual({
      tlsCert: '/etc/waltham/rx.pem',
      tlsKey: '/keys/rx.key',
      tlsCa: '/etc/waltham/ca.pem',
      tokenFile: '/etc/waltham/tokens',
    });
    expect(securitySettings(ini, '/etc/waltham/weston.ini', 'transmitter')).toEqual({ tlsCert: '/etc/waltham/tx.pem', tlsServerName: 'ivi-head' });
  });

  it('needs all three TLS files, lets the command line win, and names missing files', () => {
    expect(() => loadSecurity({ 'tls-cert': 'a.pem' }, {})).toThrow(/TLS needs all three of --tls-cert, --tls-key and --tls-ca/);
    expect(() => loadSecurity({ 'tls-cert': '/nonexistent/a.pem', 'tls-key': 'k', 'tls-ca': 'c' }, {})).toThrow(/--tls-cert \/nonexistent\/a\.pem: no such file/);
    const dir = mkdtempSync(join(tmpdir(), 'wb-secconf-'));
    try {
      writeFileSync(join(dir, 'cli'), 'from-the-command-line-0123\n');
      writeFileSync(join(dir, 'ini'), 'from-the-file-0123456789\n');
      const loaded = loadSecurity({ 'token-file': join(dir, 'cli') }, { tokenFile: join(dir, 'ini') });
      expect(loaded.tokens?.map((t) => t.secret.toString())).toEqual(['from-the-command-line-0123']);
      expect(loaded.tls).toBeUndefined();
      expect(describeSecurity(loaded)).toBe('token');
      expect(describeSecurity({})).toBe('plain TCP (no TLS, no token)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows loopback listen addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '10.0.0.2', '::'].map(isLoopback)).toEqual([false, false, false]);
  });
});
