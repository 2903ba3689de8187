/**
 * Transmitter configuration from a weston.ini-style file: one
 * [transmitter-output] section per remote output, as in AGL's
 * waltham-transmitter plugin. The sending compositor's own weston.ini can be
 * read unchanged: both generations of the plugin's keys are accepted, and the
 * sections and keys that belong to weston ([core] modules=transmitter.so,
 * [ivi-shell], [output]...) are left alone.
 *
 *   [transmitter-output]
 *   name=cluster            # output name, shown in logs and status (2019: output-name=)
 *   host=192.168.10.2       # the receiver (2019: server-address=)
 *   port=34400              # default 34400
 *   mode=1920x720@60        # the remote output's mode (2019: width= and height=;
 *                           # default: what the receiver reports)
 *   app-id=navigation       # surfaces routed here by app_id, comma-separated;
 *                           # agl-shell-app-id is accepted too
 *   ivi-id=100,200-299      # ivi surfaces routed here by ivi id: ids and ranges
 *
 * Where a section holds both generations of a key, the newer one wins (and a
 * log line says so). Unknown keys in [transmitter-output] are warnings naming
 * the file and line. A surface listed by a section (its app_id, or its ivi id
 * for ivi_application surfaces) goes to that output; a surface that no section
 * lists goes to the outputs that list nothing (the default outputs), or, when
 * every output lists something, stays local (shown on --display).
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
  /** With `iviIds` empty too: a default output, receives every surface not routed elsewhere. */
  readonly appIds: readonly string[];
  /** ivi ids (ivi_application surfaces) routed here. */
  readonly iviIds: readonly IviIdRange[];
}

/** ivi ids `first..last`, inclusive. */
export interface IviIdRange {
  readonly first: number;
  readonly last: number;
}

/** Where the configuration reader reports what it did not take as written. */
export interface ConfigLog {
  info(message: string): void;
  warn(message: string): void;
}

/** An output of the command line (--to) or of a control request: everything goes there. */
export function plainOutput(name: string, addr: { host: string; port: number }): RemoteOutputConfig {
  return { name, host: addr.host, port: addr.port, mode: null, appIds: [], iviIds: [] };
}

/** `100`, `100-199`, `1,5,10-20`: null when malformed or out of 1..2^32-1. */
export function parseIviIds(text: string): IviIdRange[] | null {
  const ranges: IviIdRange[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (m === null) return null;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first < 1 || last > 0xffffffff || last < first) return null;
    ranges.push({ first, last });
  }
  return ranges;
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

/**
 * [transmitter-output] keys: today's (name, host, port, mode, app-id, agl-shell-app-id, ivi-id),
 * AGL's 2019 plugin's, and those read but not used.
 */
const OLD_KEYS = { name: 'output-name', host: 'server-address' } as const;
/** The remoting plugin's GStreamer pipeline: surfaces travel as tiles here, so it has no use. */
const UNUSED_KEYS = ['gst-pipeline'] as const;

export function transmitterOutputs(sections: readonly IniSection[], file: string, log?: ConfigLog): RemoteOutputConfig[] {
  const outputs: RemoteOutputConfig[] = [];
  for (const section of sections) {
    if (section.name !== 'transmitter-output') continue;
    const r = new SectionReader(section, file);
    const at = (key: string): string => `${file}:${r.lineOf(key)}`;
    /** The newer key's value, else the older one's; a line when both are there. */
    const either = (key: keyof typeof OLD_KEYS): string | undefined => {
      const newer = r.string(key);
      const older = r.string(OLD_KEYS[key]);
      if (newer !== undefined && older !== undefined && newer !== older) {
        log?.info(`${at(key)}: [transmitter-output] has ${key}=${newer} and ${OLD_KEYS[key]}=${older}; ${key}= wins`);
      }
      return newer ?? older;
    };
    const name = either('name') ?? `transmitter-${outputs.length + 1}`;
    const host = either('host');
    if (host === undefined || host === '') throw new ConfigError(file, section.line, '[transmitter-output] needs host= (or server-address=)');
    const port = r.int('port', 1, 65535) ?? DEFAULT_PORT;
    const modeText = r.string('mode');
    let mode = modeText === undefined ? null : parseMode(modeText);
    if (modeText !== undefined && mode === null) throw new ConfigError(file, r.lineOf('mode'), `[transmitter-output] mode=${modeText} is not WIDTHxHEIGHT[@HZ]`);
    const width = r.int('width', 1, 16384);
    const height = r.int('height', 1, 16384);
    if ((width === undefined) !== (height === undefined)) {
      throw new ConfigError(file, r.lineOf(width === undefined ? 'height' : 'width'), '[transmitter-output] width= and height= go together');
    }
    if (width !== undefined && height !== undefined) {
      if (mode === null) mode = { width, height, refreshHz: 60 };
      else log?.info(`${at('mode')}: [transmitter-output] has mode=${modeText} and width=${width} height=${height}; mode= wins`);
    }
    const ids = [r.string('app-id'), r.string('agl-shell-app-id')]
      .filter((v): v is string => v !== undefined)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    const iviText = r.string('ivi-id');
    const iviIds = iviText === undefined ? [] : parseIviIds(iviText);
    if (iviIds === null) throw new ConfigError(file, r.lineOf('ivi-id'), `[transmitter-output] ivi-id=${iviText} is not a list of ids and ranges (100,200-299)`);
    for (const key of UNUSED_KEYS) {
      if (r.string(key) !== undefined) log?.info(`${at(key)}: [transmitter-output] ${key}= is not used (surfaces travel as tiles)`);
    }
    for (const key of r.unknownKeys()) log?.warn(`${at(key)}: unknown key ${key}= in [transmitter-output] (ignored)`);
    if (outputs.some((o) => o.name === name)) throw new ConfigError(file, section.line, `two [transmitter-output] sections are named ${name}`);
    outputs.push({ name, host, port, mode, appIds: ids, iviIds });
  }
  return outputs;
}

/**
 * The name each output has on the virtual display, as AGL's weston names a
 * transmitter output: `transmitter-HOST:PORT-N`, N counting the outputs that
 * go to the same receiver from 1.
 */
export function waylandOutputNames(outputs: readonly { host: string; port: number }[]): string[] {
  const seen = new Map<string, number>();
  return outputs.map((o) => {
    const key = `${o.host}:${o.port}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return `transmitter-${key}-${n}`;
  });
}

export function readTransmitterConfig(path: string, log?: ConfigLog): RemoteOutputConfig[] {
  return transmitterOutputs(readIni(path), path, log);
}

/**
 * The weston.ini weston itself reads (libweston's config-parser, in this
 * order): $XDG_CONFIG_HOME/weston.ini, ~/.config/weston.ini, then
 * weston/weston.ini in each of $XDG_CONFIG_DIRS (default /etc/xdg, so
 * /etc/xdg/weston/weston.ini); null when none exists.
 */
export function westonConfigPath(env: NodeJS.ProcessEnv, exists: (path: string) => boolean): string | null {
  const home = env['HOME'];
  const configHome = env['XDG_CONFIG_HOME'];
  const dirs = (env['XDG_CONFIG_DIRS'] || '/etc/xdg').split(':').filter((d) => d !== '');
  const candidates = [
    ...(configHome ? [`${configHome}/weston.ini`] : []),
    ...(home ? [`${home}/.config/weston.ini`] : []),
    ...dirs.map((d) => `${d}/weston/weston.ini`),
  ];
  return candidates.find((c) => exists(c)) ?? null;
}

/**
 * The outputs a root surface goes to: those that list its app_id or (for an
 * ivi_application surface) its ivi id; otherwise the default outputs (that
 * list neither); otherwise none (local only).
 */
export function routeSurface(outputs: readonly RemoteOutputConfig[], surface: { appId: string; iviId: number | null }): RemoteOutputConfig[] {
  const { appId, iviId } = surface;
  const listed = outputs.filter(
    (o) => (appId !== '' && o.appIds.includes(appId)) || (iviId !== null && o.iviIds.some((r) => iviId >= r.first && iviId <= r.last)),
  );
  if (listed.length > 0) return listed;
  return outputs.filter((o) => o.appIds.length === 0 && o.iviIds.length === 0);
}

/** routeSurface for a toplevel with this app_id. */
export function routeAppId(outputs: readonly RemoteOutputConfig[], appId: string): RemoteOutputConfig[] {
  return routeSurface(outputs, { appId, iviId: null });
}
