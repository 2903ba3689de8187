import { describe, expect, it } from 'vitest';
import { ConfigError, parseIni, SectionReader } from './ini.js';

describe('parseIni', () => {
  it('keeps repeated sections in order, each with its own keys', () => {
    const sections = parseIni(`# outputs
[core]
shell=ivi-shell.so

[transmitter-output]
name=left
host = 10.0.0.2
[transmitter-output]
name=right
host=10.0.0.3
`);
    expect(sections.map((s) => s.name)).toEqual(['core', 'transmitter-output', 'transmitter-output']);
    expect(sections[1]!.entries.get('host')).toBe('10.0.0.2');
    expect(sections[2]!.entries.get('name')).toBe('right');
    expect(sections[2]!.line).toBe(8);
    expect(sections[1]!.keyLines.get('host')).toBe(7);
    expect(new SectionReader(sections[2]!, 'w.ini').lineOf('host')).toBe(10);
    expect(new SectionReader(sections[2]!, 'w.ini').lineOf('port')).toBe(8);
  });

  it('keeps = signs inside values', () => {
    expect(parseIni('[a]\nk=x=y\n')[0]!.entries.get('k')).toBe('x=y');
  });

  it('names the file and line of a key outside any section', () => {
    expect(() => parseIni('\nkey=1\n', 'w.ini')).toThrow(/w\.ini:2: key outside/);
  });

  it('rejects malformed headers and lines without =', () => {
    expect(() => parseIni('[a b]\n', 'w.ini')).toThrow(ConfigError);
    expect(() => parseIni('[a]\njunk\n', 'w.ini')).toThrow(/w\.ini:2: expected key=value/);
  });
});

describe('SectionReader', () => {
  it('reads integers within bounds and reports unknown keys', () => {
    const [section] = parseIni('[x]\nport=34400\nbogus=1\n');
    const r = new SectionReader(section!, 'f.ini');
    expect(r.int('port', 1, 65535)).toBe(34400);
    expect(r.unknownKeys()).toEqual(['bogus']);
    const [bad] = parseIni('[x]\nport=70000\n');
    expect(() => new SectionReader(bad!, 'f.ini').int('port', 1, 65535)).toThrow(/port=70000/);
  });
});
