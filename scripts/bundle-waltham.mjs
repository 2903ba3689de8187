#!/usr/bin/env node
// Bundles the `waltham` command into dist/waltham/: one entry module with what
// every run needs, and one chunk per category that the entry imports only when
// that category is asked for (esbuild code splitting). Fewer files to resolve
// and read at start is most of what makes `waltham --help` fast.
//   node scripts/bundle-waltham.mjs [OUTDIR]
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ?? join(root, 'dist', 'waltham');

await build({
  entryPoints: { waltham: join(root, 'walt', 'cli', 'main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // Nothing from node_modules belongs in the CLI's start; what a category needs stays external.
  packages: 'external',
  logLevel: 'warning',
});
chmodSync(join(outdir, 'waltham.js'), 0o755);
