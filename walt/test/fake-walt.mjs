#!/usr/bin/env node
// A stand-in for the `walt` command (walt-client), for tests only: it is NOT
// WalT's client. It keeps state in the JSON file $FAKE_WALT_STATE (the calls
// it got, the images built, which image each node boots, the reboots and the
// commands run on nodes) and answers the few subcommands `waltham image` and
// the board suite's real-board mode run, as walt does:
//   walt image build --from-dir DIR NAME     (DIR must hold a Dockerfile or ContainerFile)
//   walt node boot NODE[,NODE...] IMAGE
//   walt node reboot NODE[,NODE...]
//   walt node run NODE COMMAND               (nothing runs: the command is recorded)
//   walt node cp NODE:PATH DIR               (the node's files are the state's "files": {"NODE:PATH": TEXT})
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const file = process.env.FAKE_WALT_STATE;
if (!file) {
  process.stderr.write('fake walt: FAKE_WALT_STATE is not set\n');
  process.exit(1);
}
const state = { calls: [], images: [], boots: {}, reboots: [], runs: [], ...(existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) };
const args = process.argv.slice(2);
state.calls.push(args);
let code = 0;
if (args[0] === 'image' && args[1] === 'build' && args[2] === '--from-dir' && args.length === 5) {
  const [, , , dir, name] = args;
  if (!['Dockerfile', 'ContainerFile'].some((f) => existsSync(join(dir, f)))) {
    process.stderr.write(`Could not find a Dockerfile in ${dir}\n`);
    code = 1;
  } else {
    state.images.push(name);
    process.stdout.write(`Image ${name} was built successfully.\n`);
  }
} else if (args[0] === 'node' && args[1] === 'boot' && args.length === 4) {
  const [, , nodes, image] = args;
  if (!state.images.includes(image)) {
    process.stderr.write(`No such image '${image}'.\n`);
    code = 1;
  } else {
    for (const n of nodes.split(',')) state.boots[n] = image;
    process.stdout.write(`Node(s) ${nodes} will now boot ${image}.\n`);
  }
} else if (args[0] === 'node' && args[1] === 'reboot' && args.length === 3) {
  for (const n of args[2].split(',')) state.reboots.push(n);
  process.stdout.write(`Node(s) ${args[2]} will reboot.\n`);
} else if (args[0] === 'node' && args[1] === 'run' && args.length === 4) {
  state.runs.push([args[2], args[3]]);
} else if (args[0] === 'node' && args[1] === 'cp' && args.length === 4 && args[2].includes(':')) {
  const text = state.files?.[args[2]];
  if (text === undefined) {
    process.stderr.write(`${args[2]}: No such file or directory\n`);
    code = 1;
  } else writeFileSync(join(args[3], basename(args[2].slice(args[2].indexOf(':') + 1))), text);
} else {
  process.stderr.write(`fake walt: unsupported: walt ${args.join(' ')}\n`);
  code = 2;
}
writeFileSync(file, JSON.stringify(state));
process.exit(code);
