/**
 * Real certificates for tests, made by the openssl command at test time: a
 * CA, a receiver certificate for 127.0.0.1, transmitter certificates (a good
 * one, one signed by another CA, an expired one). The same commands as the
 * README's setup.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  /** Path of a PEM file in `dir`: ca.pem, rx.pem/rx.key, tx.pem/tx.key, other-ca.pem, rogue.pem/rogue.key (signed by other-ca), rogue-rx, elsewhere-rx (names another host), expired.pem/expired.key. */
  path(name: string): string;
  remove(): void;
}

/** Why certificates cannot be made here, or null. */
export function opensslUnavailable(): string | null {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'the openssl command is not installed';
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A P-256 key and a certificate for `cn` signed by `ca` (`days` < 0: expired already). */
function issue(dir: string, name: string, cn: string, ca: string, days: number, san?: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  const ext = `${name}.ext`;
  writeFileSync(join(dir, ext), san === undefined ? 'basicConstraints=CA:FALSE\n' : `basicConstraints=CA:FALSE\nsubjectAltName=${san}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(days), '-extfile', ext]);
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'wb-certs-'));
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '30', '-subj', `/CN=${ca}`]);
  }
  issue(dir, 'rx', 'receiver', 'ca', 30, 'IP:127.0.0.1,DNS:localhost');
  issue(dir, 'tx', 'cluster-tx', 'ca', 30);
  issue(dir, 'tx2', 'rear-tx', 'ca', 30);
  issue(dir, 'rogue', 'cluster-tx', 'other-ca', 30);
  issue(dir, 'rogue-rx', 'receiver', 'other-ca', 30, 'IP:127.0.0.1');
  issue(dir, 'elsewhere-rx', 'receiver', 'ca', 30, 'DNS:ivi-rear,IP:10.0.0.3');
  issue(dir, 'expired', 'cluster-tx', 'ca', -1);
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
