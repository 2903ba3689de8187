/**
 * The `waltham` command as a real process (the esbuild bundle of the current
 * sources), over real HTTP, against the test lab: the WalT server stand-in
 * serving ../shared/walt-fixtures and board stand-ins speaking
 * walt/status-contract.md (walt/test/lab.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATEGORIES } from './categories.js';
import { LAB_TOKEN, RECEIVER_IP, startLab, type Lab } from '../test/lab.js';
import { bundleCli, ROOT, runCli } from '../test/run-cli.js';
import { fixture, fixturesPresent } from '../test/walt-standin.js';
import type { WaltLogRecord } from '../client/walt-api.js';

if (!fixturesPresent) console.warn('skipping the waltham CLI tests: ../shared/walt-fixtures is missing (the WalT fixtures beside the checkout)');

describe.skipIf(!fixturesPresent)('waltham', () => {
  let lab: Lab;
  let cli: ReturnType<typeof bundleCli>;
  const run = (args: string[], env: Record<string, string | undefined> = {}) => runCli(cli.bin, args, { HOME: cli.home, WALTHAM_TOKEN: LAB_TOKEN, ...env });
  const labRun = (args: string[], env: Record<string, string | undefined> = {}) => run([...args, ...lab.args], env);
  /** The table row (split on 2+ spaces) that starts with `name`. */
  const row = (text: string, name: string): string[] | undefined =>
    text
      .split('\n')
      .map((l) => l.trim().split(/\s{2,}/))
      .find((cells) => cells[0] === name);

  beforeAll(async () => {
    cli = bundleCli();
    lab = await startLab();
  });
  afterAll(async () => {
    await lab?.close();
    cli?.cleanup();
  });

  describe('help', () => {
    it('lists every category with its one-line help', async () => {
      const r = await run(['--help']);
      expect(r.code).toBe(0);
      for (const c of CATEGORIES) expect(r.stdout).toMatch(new RegExp(`^  ${c.name}\\s+${c.summary.replace(/[()]/g, '.')}$`, 'm'));
    });

    it('lists the subcommands of a category', async () => {
      const r = await run(['node', '--help']);
      expect(r.code).toBe(0);
      for (const sub of ['show', 'connect', 'disconnect', 'screenshot']) expect(r.stdout).toMatch(new RegExp(`^  ${sub}\\s+\\S`, 'm'));
      const img = await run(['image', '--help']);
      expect(img.stdout).toMatch(/^ {2}build\s/m);
      expect(img.stdout).toMatch(/^ {2}deploy\s/m);
    });

    it('shows a subcommand\'s arguments and options', async () => {
      const r = await run(['node', 'connect', '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('usage: waltham node connect NODE --to RECEIVER[:PORT]');
      expect(r.stdout).toContain('--walt-server HOST[:PORT]');
    });

    it('refuses an unknown category or subcommand with exit 2', async () => {
      const a = await run(['nodes', 'show']);
      expect(a.code).toBe(2);
      expect(a.stderr).toContain("unknown category 'nodes'");
      const b = await run(['node', 'list']);
      expect(b.code).toBe(2);
      expect(b.stderr).toContain("unknown subcommand 'list'");
      const c = await run(['node', 'show', '--bogus']);
      expect(c.code).toBe(2);
      expect(c.stderr).toContain('--bogus');
    });
  });

  describe('node show', () => {
    it('joins the WalT nodes running our image with their transmitters', async () => {
      const r = await labRun(['node', 'show']);
      expect(r.code).toBe(0);
      const cluster = lab.cluster.status();
      expect(row(r.stdout, 'rpi-cluster')).toEqual([
        'rpi-cluster', 'rpi-4-b', 'waltham-tx-rpi64', '127.0.0.2', 'yes', 'up',
        cluster.receivers[0]!.address, String(cluster.surfaces.length), cluster.surfaces[0]!.fps.toFixed(1),
      ]);
      const vnode = lab.vnode.status();
      expect(row(r.stdout, 'vnode-ci')).toEqual([
        'vnode-ci', 'pc-x86-64', 'waltham-tx-pc', '127.0.0.5', 'yes', 'up',
        vnode.receivers[0]!.state === 'connected' ? vnode.receivers[0]!.address : `${vnode.receivers[0]!.address} (${vnode.receivers[0]!.state})`, String(vnode.surfaces.length), vnode.surfaces.reduce((s, x) => s + x.fps, 0).toFixed(1),
      ]);
      expect(row(r.stdout, 'rpi-stopped')?.[5]).toBe('down');
      expect(row(r.stdout, 'rpi-other')?.[5]).toBe('other');
      // Not our image: not listed without --all.
      expect(row(r.stdout, 'rpi-free')).toBeUndefined();
      expect(r.stdout).toContain('Re-run with --all');
    });

    it('shows a board that does not answer in time as ?, without waiting longer than --timeout', async () => {
      const started = Date.now();
      const r = await labRun(['node', 'show', '--timeout', '300']);
      expect(r.code).toBe(0);
      // rpi-nat is behind the WalT server's NAT (expose): asked there, it accepts and never answers.
      expect(row(r.stdout, 'rpi-nat')?.slice(5)).toEqual(['?', '?', '?', '?']);
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('--all adds the other nodes; --names-only prints names only', async () => {
      const all = await labRun(['node', 'show', '--all']);
      expect(all.code).toBe(0);
      expect(all.stdout).toContain('Other nodes:');
      expect(row(all.stdout, 'rpi-free')?.slice(0, 5)).toEqual(['rpi-free', 'rpi-3-b-plus', 'rpi-3-b-plus-default', '127.0.0.3', 'NO']);
      const names = await labRun(['node', 'show', '--names-only']);
      expect(names.stdout.trim().split('\n')).toEqual(lab.walt.nodes.filter((n) => n.image.includes('/waltham-tx-')).map((n) => n.name));
      const allNames = await labRun(['node', 'show', '--names-only', '--all']);
      expect(allNames.stdout.trim().split('\n')).toEqual(lab.walt.nodes.map((n) => n.name));
    });
  });

  describe('node connect / disconnect', () => {
    it('points a board at another receiver, persisted on the board', async () => {
      const r = await labRun(['node', 'connect', 'rpi-cluster', '--to', 'ivi-second']);
      expect(r.code).toBe(0);
      expect(lab.cluster.receivers.map((x) => x.address)).toEqual(['ivi-second:34400']);
      expect(readFileSync(join(lab.dir, 'rpi-cluster.env'), 'utf8')).toBe('WALTHAM_RECEIVER=ivi-second:34400\n');
      expect(r.stdout).toContain('rpi-cluster now sends to ivi-second:34400');
      const shown = await labRun(['node', 'show']);
      expect(row(shown.stdout, 'rpi-cluster')?.[6]).toBe('ivi-second:34400');

      const d = await labRun(['node', 'disconnect', 'rpi-cluster']);
      expect(d.code).toBe(0);
      expect(lab.cluster.receivers).toEqual([]);
      expect(readFileSync(join(lab.dir, 'rpi-cluster.env'), 'utf8')).toBe('WALTHAM_RECEIVER=\n');
      expect(row((await labRun(['node', 'show'])).stdout, 'rpi-cluster')?.[6]).toBe('none');

      const back = await labRun(['node', 'connect', 'rpi-cluster', '--to', `${RECEIVER_IP}:34400`]);
      expect(back.code).toBe(0);
      expect(lab.cluster.receivers.map((x) => x.address)).toEqual([`${RECEIVER_IP}:34400`]);
    });

    it('sends the token; a wrong or missing one is an error that says so', async () => {
      const wrong = await labRun(['node', 'connect', 'vnode-ci', '--to', 'ivi-x'], { WALTHAM_TOKEN: 'not-the-token' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('wrong token');
      expect(lab.vnode.receivers.map((x) => x.address)).toEqual([`${RECEIVER_IP}:34400`]);
      const none = await labRun(['node', 'disconnect', 'vnode-ci'], { WALTHAM_TOKEN: undefined });
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("needs the board's token");
      // From ~/.config/waltham/token.
      mkdirSync(join(cli.home, '.config', 'waltham'), { recursive: true });
      writeFileSync(join(cli.home, '.config', 'waltham', 'token'), `${LAB_TOKEN}\n`);
      try {
        const fromFile = await labRun(['node', 'connect', 'vnode-ci', '--to', `${RECEIVER_IP}:34400`], { WALTHAM_TOKEN: undefined });
        expect(fromFile.code).toBe(0);
      } finally {
        rmSync(join(cli.home, '.config'), { recursive: true, force: true });
      }
    });

    it('checks --to before sending anything', async () => {
      const before = lab.cluster.requests.length;
      const r = await labRun(['node', 'connect', 'rpi-cluster', '--to', 'ivi head:99999']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--to ivi head:99999');
      expect(lab.cluster.requests.length).toBe(before);
    });
  });

  describe('node screenshot', () => {
    it("writes the board's PNG", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'waltham-shot-'));
      try {
        const file = join(dir, 'v.png');
        const r = await labRun(['node', 'screenshot', 'vnode-ci', '-o', file]);
        expect(r.code).toBe(0);
        const surfaces = lab.vnode.surfaces;
        const { data, info } = await sharp(readFileSync(file)).raw().toBuffer({ resolveWithObject: true });
        expect(info.width).toBe(surfaces.reduce((w, s) => w + s.width, 0));
        expect(r.stdout).toContain(`${info.width}x${info.height}`);
        // The first pixel is the first surface's colour.
        expect([...data.subarray(0, 3)]).toEqual([...surfaces[0]!.rgb]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('surface show', () => {
    it("lists every transmitter's surfaces, and says which boards gave none", async () => {
      const r = await labRun(['surface', 'show']);
      expect(r.code).toBe(0);
      for (const [node, board] of [['rpi-cluster', lab.cluster], ['vnode-ci', lab.vnode]] as const) {
        for (const s of board.status().surfaces) {
          const cells = r.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/)).find((c) => c[0] === node && c[1] === String(s.id));
          expect(cells).toEqual([node, String(s.id), s.app_id, s.title, `${s.width}x${s.height}`, s.fps.toFixed(1), (s.bytes_per_s / 1024).toFixed(1), s.receivers!.join(', ') || 'none']);
        }
      }
      expect(r.stdout).toContain('No surfaces from: rpi-nat (?), rpi-other (other), rpi-stopped (down).');
      const one = await labRun(['surface', 'show', 'rpi-cluster']);
      expect(one.stdout).not.toContain('vnode-ci');
    });
  });

  describe('receiver show', () => {
    it('lists the receivers the transmitters report, with their own status', async () => {
      const r = await labRun(['receiver', 'show']);
      expect(r.code).toBe(0);
      const cells = row(r.stdout, `${RECEIVER_IP}:34400`);
      expect(cells?.[1]).toBe(`up ${lab.receiver.status().version}`);
      const named = (name: string, state: string) => (state === 'connected' ? name : `${name} (${state})`);
      expect(cells?.[2]).toBe(`${named('rpi-cluster', lab.cluster.receivers[0]!.state)}, ${named('vnode-ci', lab.vnode.receivers[0]!.state)}`);
      expect(cells?.[3]).toBe(String(lab.receiver.status().transmitters[0]!.surfaces.length));
      const extra = await labRun(['receiver', 'show', '127.0.0.11']);
      expect(row(extra.stdout, '127.0.0.11:34400')?.slice(1)).toEqual(['down', 'none', '0']);
    });
  });

  describe('log', () => {
    it("prints the node's waltham.tx lines from WalT's logs API", async () => {
      const r = await labRun(['log', 'vnode-ci']);
      expect(r.code).toBe(0);
      const expected = fixture<{ logs: WaltLogRecord[] }>('logs').logs.filter((l) => l.issuer === 'vnode-ci' && l.stream === 'waltham.tx');
      expect(r.stdout.trim().split('\n')).toHaveLength(expected.length);
      expect(r.stdout).toContain(`vnode-ci.waltham.tx -> ${expected[0]!.line}`);
      const q = new URLSearchParams([...lab.walt.requests].reverse().find((p) => p.startsWith('/api/v1/logs'))!.split('?')[1]);
      expect(q.get('issuer')).toBe('vnode-ci');
      expect(q.get('stream')).toBe('waltham\\.tx');
    });

    it('--since bounds the history; a bad duration is a usage error', async () => {
      const newest = Math.max(...fixture<{ logs: WaltLogRecord[] }>('logs').logs.map((l) => l.timestamp));
      const hours = Math.floor((Date.now() / 1000 - newest) / 3600);
      // A window that ends before the fixtures' lines: none; one that reaches them: all of vnode-ci's.
      const none = await labRun(['log', 'vnode-ci', '--since', `${Math.max(1, hours - 1)}h`]);
      expect(none.code).toBe(0);
      expect(none.stdout).toBe('');
      expect(none.stderr).toContain('no waltham.tx log line from vnode-ci');
      const some = await labRun(['log', 'vnode-ci', '--since', `${hours + 2}h`]);
      expect(some.stdout).toContain('vnode-ci.waltham.tx -> ');
      const bad = await labRun(['log', 'vnode-ci', '--since', '5x']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--since 5x');
    });

    it("--board reads the transmitter's own lines", async () => {
      const r = await labRun(['log', 'show', 'rpi-cluster', '--board']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => l.replace(/^\S+ \S+ \S+\s+/, ''))).toEqual(lab.cluster.logLines.map((l) => l.msg));
    });
  });

  describe('image', () => {
    it('wraps walt image build and walt node boot, one boot per image', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'waltham-image-'));
      try {
        const state = join(dir, 'walt-state.json');
        const env = { WALT_COMMAND: join(ROOT, 'walt', 'test', 'fake-walt.mjs'), FAKE_WALT_STATE: state };
        const recipe = join(dir, 'recipe');
        mkdirSync(recipe);
        const empty = await labRun(['image', 'build', '--arch', 'pc', '--dir', recipe], env);
        expect(empty.code).toBe(2);
        expect(empty.stderr).toContain('no Dockerfile or ContainerFile');
        writeFileSync(join(recipe, 'Dockerfile'), 'FROM waltplatform/pc-x86-64-default\nLABEL walt.node.models=pc-x86-64\n');
        for (const arch of ['pc', 'rpi64']) expect((await labRun(['image', 'build', '--arch', arch, '--dir', recipe], env)).code).toBe(0);
        const d = await labRun(['image', 'deploy', 'rpi-cluster,vnode-ci'], env);
        expect(d.code).toBe(0);
        const s = JSON.parse(readFileSync(state, 'utf8')) as { calls: string[][]; boots: Record<string, string> };
        expect(s.calls[0]).toEqual(['image', 'build', '--from-dir', recipe, 'waltham-tx-pc']);
        expect(s.boots).toEqual({ 'rpi-cluster': 'waltham-tx-rpi64', 'vnode-ci': 'waltham-tx-pc' });
        // walt's own failure is passed on.
        const bad = await labRun(['image', 'deploy', 'rpi-cluster', 'no-such-image'], env);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toContain("No such image 'no-such-image'");
        const unknown = await labRun(['image', 'deploy', 'nope-node'], env);
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toContain("unknown node 'nope-node'");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('says when the walt command is missing', async () => {
      const r = await labRun(['image', 'deploy', 'rpi-cluster', 'waltham-tx-pc'], { WALT_COMMAND: '/nonexistent/walt' });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('the walt command is not installed');
    });
  });

  describe('errors', () => {
    it('an unreachable WalT server', async () => {
      const r = await run(['node', 'show', '--walt-server', '127.0.0.1:1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('waltham: WalT server 127.0.0.1:1 unreachable (connection refused)\n');
    });

    it('a WalT server whose daemon is down (HTTP 500 as JSON)', async () => {
      lab.walt.daemonDown = true;
      try {
        const r = await labRun(['node', 'show']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`WalT server ${lab.waltServer}: Internal Server Error`);
      } finally {
        lab.walt.daemonDown = false;
      }
    });

    it('no WalT server configured at all', async () => {
      const r = await run(['node', 'show']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no WalT server');
    });

    it('an unknown node, a node not running our image, a stopped transmitter', async () => {
      const unknown = await labRun(['node', 'connect', 'nope', '--to', 'x']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("unknown node 'nope'");
      const foreign = await labRun(['node', 'screenshot', 'rpi-free']);
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toContain('not a waltham image');
      const other = await labRun(['node', 'disconnect', 'rpi-other']);
      expect(other.code).toBe(1);
      expect(other.stderr).toContain('not running our transmitter');
      const stopped = await labRun(['node', 'disconnect', 'rpi-stopped']);
      expect(stopped.code).toBe(1);
      expect(stopped.stderr).toContain('does not answer at 127.0.0.7');
    });

    it('a node name that is not a WalT name never reaches the server', async () => {
      const before = lab.walt.requests.length;
      const r = await labRun(['log', "x' OR 1=1 --"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('invalid node name');
      expect(lab.walt.requests.length).toBe(before);
    });
  });

  describe('where the WalT server is', () => {
    it('$WALT_SERVER, then the walt client\'s ~/.walt/config', async () => {
      const env = await run(['node', 'show', '--names-only', '--all'], { WALT_SERVER: lab.waltServer });
      expect(env.code).toBe(0);
      expect(env.stdout.trim().split('\n')).toEqual(lab.walt.nodes.map((n) => n.name));
      mkdirSync(join(cli.home, '.walt'), { recursive: true });
      writeFileSync(join(cli.home, '.walt', 'config'), `# WalT configuration file\nwalt:\n    # IP or hostname of WalT server\n    server: ${lab.waltServer}\n    username: eduble\nregistries:\n    hub:\n        username: eduble\n`);
      try {
        const conf = await run(['node', 'show', '--names-only', '--all']);
        expect(conf.code).toBe(0);
        expect(conf.stdout.trim().split('\n')).toEqual(lab.walt.nodes.map((n) => n.name));
        // The option wins over both.
        const opt = await run(['node', 'show', '--walt-server', '127.0.0.1:1'], { WALT_SERVER: lab.waltServer });
        expect(opt.stderr).toContain('127.0.0.1:1 unreachable');
      } finally {
        rmSync(join(cli.home, '.walt'), { recursive: true, force: true });
      }
    });
  });
});
