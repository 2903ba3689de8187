/**
 * The board image: the WalT recipes survive WalT's build helper
 * (walt-python-packages server/sh/walt-image-build-helper), the provisioning
 * script installs what the services need and merges /etc/walt/image.spec, and
 * the start scripts pick the receiver, token and backend the way the
 * configuration says.
 *
 * WalT's helper, before `podman build`: accepts a file named `Dockerfile` or
 * `ContainerFile` only; drops lines matching `^#` (grep -v), joins lines
 * ending in a backslash by deleting backslash and newline (sed, no space
 * added), reads each line with `read cmd args` (no -r: backslashes are
 * eaten, leading blanks dropped), upper-cases the instruction and prefixes
 * the user to FROM images without a `user/` part; then `walt-image-check`
 * refuses an image without a `walt.node.models` label. The pipeline is run
 * here as the helper runs it (bash), and its output must mean what the
 * recipe means to a Dockerfile parser.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const RECIPES = [
  { model: 'rpi64', from: 'waltplatform/rpi64-debian:bookworm', models: ['rpi-4-b', 'rpi-5-b'] },
  { model: 'pc-x86-64', from: 'waltplatform/pc-x86-64-default:latest', models: ['pc-x86-64'] },
] as const;

/** The helper's rewrite (grep, sed, read loop, FROM user prefix), run by bash as WalT runs it. */
function waltRewrite(dockerfile: string, user = 'someone'): string {
  const script = `
    grep -v "^#" Dockerfile | sed -e :a -e '/\\\\$/N; s/\\\\\\n//; ta' | while read cmd args; do
      cmd="\${cmd^^}"
      if [ "$cmd" = "FROM" ]; then
        set -- $args; img="$1"
        case "$img" in */*|scratch) ;; *) img="${user}/$img" ;; esac
        echo "FROM $img"
      else
        echo "$cmd $args"
      fi
    done`;
  const dir = mkdtempSync(join(tmpdir(), 'wb-recipe-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the helper pipeline failed: ${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Instructions as a Dockerfile parser reads them: comments (any indentation) dropped, continuations joined. */
function dockerInstructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    if (raw.endsWith('\\')) {
      current += raw.slice(0, -1);
      continue;
    }
    current += raw;
    if (current.trim() !== '') out.push(current);
    current = '';
  }
  if (current.trim() !== '') out.push(current);
  return out.map(normalise);
}

/** Instruction upper-cased, blanks collapsed. */
function normalise(line: string): string {
  const words = line.trim().split(/\s+/);
  return [words[0]!.toUpperCase(), ...words.slice(1)].join(' ');
}

/** What a recipe breaks in WalT's helper (empty: nothing). */
function waltProblems(name: string, text: string): string[] {
  const problems: string[] = [];
  if (name !== 'Dockerfile' && name !== 'ContainerFile') problems.push(`WalT builds only a file named Dockerfile or ContainerFile, not ${name}`);
  const expected = dockerInstructions(text);
  const got = waltRewrite(text)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(normalise);
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    problems.push(`WalT's rewrite changes the recipe:\n  expected ${JSON.stringify(expected)}\n  got      ${JSON.stringify(got)}`);
  }
  if (expected.some((l) => /<<-?\s*['"]?[A-Za-z_]/.test(l))) problems.push('a heredoc: WalT reads the recipe line by line');
  const labels = expected.filter((l) => l.startsWith('LABEL ')).join(' ');
  const models = /walt\.node\.models=("?)([a-z0-9,-]+)\1/.exec(labels)?.[2];
  if (models === undefined || models.split(',').some((m) => m === '')) problems.push('no LABEL walt.node.models=<models>: walt-image-check refuses the image');
  const from = expected.find((l) => l.startsWith('FROM '));
  if (from === undefined) problems.push('no FROM');
  else if (!from.split(' ')[1]!.includes('/')) problems.push(`FROM ${from.split(' ')[1]} has no user part: WalT prefixes the building user's name`);
  return problems;
}

describe('WalT recipe rules', () => {
  for (const r of RECIPES) {
    it(`${r.model}/Dockerfile builds unchanged through WalT's helper, FROM ${r.from}, for ${r.models.join(', ')}`, () => {
      const text = readFileSync(join(here, r.model, 'Dockerfile'), 'utf8');
      expect(waltProblems('Dockerfile', text)).toEqual([]);
      const instructions = dockerInstructions(text);
      expect(instructions[0]).toBe(`FROM ${r.from}`);
      const models = /walt\.node\.models=([a-z0-9,-]+)/.exec(instructions.join('\n'))![1]!.split(',');
      for (const m of r.models) expect(models).toContain(m);
      // The one provisioning script does the work.
      expect(instructions.some((l) => l.startsWith('RUN ') && l.includes('provision.sh'))).toBe(true);
    });
  }

  it('catches what the helper breaks', () => {
    const ok = 'FROM waltplatform/x:latest\nLABEL walt.node.models=pc-x86-64\nRUN true\n';
    expect(waltProblems('Dockerfile', ok)).toEqual([]);
    expect(waltProblems('Containerfile', ok)).toEqual([expect.stringMatching(/Dockerfile or ContainerFile/)]);
    expect(waltProblems('Dockerfile', 'FROM waltplatform/x\nRUN true\n')).toEqual([expect.stringMatching(/walt.node.models/)]);
    expect(waltProblems('Dockerfile', ok.replace('waltplatform/x', 'x'))).toEqual(expect.arrayContaining([expect.stringMatching(/user part/)]));
    // An indented comment inside a RUN, a backslash in a string, a heredoc.
    expect(waltProblems('Dockerfile', `${ok}RUN a && \\\n  # why\n  b\n`)).toEqual([expect.stringMatching(/rewrite changes/)]);
    expect(waltProblems('Dockerfile', `${ok}RUN printf 'a\\tb'\n`)).toEqual([expect.stringMatching(/rewrite changes/)]);
    expect(waltProblems('Dockerfile', `${ok}RUN <<EOF\necho hi\nEOF\n`)).toEqual(expect.arrayContaining([expect.stringMatching(/heredoc/)]));
  });
});

describe('provisioning and start scripts', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'wb-board-root-'));
    dirs.push(d);
    return d;
  };

  it('provision.sh installs the services, start scripts and configuration, and merges the base image.spec', () => {
    const root = temp();
    mkdirSync(join(root, 'etc/walt'), { recursive: true });
    writeFileSync(join(root, 'etc/walt/image.spec'), JSON.stringify({ templates: ['/etc/ntp.conf'], features: { ptp: 'true' } }));
    const r = spawnSync('sh', [join(here, 'provision.sh'), here, '--root', root, '--no-package'], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const spec = JSON.parse(readFileSync(join(root, 'etc/walt/image.spec'), 'utf8'));
    expect(spec).toEqual({ templates: ['/etc/ntp.conf', '/etc/waltham/walt-server.env'], features: { ptp: 'true' } });
    for (const unit of ['waltham-weston.service', 'waltham-transmitter.service']) {
      expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants', unit))).toBe(`/etc/systemd/system/${unit}`);
    }
    const tx = readFileSync(join(root, 'etc/systemd/system/waltham-transmitter.service'), 'utf8');
    expect(tx).toMatch(/^ExecStart=\/usr\/local\/lib\/waltham\/transmitter-start$/m);
    expect(existsSync(join(root, 'usr/local/lib/waltham/weston-start'))).toBe(true);
    expect(readFileSync(join(root, 'etc/waltham/walt-server.env'), 'utf8')).toContain('%(server_ip)s');
  });

  /** Run a start script with a stub command that prints its arguments; returns them. */
  function startArgs(script: string, env: Record<string, string>, stub: string): string[] {
    const bin = temp();
    writeFileSync(join(bin, stub), '#!/bin/sh\nfor a in "$@"; do echo "ARG $a"; done\n');
    chmodSync(join(bin, stub), 0o755);
    // seatd-launch, where the host has it, runs the stub too.
    writeFileSync(join(bin, 'seatd-launch'), '#!/bin/sh\n[ "$1" = -- ] && shift\nexec "$@"\n');
    chmodSync(join(bin, 'seatd-launch'), 0o755);
    const r = spawnSync('sh', [join(here, 'rootfs/usr/local/lib/waltham', script)], {
      env: { PATH: `${bin}:${process.env['PATH'] ?? ''}`, XDG_RUNTIME_DIR: join(bin, 'rt'), ...env },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('ARG '))
      .map((l) => l.slice(4));
  }

  it('transmitter-start: the receiver from the kernel command line, the node file, the image default or the WalT server, in that order; a token per node', () => {
    const board = temp();
    const etc = join(board, 'etc');
    mkdirSync(join(etc, 'nodes'), { recursive: true });
    writeFileSync(join(etc, 'walt-server.env'), 'WALT_SERVER_IP=192.168.152.1\n');
    writeFileSync(join(etc, 'transmitter.env'), 'WALTHAM_TO=\nWALTHAM_STATUS=:34401\nWALTHAM_APP="weston-simple-shm"\nWALTHAM_OPTIONS=--codec lz4\n');
    const cmdline = join(board, 'cmdline');
    writeFileSync(cmdline, 'console=ttyS0 quiet\n');
    const env = { WALTHAM_ETC: etc, WALTHAM_PERSIST: join(board, 'persist'), WALTHAM_CMDLINE: cmdline, WALTHAM_NODE_NAME: 'rpi-a', WALTHAM_TRANSMITTER: 'tx-stub' };
    mkdirSync(join(board, 'persist'));
    const valueOf = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

    let args = startArgs('transmitter-start', env, 'tx-stub');
    expect(valueOf(args, '--to')).toBe('192.168.152.1:34400');
    expect(valueOf(args, '--display')).toBe('wayland-0');
    expect(valueOf(args, '--status')).toBe(':34401');
    expect(valueOf(args, '--state-file')).toBe(join(board, 'persist/waltham/transmitter.env'));
    expect(args.slice(args.indexOf('--codec'), args.indexOf('--codec') + 2)).toEqual(['--codec', 'lz4']);
    expect(args.slice(args.indexOf('--'))).toEqual(['--', 'weston-simple-shm']);
    const tokenFile = valueOf(args, '--status-token-file')!;
    expect(readFileSync(tokenFile, 'utf8')).toMatch(/^[0-9a-f]{32}\n$/);
    const token = readFileSync(tokenFile, 'utf8');

    writeFileSync(join(etc, 'transmitter.env'), 'WALTHAM_TO=cluster:34400\n');
    expect(valueOf(startArgs('transmitter-start', env, 'tx-stub'), '--to')).toBe('cluster:34400');
    writeFileSync(join(etc, 'nodes/rpi-a.env'), 'WALTHAM_TO=head-unit:35000\n');
    expect(valueOf(startArgs('transmitter-start', env, 'tx-stub'), '--to')).toBe('head-unit:35000');
    writeFileSync(cmdline, 'console=ttyS0 waltham.to=10.77.0.1:34400 quiet\n');
    args = startArgs('transmitter-start', env, 'tx-stub');
    expect(valueOf(args, '--to')).toBe('10.77.0.1:34400');
    // The token stays the same from one start to the next.
    expect(readFileSync(valueOf(args, '--status-token-file')!, 'utf8')).toBe(token);

    // An image not mounted by a WalT server: the template is not filled in, so no default receiver.
    writeFileSync(join(etc, 'walt-server.env'), 'WALT_SERVER_IP=%(server_ip)s\n');
    rmSync(join(etc, 'nodes/rpi-a.env'));
    writeFileSync(join(etc, 'transmitter.env'), 'WALTHAM_TO=\n');
    writeFileSync(cmdline, '\n');
    expect(startArgs('transmitter-start', env, 'tx-stub')).not.toContain('--to');
  });

  it('weston-start: DRM when the board has a display card, else headless with pixman', () => {
    const board = temp();
    const card = join(board, 'card0');
    const env = { WALTHAM_ETC: join(here, 'rootfs/etc/waltham'), WALTHAM_DRM_CARD: card };
    const headless = startArgs('weston-start', env, 'weston');
    expect(headless).toEqual(expect.arrayContaining(['--backend=headless-backend.so', '--use-pixman', '--socket=wayland-0']));
    writeFileSync(card, '');
    const drm = startArgs('weston-start', env, 'weston');
    expect(drm).toContain('--backend=drm-backend.so');
    expect(drm).not.toContain('--backend=headless-backend.so');
  });
});
