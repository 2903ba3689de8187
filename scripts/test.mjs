#!/usr/bin/env node
// The test command: a type check of every TypeScript file (tests included),
// the Rust unit tests (cargo test) and the TypeScript suites (vitest), then one
// line "N passed, N failed, N skipped" with the totals (a failed type check
// counts as one failure; skipped tests print their reason when they skip).
// Extra arguments go to vitest (e.g. a file filter); --no-cargo skips cargo.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const skipCargo = args.includes('--no-cargo') || args.some((a) => !a.startsWith('-'));
const vitestArgs = args.filter((a) => a !== '--no-cargo');
let passed = 0;
let failed = 0;
let skipped = 0;
let status = 0;

if (!skipCargo) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.check.json'], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    process.stdout.write('type check failed\n');
    failed += 1;
    status = 1;
  }

  const cargo = spawnSync('cargo', ['test', '--release', '--manifest-path', 'native/wayland-shim/Cargo.toml'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  process.stdout.write(cargo.stdout ?? '');
  for (const m of (cargo.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    skipped += Number(m[3]);
  }
  if (cargo.status !== 0) {
    status = 1;
    if (failed === 0) failed = 1; // the build itself failed
  }
}

const dir = mkdtempSync(join(tmpdir(), 'wb-test-'));
const report = join(dir, 'vitest.json');
const vitest = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], {
  stdio: 'inherit',
});
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  skipped += json.numPendingTests + json.numTodoTests;
  // A suite that fails to load counts as a failure even with no test inside.
  failed += json.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length;
} catch {
  failed += 1;
}
rmSync(dir, { recursive: true, force: true });
if (vitest.status !== 0) status = 1;
if (failed > 0) status = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(status);
