/**
 * The test clients in `e2e/clients/` (small C programs for one protocol
 * each), built on demand with the client code wayland-scanner makes from
 * the project's own protocol files (protocol/wayland).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const clients = join(here, '..', 'clients');
const protocols = join(here, '..', '..', 'protocol', 'wayland');

/** Builds `clients/NAME.c` into `dir` with the client code of `xmls` (protocol/wayland files); returns the binary. */
export function buildClient(dir: string, name: string, xmls: readonly string[]): string {
  const sources: string[] = [];
  for (const xml of xmls) {
    const base = xml.replace(/\.xml$/, '');
    execFileSync('wayland-scanner', ['client-header', join(protocols, xml), join(dir, `${base}-client-protocol.h`)]);
    execFileSync('wayland-scanner', ['private-code', join(protocols, xml), join(dir, `${base}-protocol.c`)]);
    sources.push(join(dir, `${base}-protocol.c`));
  }
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'wayland-client'], { encoding: 'utf8' }).trim().split(/\s+/).filter((f) => f !== '');
  const out = join(dir, name);
  execFileSync('gcc', ['-O1', `-I${dir}`, '-o', out, join(clients, `${name}.c`), ...sources, ...flags]);
  return out;
}
