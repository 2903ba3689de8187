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
  countCargo(cargo);
  // The same tests built for aarch64 (a Raspberry Pi's architecture, with its own SIMD paths) and
  // run under qemu-user, where the cross tools are installed (scripts/install-deps.sh).
  const whyNotArm = arm64Missing();
  if (whyNotArm !== null) {
    process.stdout.write(`aarch64 cargo tests skipped: ${whyNotArm}\n`);
  } else {
    // The socket module's tests need the kernel's own socket calls (SIOCOUTQ, control-message
    // truncation), which qemu-user does not pass through: they run on the host only, above.
    const arm = spawnSync(
      'cargo',
      ['test', '--release', '--target', 'aarch64-unknown-linux-gnu', '--manifest-path', 'native/wayland-shim/Cargo.toml', '--', '--skip', 'socket::'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        encoding: 'utf8',
        env: {
          ...process.env,
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: 'aarch64-linux-gnu-gcc',
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER: 'qemu-aarch64-static',
          QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu',
        },
      },
    );
    countCargo(arm);
  }
}

/** Echo a cargo test run and add its totals; a run that failed without a failed test (the build) counts as one failure. */
function countCargo(run) {
  process.stdout.write(run.stdout ?? '');
  let runFailed = 0;
  for (const m of (run.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    passed += Number(m[1]);
    runFailed += Number(m[2]);
    skipped += Number(m[3]);
  }
  if (run.status !== 0 && runFailed === 0) runFailed = 1;
  failed += runFailed;
  if (runFailed > 0) status = 1;
}

/** Why the aarch64 tests cannot run here, or null. */
function arm64Missing() {
  const missing = [];
  const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  if (!have('aarch64-linux-gnu-gcc')) missing.push('aarch64-linux-gnu-gcc');
  if (!have('qemu-aarch64-static')) missing.push('qemu-aarch64-static');
  const targets = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' });
  if (targets.status !== 0 || !(targets.stdout ?? '').split('\n').includes('aarch64-unknown-linux-gnu')) {
    missing.push('the Rust target aarch64-unknown-linux-gnu');
  }
  return missing.length === 0 ? null : `missing ${missing.join(', ')} (bash scripts/install-deps.sh)`;
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
