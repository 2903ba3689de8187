#!/usr/bin/env node
// Bundles the `waltham` command into dist/waltham/: the entry (waltham.js) with
// what every run needs, and one bundle per category (categories/NAME.js) that
// the entry loads only when that category is asked for. CommonJS (the folder
// has its own package.json saying so): Node loads a CommonJS file in less time
// than an ES module, and few files to find and read is most of a fast start.
//   node scripts/bundle-waltham.mjs [OUTDIR]
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ?? join(root, 'dist', 'waltham');
const categories = join(root, 'walt', 'cli', 'categories');

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Nothing from node_modules belongs in the CLI's start; what a category needs stays external.
  packages: 'external',
  // import.meta.url in the sources, as CommonJS knows it.
  define: { 'import.meta.url': '__waltham_module_url' },
  banner: { js: "const __waltham_module_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
await build({
  ...common,
  entryPoints: [join(root, 'walt', 'cli', 'main.ts')],
  outfile: join(outdir, 'waltham.js'),
  plugins: [
    {
      // The categories stay separate files, loaded by the entry on demand.
      name: 'categories-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/categories\/[a-z]+\.js$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});
await build({
  ...common,
  entryPoints: readdirSync(categories)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(categories, f)),
  outdir: join(outdir, 'categories'),
});
// The sources say `await import('./categories/NAME.js')` (they are ES modules); in the CommonJS
// entry that becomes a plain require, so loading a category does not start the ES module loader.
const entry = join(outdir, 'waltham.js');
const code = readFileSync(entry, 'utf8');
const lazy = /\(await import\("(\.\/categories\/[a-z]+\.js)"\)\)/g;
const found = code.match(lazy)?.length ?? 0;
const expected = readdirSync(join(outdir, 'categories')).length;
if (found !== expected) throw new Error(`bundle-waltham: ${found} category imports in the entry, expected ${expected}`);
writeFileSync(entry, code.replace(lazy, 'require("$1")'));
chmodSync(entry, 0o755);
