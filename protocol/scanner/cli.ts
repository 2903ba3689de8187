/**
 * The protocol scanner's command line.
 *
 *   tsx protocol/scanner/cli.ts --all
 *       generates shared/generated/wayland/ from protocol/wayland/*.xml and
 *       shared/generated/waltham/ from protocol/waltham.xml.
 *   tsx protocol/scanner/cli.ts --dialect wayland|waltham --out DIR FILE.xml...
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dialect } from '../../shared/wire/protocol.js';
import { generate, wireImportFrom } from './generate.js';
import { ScannerError } from './ir.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function main(argv: readonly string[]): void {
  const jobs: { dialect: Dialect; files: string[]; outDir: string }[] = [];
  if (argv.includes('--all')) {
    const wl = join(root, 'protocol/wayland');
    jobs.push({
      dialect: 'wayland',
      files: readdirSync(wl).filter((f) => f.endsWith('.xml')).sort().map((f) => join(wl, f)),
      outDir: join(root, 'shared/generated/wayland'),
    });
    jobs.push({ dialect: 'waltham', files: [join(root, 'protocol/waltham.xml')], outDir: join(root, 'shared/generated/waltham') });
  } else {
    const d = argv.indexOf('--dialect');
    const o = argv.indexOf('--out');
    const dialect = argv[d + 1];
    if (d < 0 || o < 0 || (dialect !== 'wayland' && dialect !== 'waltham')) {
      process.stderr.write('usage: cli.ts --all | --dialect wayland|waltham --out DIR FILE.xml...\n');
      process.exit(2);
    }
    const files = argv.filter((a, i) => i !== d && i !== d + 1 && i !== o && i !== o + 1).map((f) => resolve(f));
    jobs.push({ dialect, files, outDir: resolve(argv[o + 1]!) });
  }
  for (const job of jobs) {
    const written = generate({ ...job, wireImport: wireImportFrom(job.outDir, root), root });
    process.stdout.write(`scanner: ${job.dialect}: ${written.length} modules in ${relative(root, job.outDir)}\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  if (err instanceof ScannerError) {
    process.stderr.write(`scanner: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
