/**
 * Receiver configuration from a weston.ini-style file:
 *
 *   [receiver]
 *   listen=0.0.0.0:34400     # address to bind (default 0.0.0.0:34400)
 *   shell=ivi                # xdg (default), ivi or fullscreen
 *   output=HDMI-A-1          # for shell=fullscreen: the output to fill
 *   ivi-id-base=10000        # ivi ids for app_ids without a mapping: base + n
 *   max-connections=64       # and the other limits: see limits.ts
 *
 *   [ivi-surface]            # repeatable: app_id -> ivi-id for shell=ivi
 *   app-id=navigation
 *   ivi-id=100
 *
 *   [ivi-surface]            # an ivi surface of the transmitter's display keeps its
 *   remote-ivi-id=705        # ivi id unless a section like this gives it another
 *   ivi-id=105
 */
import { ConfigError, readIni, SectionReader, type IniSection } from './ini.js';
import { DEFAULT_PORT, parseHostPort } from './transmitter.js';
import { readLimitSettings, type ReceiverLimitSettings } from './limits.js';

export type ShellMode = 'xdg' | 'ivi' | 'fullscreen';

export interface ReceiverConfig {
  readonly host: string;
  readonly port: number;
  readonly shell: ShellMode;
  readonly output: string | null;
  readonly iviIds: ReadonlyMap<string, number>;
  /** Remote ivi id -> local ivi id, for ivi surfaces whose id changes on the way. */
  readonly remoteIviIds: ReadonlyMap<number, number>;
  readonly iviIdBase: number;
  /** Limits set in [receiver] (limits.ts); the others keep their defaults. */
  readonly limits: ReceiverLimitSettings;
}

export const DEFAULT_RECEIVER: ReceiverConfig = {
  host: '0.0.0.0',
  port: DEFAULT_PORT,
  shell: 'xdg',
  output: null,
  iviIds: new Map(),
  remoteIviIds: new Map(),
  iviIdBase: 10000,
  limits: {},
};

export function receiverConfig(sections: readonly IniSection[], file: string): ReceiverConfig {
  let config: ReceiverConfig = DEFAULT_RECEIVER;
  const iviIds = new Map<string, number>();
  const remoteIviIds = new Map<number, number>();
  for (const section of sections) {
    const r = new SectionReader(section, file);
    if (section.name === 'receiver') {
      const listen = r.string('listen');
      let addr = { host: config.host, port: config.port };
      if (listen !== undefined) {
        try {
          addr = parseHostPort(listen);
        } catch (err) {
          throw new ConfigError(file, section.line, `[receiver] listen=${listen}: ${(err as Error).message}`);
        }
      }
      const shell = r.string('shell') ?? 'xdg';
      if (shell !== 'xdg' && shell !== 'ivi' && shell !== 'fullscreen') {
        throw new ConfigError(file, section.line, `[receiver] shell=${shell} is not xdg, ivi or fullscreen`);
      }
      config = { ...config, ...addr, shell, output: r.string('output') ?? null, iviIdBase: r.int('ivi-id-base', 1, 0xffffffff) ?? config.iviIdBase, limits: readLimitSettings(r) };
    } else if (section.name === 'ivi-surface') {
      const appId = r.string('app-id');
      const remote = r.int('remote-ivi-id', 1, 0xffffffff);
      if ((appId === undefined || appId === '') === (remote === undefined)) throw new ConfigError(file, section.line, '[ivi-surface] needs app-id= or remote-ivi-id=');
      const id = r.int('ivi-id', 1, 0xffffffff);
      if (id === undefined) throw new ConfigError(file, section.line, '[ivi-surface] needs ivi-id=');
      if (remote !== undefined) remoteIviIds.set(remote, id);
      else iviIds.set(appId!, id);
    }
  }
  return { ...config, iviIds, remoteIviIds };
}

export function readReceiverConfig(path: string): ReceiverConfig {
  return receiverConfig(readIni(path), path);
}
