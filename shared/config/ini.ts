/**
 * weston.ini-style files. Unlike generic INI parsers, sections may repeat
 * (several [transmitter-output] sections are the normal case), so the file is
 * a list of sections in order, each with its own keys.
 *
 * Syntax, as weston's config-parser accepts it: `[section]` headers, `key=value`
 * lines (whitespace around the key and the value is ignored), `#` comments on
 * their own line, blank lines. A key outside any section, a malformed header or
 * a line without `=` is an error naming the file and line.
 */
import { readFileSync } from 'node:fs';

export interface IniSection {
  readonly name: string;
  readonly line: number;
  readonly entries: ReadonlyMap<string, string>;
  /** The line of each key (the last one when a key repeats). */
  readonly keyLines: ReadonlyMap<string, number>;
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function parseIni(text: string, file = '<config>'): IniSection[] {
  const sections: { name: string; line: number; entries: Map<string, string>; keyLines: Map<string, number> }[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const m = /^\[([^\]\s]+)\]$/.exec(line);
      if (m === null) throw new ConfigError(file, lineNo, `malformed section header: ${line}`);
      sections.push({ name: m[1]!, line: lineNo, entries: new Map(), keyLines: new Map() });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ConfigError(file, lineNo, `expected key=value, got: ${line}`);
    const current = sections[sections.length - 1];
    if (current === undefined) throw new ConfigError(file, lineNo, `key outside of any section: ${line}`);
    const key = line.slice(0, eq).trim();
    current.entries.set(key, line.slice(eq + 1).trim());
    current.keyLines.set(key, lineNo);
  }
  return sections;
}

export function readIni(path: string): IniSection[] {
  return parseIni(readFileSync(path, 'utf8'), path);
}

/** Typed access to one section's keys, with errors naming the file and line. */
export class SectionReader {
  private readonly used = new Set<string>();

  constructor(
    readonly section: IniSection,
    readonly file: string,
  ) {}

  string(key: string): string | undefined {
    this.used.add(key);
    return this.section.entries.get(key);
  }

  /** The line of `key`, else the section's header line. */
  lineOf(key: string): number {
    return this.section.keyLines.get(key) ?? this.section.line;
  }

  required(key: string): string {
    const v = this.string(key);
    if (v === undefined || v === '') throw new ConfigError(this.file, this.section.line, `[${this.section.name}] needs ${key}=`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(this.file, this.section.line, `[${this.section.name}] ${key}=${v} is not an integer in ${min}..${max}`);
    }
    return n;
  }

  /** Keys present in the section that no accessor asked for. */
  unknownKeys(): string[] {
    return [...this.section.entries.keys()].filter((k) => !this.used.has(k));
  }
}
