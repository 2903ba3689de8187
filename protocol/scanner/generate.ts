/**
 * Runs the scanner over a set of XML files of one dialect and writes one module
 * per protocol plus an index.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Dialect } from '../../shared/wire/protocol.js';
import { emitIndex, emitProtocol, moduleName } from './emit.js';
import type { IrProtocol } from './ir.js';
import { checkReferences, parseProtocol } from './parse.js';

export interface GenerateOptions {
  readonly dialect: Dialect;
  readonly files: readonly string[];
  readonly outDir: string;
  /** Import path of shared/wire as seen from outDir. */
  readonly wireImport: string;
  /** Directory that banner paths are relative to. */
  readonly root: string;
}

/** Parse and validate; returns the IR of every file. */
export function scan(dialect: Dialect, files: readonly string[], root: string): IrProtocol[] {
  const protocols = files.map((file) => parseProtocol(relative(root, file), readFileSync(file, 'utf8'), { dialect }));
  checkReferences(protocols);
  return protocols;
}

/** Returns module file name -> text, without touching the disk. */
export function render(options: GenerateOptions): Map<string, string> {
  const protocols = scan(options.dialect, options.files, options.root);
  const moduleOf = new Map<string, string>();
  for (const p of protocols) for (const i of p.interfaces) moduleOf.set(i.name, moduleName(p));
  const out = new Map<string, string>();
  for (const p of protocols) {
    out.set(`${moduleName(p)}.ts`, emitProtocol(p, { moduleOf, wireImport: options.wireImport, source: p.file }));
  }
  out.set('index.ts', emitIndex(protocols, options.dialect));
  return out;
}

export function generate(options: GenerateOptions): string[] {
  const out = render(options);
  rmSync(options.outDir, { recursive: true, force: true });
  mkdirSync(options.outDir, { recursive: true });
  for (const [name, text] of out) writeFileSync(join(options.outDir, name), text);
  return [...out.keys()].map((n) => join(options.outDir, basename(n)));
}
