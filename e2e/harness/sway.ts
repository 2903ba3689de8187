/**
 * sway 1.7 headless for end-to-end tests, as ../shared/test-recipes.md
 * (recipe 3) prescribes: sway refuses to run as root, so it runs as the
 * unprivileged user `wltest` (created when missing, and then removed by
 * `stop()`), with its own runtime directory; root clients reach it through
 * the absolute socket path (root ignores the directory's 0700).
 *
 *   const s = await startSway({ width: 800, height: 600, config: ['default_border normal'] });
 *   // clients: env s.env; s.tree() is `swaymsg -t get_tree` parsed
 *   await s.stop();
 *
 * Its seat has no devices (WLR_LIBINPUT_NO_DEVICES=1): capabilities 0.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runSync, spawnProcess, waitFor, which, type ManagedProcess } from './process.js';

export const SWAY_USER = 'wltest';

export interface SwayOptions {
  readonly width?: number;
  readonly height?: number;
  /** More lines for sway's config. */
  readonly config?: readonly string[];
}

export interface SwayNode {
  readonly type: string;
  readonly app_id?: string | null;
  readonly name?: string | null;
  readonly border?: string;
  /** The view inhibits idle now (an idle inhibitor on a visible surface). */
  readonly inhibit_idle?: boolean;
  readonly rect?: { x: number; y: number; width: number; height: number };
  readonly nodes?: SwayNode[];
  readonly floating_nodes?: SwayNode[];
}

export interface Sway {
  readonly process: ManagedProcess;
  /** For root clients (the receiver): the absolute socket path and sway's IPC socket. */
  readonly env: Readonly<Record<string, string>>;
  tree(): Promise<SwayNode>;
  /** Every view (a node with an app_id or a name and no children) of the tree. */
  views(): Promise<SwayNode[]>;
  log(): string;
  stop(): Promise<void>;
}

/** Why sway cannot run here (printed by the skipping test), or null. */
export function swayUnavailable(): string | null {
  if (which('sway') === null || which('swaymsg') === null) return 'sway or swaymsg is not installed';
  if (process.getuid?.() !== 0) return 'sway runs as an unprivileged user, which needs root to switch to';
  return null;
}

export async function startSway(options: SwayOptions = {}): Promise<Sway> {
  let created = false;
  if (runSync('id', ['-u', SWAY_USER]).status !== 0) {
    // Another test may create it at the same moment: then it is that test's to remove.
    created = runSync('useradd', ['-m', '-s', '/bin/bash', SWAY_USER]).status === 0;
    if (!created && runSync('id', ['-u', SWAY_USER]).status !== 0) throw new Error(`cannot create the user ${SWAY_USER} that sway runs as`);
  }
  const uid = Number(runSync('id', ['-u', SWAY_USER]).stdout.trim());
  const gid = Number(runSync('id', ['-g', SWAY_USER]).stdout.trim());
  const dir = mkdtempSync(join(tmpdir(), 'wb-sway-'));
  chmodSync(dir, 0o755);
  const runtime = join(dir, 'rt');
  const conf = join(dir, 'sway.conf');
  writeFileSync(
    conf,
    [
      'xwayland disable',
      `output HEADLESS-1 resolution ${options.width ?? 800}x${options.height ?? 600} position 0 0 bg #204060 solid_color`,
      'focus_follows_mouse no',
      'font monospace 10',
      ...(options.config ?? []),
      `exec sh -c 'echo "$WAYLAND_DISPLAY $SWAYSOCK" > "$XDG_RUNTIME_DIR/sway-ready"'`,
      '',
    ].join('\n'),
  );
  chmodSync(conf, 0o644);
  await run('install', ['-d', '-m', '0700', '-o', SWAY_USER, '-g', SWAY_USER, runtime]);
  const proc = spawnProcess(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--init-groups',
      'env',
      '-i',
      `HOME=/home/${SWAY_USER}`,
      `USER=${SWAY_USER}`,
      'LANG=C.UTF-8',
      'PATH=/usr/bin:/bin',
      `XDG_RUNTIME_DIR=${runtime}`,
      'WLR_BACKENDS=headless',
      'WLR_RENDERER=pixman',
      'WLR_LIBINPUT_NO_DEVICES=1',
      'WLR_HEADLESS_OUTPUTS=1',
      'sway',
      '-c',
      conf,
    ],
    { name: 'sway', lineBuffered: false, cwd: '/tmp' },
  );
  const ready = join(runtime, 'sway-ready');
  const cleanup = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    if (created) runSync('userdel', ['-r', SWAY_USER]);
  };
  try {
    await waitFor('sway ready', () => {
      if (!proc.running) throw new Error(`sway exited\n${proc.tail()}`);
      return existsSync(ready) && readFileSync(ready, 'utf8').trim() !== '';
    }, 15_000, 50);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const [display, ipc] = readFileSync(ready, 'utf8').trim().split(/\s+/);
  const env = { WAYLAND_DISPLAY: join(runtime, display!), SWAYSOCK: ipc!, XDG_RUNTIME_DIR: runtime };
  const tree = async (): Promise<SwayNode> => JSON.parse(await run('swaymsg', ['-t', 'get_tree', '-r'], { env })) as SwayNode;
  const views = async (): Promise<SwayNode[]> => {
    const out: SwayNode[] = [];
    const walk = (n: SwayNode): void => {
      const children = [...(n.nodes ?? []), ...(n.floating_nodes ?? [])];
      if (children.length === 0 && (n.type === 'con' || n.type === 'floating_con') && (n.app_id != null || n.name != null)) out.push(n);
      children.forEach(walk);
    };
    walk(await tree());
    return out;
  };
  return { process: proc, env, tree, views, log: () => proc.output(), stop: cleanup };
}
