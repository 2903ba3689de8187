/**
 * Where the WalT server is: `--walt-server HOST[:PORT]`, else `$WALT_SERVER`,
 * else the WalT client's own configuration, `~/.walt/config` (YAML written by
 * walt-client: `walt: {server: HOST}`; older files have a top-level `server:`;
 * the legacy `~/.waltrc` is read too). The web API is on the server's port 80.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WalthamError } from './errors.js';
import { parseHostPort, type HostPort } from './names.js';

export const WALT_WEB_PORT = 80;

export interface WaltServerSource {
  readonly address: HostPort;
  /** Where the address came from, for error messages. */
  readonly from: string;
}

export function waltServer(option: string | undefined, env: NodeJS.ProcessEnv = process.env): WaltServerSource {
  if (option !== undefined) return { address: parseHostPort(option, WALT_WEB_PORT, '--walt-server'), from: '--walt-server' };
  const fromEnv = env['WALT_SERVER'];
  if (fromEnv !== undefined && fromEnv !== '') return { address: parseHostPort(fromEnv, WALT_WEB_PORT, 'WALT_SERVER='), from: '$WALT_SERVER' };
  const home = env['HOME'] ?? homedir();
  for (const file of [join(home, '.walt', 'config'), join(home, '.waltrc')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const server = serverInWaltConfig(text);
    if (server !== undefined) return { address: parseHostPort(server, WALT_WEB_PORT, file), from: file };
  }
  throw new WalthamError('ERR_NO_WALT_SERVER', 'no WalT server: give --walt-server HOST[:PORT], set WALT_SERVER, or configure the walt client (~/.walt/config)');
}

/**
 * The server entry of a walt-client configuration file. The file is YAML (or
 * JSON, which YAML accepts); the two keys we need sit at fixed places, so a
 * line reader does without a YAML library.
 */
export function serverInWaltConfig(text: string): string | undefined {
  const trimmed = text.replace(/^\s*#.*$/gm, '').trim();
  if (trimmed.startsWith('{')) {
    try {
      const conf = JSON.parse(trimmed) as { walt?: { server?: unknown }; server?: unknown };
      const server = conf.walt?.server ?? conf.server;
      return typeof server === 'string' ? server : undefined;
    } catch {
      return undefined;
    }
  }
  let group: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (line.trim() === '') continue;
    const m = /^(\s*)([A-Za-z_.-]+):\s*(.*?)\s*$/.exec(line);
    if (m === null) continue;
    const [, indent, key, value] = m as unknown as [string, string, string, string];
    if (indent === '') {
      group = value === '' ? key : null;
      if (key === 'server' && value !== '') return unquote(value);
    } else if (group === 'walt' && key === 'server' && value !== '') {
      return unquote(value);
    }
  }
  return undefined;
}

function unquote(value: string): string {
  return /^(['"]).*\1$/.test(value) ? value.slice(1, -1) : value;
}
