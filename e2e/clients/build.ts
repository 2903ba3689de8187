/**
 * Builds the small C clients of this folder for a test run: wayland-scanner
 * on the protocol XML files they use (from protocol/wayland/, or a subset
 * written for a client, beside it), then gcc against libwayland-client.
 * Needs `wayland-scanner`, `gcc` and `pkg-config`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const protocols = join(here, '..', '..', 'protocol', 'wayland');

export interface BuiltClient {
  /** The executable. */
  readonly path: string;
  /** Remove the build directory. */
  remove(): void;
}

/**
 * Build `e2e/clients/<name>.c` with the client code of `xml` (file names in
 * protocol/wayland/, without `.xml`; headers are `<xml>-client-protocol.h`).
 */
export function buildClient(name: string, xml: readonly string[]): BuiltClient {
  const dir = mkdtempSync(join(tmpdir(), `wb-${name}-`));
  try {
    const sources: string[] = [];
    for (const p of xml) {
      // A subset written for a test client lives beside it; the rest come from protocol/wayland/.
      const own = join(here, `${p}.xml`);
      const file = existsSync(own) ? own : join(protocols, `${p}.xml`);
      execFileSync('wayland-scanner', ['client-header', file, join(dir, `${p}-client-protocol.h`)]);
      execFileSync('wayland-scanner', ['private-code', file, join(dir, `${p}-protocol.c`)]);
      sources.push(join(dir, `${p}-protocol.c`));
    }
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'wayland-client'], { encoding: 'utf8' }).trim().split(/\s+/).filter((f) => f !== '');
    const path = join(dir, name);
    execFileSync('gcc', ['-O1', '-Wall', `-I${dir}`, '-o', path, join(here, `${name}.c`), ...sources, ...flags]);
    return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
