/**
 * Runs the scanner over a set of XML files of one dialect and writes one module
 * per protocol plus an index.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Dialect } from '../../shared/wire/protocol.js';
import { checkNames, emitIndex, emitProtocol, moduleName } from './emit.js';
import type { IrProtocol } from './ir.js';
import { parseProtocols } from './parse.js';

export interface GenerateOptions {
  readonly dialect: Dialect;
  readonly files: readonly string[];
  readonly outDir: string;
  /** Import path of shared/wire as seen from outDir. */
  readonly wireImport: string;
  /** Directory that banner paths are relative to. */
  readonly root: string;
}

/** Import path of shared/wire (under `root`) as seen from a module in `outDir`. */
export function wireImportFrom(outDir: string, root: string): string {
  const rel = relative(outDir, join(root, 'shared/wire')).split('\\').join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * Parse and validate the files of one dialect, in order (Waltham opcodes run
 * on from one file to the next); returns the IR of every file.
 */
export function scan(dialect: Dialect, files: readonly string[], root: string): IrProtocol[] {
  const protocols = parseProtocols(
    dialect,
    files.map((file) => ({ file: relative(root, file), xml: readFileSync(file, 'utf8') })),
  );
  checkNames(protocols);
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
  out.set('index.ts', emitIndex(protocols, options.dialect, options.wireImport));
  return out;
}

export function generate(options: GenerateOptions): string[] {
  const out = render(options);
  rmSync(options.outDir, { recursive: true, force: true });
  mkdirSync(options.outDir, { recursive: true });
  for (const [name, text] of out) writeFileSync(join(options.outDir, name), text);
  return [...out.keys()].map((n) => join(options.outDir, basename(n)));
}
