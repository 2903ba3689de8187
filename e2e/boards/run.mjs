#!/usr/bin/env node
// `npm run test:boards`: the board suite (e2e/boards/boards.test.ts).
//   npm run test:boards                         virtual boards (network namespaces, qemu)
//   npm run test:boards -- --walt-server HOST --nodes NODE1,NODE2 [--token TOKEN] [--build] [--receiver-host IP]
//                                               real-board mode: the image goes on two WalT nodes
//                                               (waltham image [build and] deploy, walt node reboot)
//                                               and the same scenarios run against them
// Other arguments go to vitest. --print-env prints what would be run, and runs nothing.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VALUED = { '--walt-server': 'WALTHAM_BOARDS_WALT_SERVER', '--nodes': 'WALTHAM_BOARDS_NODES', '--token': 'WALTHAM_BOARDS_TOKEN', '--receiver-host': 'WALTHAM_BOARDS_RECEIVER_HOST' };
const env = {};
const vitest = ['run', 'e2e/boards/boards.test.ts'];
let print = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
  if (name in VALUED) {
    const value = inline ?? args[++i];
    if (value === undefined || value === '') {
      process.stderr.write(`test:boards: ${name} needs a value\n`);
      process.exit(2);
    }
    env[VALUED[name]] = value;
  } else if (a === '--build') env.WALTHAM_BOARDS_BUILD = '1';
  else if (a === '--print-env') print = true;
  else vitest.push(a);
}
if ((env.WALTHAM_BOARDS_NODES !== undefined) !== (env.WALTHAM_BOARDS_WALT_SERVER !== undefined)) {
  process.stderr.write('test:boards: --walt-server and --nodes go together\n');
  process.exit(2);
}
if (print) {
  process.stdout.write(`${JSON.stringify({ env, vitest })}\n`);
  process.exit(0);
}
const r = spawnSync('npx', ['vitest', ...vitest], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
process.exit(r.status ?? 1);
