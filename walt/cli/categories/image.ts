/**
 * `waltham image build|deploy`: the transmitter image, through the `walt`
 * command (a child process; `$WALT_COMMAND` names another one). Reads go
 * through WalT's web API; the walt client does what changes the platform.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, WalthamError } from '../../client/errors.js';
import { checkImageName, checkNodeSet } from '../../client/names.js';
import { findNode } from '../../client/transmitters.js';
import type { Category, Invocation, Subcommand } from '../command.js';
import { platformOf } from '../platform.js';

export const ARCHES = ['rpi64', 'pc'] as const;
export type Arch = (typeof ARCHES)[number];
/** The recipe folder under walt/image/ for each image. */
const RECIPES: Record<Arch, string> = { rpi64: 'rpi64', pc: 'pc-x86-64' };
/** The file names WalT's build helper accepts. */
const RECIPE_FILES = ['Dockerfile', 'ContainerFile'];

/** The image our nodes of this WalT model boot. */
export function archOfModel(model: string): Arch {
  return model.startsWith('pc-') ? 'pc' : 'rpi64';
}

/** The package's root: the nearest folder above this module with our package.json and walt/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'walt'))) {
    const up = dirname(dir);
    if (up === dir) throw new WalthamError('ERR_WALT_COMMAND', 'cannot find the package folder (with walt/image): give --dir');
    dir = up;
  }
  return dir;
}

/** Run a command, its output passed through; resolves to its exit code. */
function run(command: string, args: readonly string[], shown: string, missing: string, inv: Invocation): Promise<number> {
  inv.err(`+ ${shown} ${args.join(' ')}\n`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', (err) => {
      const e = err as NodeJS.ErrnoException;
      reject(new WalthamError('ERR_WALT_COMMAND', e.code === 'ENOENT' ? missing : `${shown}: ${e.message}`));
    });
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal === null ? 0 : 128)));
  });
}

/** Run `walt ARGS` (`$WALT_COMMAND` names another command). */
export function runWalt(args: readonly string[], inv: Invocation): Promise<number> {
  return run(process.env['WALT_COMMAND'] ?? 'walt', args, 'walt', 'the walt command is not installed (pip install walt-client; or set WALT_COMMAND)', inv);
}

const build: Subcommand = {
  name: 'build',
  summary: 'build the transmitter image on the WalT server (walt image build)',
  args: '[--arch rpi64|pc] [--dir DIR] [NAME]',
  options: { arch: { type: 'string' }, dir: { type: 'string' } },
  optionsHelp: `  --arch rpi64|pc  which recipe (default rpi64: Raspberry Pi 3/4/5 in 64 bits; pc: PCs and virtual nodes)
  --dir DIR        a build context made already (default: walt/image/stage.sh makes one from the build)
  NAME             the image name (default waltham-tx-ARCH)
`,
  positionals: [0, 1],
  async run(inv) {
    const arch = (inv.values['arch'] as string | undefined) ?? 'rpi64';
    if (!(ARCHES as readonly string[]).includes(arch)) throw new UsageError(`--arch ${arch}: expected ${ARCHES.join(' or ')}`);
    const name = checkImageName(inv.positionals[0] ?? `waltham-tx-${arch}`);
    const given = inv.values['dir'] as string | undefined;
    let context = given === undefined ? null : resolve(given);
    let staged: string | null = null;
    if (context === null) {
      // The build context: the recipe, the provisioning script and the built package (walt/image/stage.sh).
      const stage = join(packageRoot(), 'walt', 'image', 'stage.sh');
      if (!existsSync(stage)) throw new UsageError(`${stage} is missing: give a build context with --dir DIR`);
      staged = mkdtempSync(join(tmpdir(), 'waltham-image-'));
      context = join(staged, 'context');
      const code = await run('sh', [stage, RECIPES[arch as Arch], context], 'sh', 'sh is missing', inv);
      if (code !== 0) {
        rmSync(staged, { recursive: true, force: true });
        return code;
      }
    }
    try {
      if (!RECIPE_FILES.some((f) => existsSync(join(context, f)))) throw new UsageError(`${context}: no Dockerfile or ContainerFile there`);
      return await runWalt(['image', 'build', '--from-dir', context, name], inv);
    } finally {
      if (staged !== null) rmSync(staged, { recursive: true, force: true });
    }
  },
};

const deploy: Subcommand = {
  name: 'deploy',
  summary: 'boot nodes on the transmitter image (walt node boot)',
  args: 'NODE[,NODE...] [IMAGE]',
  options: {},
  optionsHelp: '  IMAGE  the image (default waltham-tx-rpi64 for Raspberry Pi nodes, waltham-tx-pc for PCs)\n',
  positionals: [1, 2],
  async run(inv) {
    const names = checkNodeSet(inv.positionals[0]!);
    const image = inv.positionals[1] === undefined ? undefined : checkImageName(inv.positionals[1]);
    if (image !== undefined) return runWalt(['node', 'boot', names.join(','), image], inv);
    if (names.includes('all-nodes') || names.includes('my-nodes')) throw new UsageError(`${names[0]}: give the IMAGE too`);
    // One `walt node boot` per image: Raspberry Pi nodes and PCs boot different ones.
    const p = platformOf(inv);
    const byImage = new Map<string, string[]>();
    for (const name of names) {
      const node = await findNode(p, name);
      const img = `waltham-tx-${archOfModel(node.model)}`;
      byImage.set(img, [...(byImage.get(img) ?? []), node.name]);
    }
    for (const [img, nodes] of byImage) {
      const code = await runWalt(['node', 'boot', nodes.join(','), img], inv);
      if (code !== 0) return code;
    }
    return 0;
  },
};

export const category: Category = {
  name: 'image',
  summary: 'The transmitter image (needs the walt command).',
  subcommands: [build, deploy],
};
