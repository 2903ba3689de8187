/**
 * Security settings from the command line and weston.ini.
 *
 *   [receiver]                  # or [transmitter] in the transmitter's file
 *   tls-cert=/etc/waltham/rx.pem
 *   tls-key=/etc/waltham/rx.key
 *   tls-ca=/etc/waltham/ca.pem
 *   token-file=/etc/waltham/tokens
 *   tls-server-name=ivi-head    # [transmitter] only: the name the receiver's
 *                               # certificate carries (default: the host)
 *
 *   [transmitter-identity]      # receiver, repeatable: ivi ids that belong to
 *   name=cluster-tx             # the transmitter proving this identity (its
 *   ivi-id=100-199,300          # certificate's CN, or its token's name)
 *
 * Relative paths are taken from the file's directory. Command-line options
 * win over the file, key by key.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, readIni, SectionReader, type IniSection } from '../config/ini.js';
import { parseIviIds, type IviIdRange } from '../config/transmitter.js';
import { readTlsFiles, type TlsCredentials } from './tls.js';
import { readTokens, type Token } from './token.js';
import type { SecurityValues } from './options.js';

export interface SecuritySettings {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly tlsServerName?: string;
  readonly tokenFile?: string;
}

/** The security keys of `[section]` (`receiver` or `transmitter`). */
export function securitySettings(sections: readonly IniSection[], file: string, section: 'receiver' | 'transmitter'): SecuritySettings {
  const out: { -readonly [K in keyof SecuritySettings]: string } = {};
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(dirname(file), p));
  for (const s of sections) {
    if (s.name !== section) continue;
    const r = new SectionReader(s, file);
    const v = (key: string): string | undefined => {
      const value = r.string(key);
      return value === undefined || value === '' ? undefined : value;
    };
    const cert = v('tls-cert');
    const key = v('tls-key');
    const ca = v('tls-ca');
    const token = v('token-file');
    const name = section === 'transmitter' ? v('tls-server-name') : undefined;
    if (cert !== undefined) out.tlsCert = path(cert);
    if (key !== undefined) out.tlsKey = path(key);
    if (ca !== undefined) out.tlsCa = path(ca);
    if (token !== undefined) out.tokenFile = path(token);
    if (name !== undefined) out.tlsServerName = name;
  }
  return out;
}

/** Who owns which ivi ids, from [transmitter-identity] sections. */
export interface IviOwnership {
  readonly owners: readonly { readonly name: string; readonly ranges: readonly IviIdRange[] }[];
}

export function iviOwnership(sections: readonly IniSection[], file: string): IviOwnership {
  const owners: { name: string; ranges: IviIdRange[] }[] = [];
  for (const s of sections) {
    if (s.name !== 'transmitter-identity') continue;
    const r = new SectionReader(s, file);
    const name = r.required('name');
    const text = r.required('ivi-id');
    const ranges = parseIviIds(text);
    if (ranges === null) throw new ConfigError(file, r.lineOf('ivi-id'), `[transmitter-identity] ivi-id=${text} is not a list of ids and ranges (100,200-299)`);
    for (const range of ranges) {
      const other = owners.find((o) => o.name !== name && o.ranges.some((x) => x.first <= range.last && range.first <= x.last));
      if (other !== undefined) throw new ConfigError(file, r.lineOf('ivi-id'), `[transmitter-identity] ivi-id=${text}: some of these ids already belong to ${other.name}`);
    }
    const existing = owners.find((o) => o.name === name);
    if (existing !== undefined) existing.ranges.push(...ranges);
    else owners.push({ name, ranges });
  }
  return { owners };
}

/** The owner of `iviId`, or null when no section names it. */
export function ownerOf(ownership: IviOwnership, iviId: number): string | null {
  for (const o of ownership.owners) if (o.ranges.some((r) => iviId >= r.first && iviId <= r.last)) return o.name;
  return null;
}

/** The credentials to use: the command line over the file; errors name the option or key. */
export function loadSecurity(values: SecurityValues, config: SecuritySettings): { tls?: TlsCredentials; tokens?: Token[] } {
  const cert = values['tls-cert'] ?? config.tlsCert;
  const key = values['tls-key'] ?? config.tlsKey;
  const ca = values['tls-ca'] ?? config.tlsCa;
  const tokenFile = values['token-file'] ?? config.tokenFile;
  const given = [cert, key, ca].filter((v) => v !== undefined).length;
  if (given > 0 && given < 3) throw new SecurityConfigError('TLS needs all three of --tls-cert, --tls-key and --tls-ca (or tls-cert=, tls-key=, tls-ca=)');
  return {
    ...(given === 3 ? { tls: readTlsFiles({ cert: cert!, key: key!, ca: ca! }, config.tlsServerName) } : {}),
    ...(tokenFile !== undefined ? { tokens: readTokens(tokenFile) } : {}),
  };
}

export class SecurityConfigError extends Error {
  readonly code = 'ERR_SECURITY_CONFIG';
}

/** Whether `host` (a listen address) is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The security settings and ivi-id owners of a weston.ini-style file (none without a file). */
export function readSecurityConfig(path: string | null, section: 'receiver' | 'transmitter'): { settings: SecuritySettings; ownership: IviOwnership } {
  if (path === null) return { settings: {}, ownership: { owners: [] } };
  const sections = readIni(path);
  return { settings: securitySettings(sections, path, section), ownership: section === 'receiver' ? iviOwnership(sections, path) : { owners: [] } };
}

/** One line saying what a peer must prove (for the start-up log). */
export function describeSecurity(s: { tls?: TlsCredentials; tokens?: readonly Token[] }): string {
  const parts = [s.tls !== undefined ? 'mutual TLS' : null, s.tokens !== undefined ? 'token' : null].filter((p) => p !== null);
  return parts.length === 0 ? 'plain TCP (no TLS, no token)' : parts.join(' + ');
}
