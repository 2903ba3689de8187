/**
 * Transmitter configuration from a weston.ini-style file: one
 * [transmitter-output] section per remote output, as in AGL's
 * waltham-transmitter plugin:
 *
 *   [transmitter-output]
 *   name=cluster            # output name, shown in logs and status
 *   host=192.168.10.2       # the receiver
 *   port=34400              # default 34400
 *   mode=1920x720@60        # the remote output's mode (default: what the receiver reports)
 *   app-id=navigation       # surfaces routed here, comma-separated; agl-shell-app-id is accepted too
 *
 * A surface whose app_id is listed goes to that output; a surface that no
 * section lists goes to the outputs without app-id (the default outputs), or,
 * when every output lists app-ids, stays local (shown on --display).
 */
import { ConfigError, type IniSection, readIni, SectionReader } from './ini.js';

export const DEFAULT_PORT = 34400;

export interface Mode {
  readonly width: number;
  readonly height: number;
  readonly refreshHz: number;
}

export interface RemoteOutputConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly mode: Mode | null;
  /** Empty: a default output, receives every surface not routed elsewhere. */
  readonly appIds: readonly string[];
}

export function parseMode(text: string): Mode | null {
  const m = /^(\d+)x(\d+)(?:@(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (m === null) return null;
  const mode = { width: Number(m[1]), height: Number(m[2]), refreshHz: m[3] === undefined ? 60 : Number(m[3]) };
  if (mode.width < 1 || mode.height < 1 || mode.width > 16384 || mode.height > 16384 || mode.refreshHz <= 0) return null;
  return mode;
}

/** `HOST[:PORT]`, `[v6addr]:PORT`; the port defaults to 34400. */
export function parseHostPort(text: string, defaultPort = DEFAULT_PORT): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(text);
  const m = v6 ?? plain;
  if (m === null || m[1] === '') throw new Error(`"${text}" is not HOST[:PORT]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`"${text}": port out of range`);
  return { host: m[1]!, port };
}

export function transmitterOutputs(sections: readonly IniSection[], file: string): RemoteOutputConfig[] {
  const outputs: RemoteOutputConfig[] = [];
  for (const section of sections) {
    if (section.name !== 'transmitter-output') continue;
    const r = new SectionReader(section, file);
    const name = r.string('name') ?? `transmitter-${outputs.length + 1}`;
    const host = r.required('host');
    const port = r.int('port', 1, 65535) ?? DEFAULT_PORT;
    const modeText = r.string('mode');
    const mode = modeText === undefined ? null : parseMode(modeText);
    if (modeText !== undefined && mode === null) throw new ConfigError(file, section.line, `[transmitter-output] mode=${modeText} is not WIDTHxHEIGHT[@HZ]`);
    const ids = [r.string('app-id'), r.string('agl-shell-app-id')]
      .filter((v): v is string => v !== undefined)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (outputs.some((o) => o.name === name)) throw new ConfigError(file, section.line, `two [transmitter-output] sections are named ${name}`);
    outputs.push({ name, host, port, mode, appIds: ids });
  }
  return outputs;
}

export function readTransmitterConfig(path: string): RemoteOutputConfig[] {
  return transmitterOutputs(readIni(path), path);
}

/**
 * The outputs a root surface with this app_id goes to: those that list it;
 * otherwise the default outputs (no app-id); otherwise none (local only).
 */
export function routeAppId(outputs: readonly RemoteOutputConfig[], appId: string): RemoteOutputConfig[] {
  const listed = outputs.filter((o) => o.appIds.includes(appId));
  if (listed.length > 0) return listed;
  return outputs.filter((o) => o.appIds.length === 0);
}
