/**
 * The scripting API against the test lab (walt/test/lab.ts), in-process over
 * real HTTP; and the package's own entry (`import { api } from
 * 'waltham-bridge'`) in a separate Node process, as a user's script runs it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_TOKEN, startLab, type Lab } from '../test/lab.js';
import { ROOT } from '../test/run-cli.js';
import { fixturesPresent } from '../test/walt-standin.js';
import { Api, NodeSet, TransmitterState, WalthamError, WalthamNode } from './index.js';

if (!fixturesPresent) console.warn('skipping the scripting API tests: ../shared/walt-fixtures is missing (the WalT fixtures beside the checkout)');

describe.skipIf(!fixturesPresent)('scripting API', () => {
  let lab: Lab;
  let api: Api;

  beforeAll(async () => {
    lab = await startLab();
    api = new Api();
    api.configure({ waltServer: lab.waltServer, statusPort: lab.statusPort, token: LAB_TOKEN, timeoutMs: 300 });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('api.nodes.get() returns a set: iteration, get(name), filter', async () => {
    const nodes = await api.nodes.get();
    expect(nodes).toBeInstanceOf(NodeSet);
    expect([...nodes].map((n) => n.name)).toEqual(lab.walt.nodes.map((n) => n.name));
    expect(nodes.size).toBe(lab.walt.nodes.length);
    const cluster = nodes.get('rpi-cluster');
    expect(cluster).toBeInstanceOf(WalthamNode);
    expect(cluster?.ip).toBe(lab.walt.nodes.find((n) => n.name === 'rpi-cluster')!.ip);
    expect(nodes.get('nope')).toBeUndefined();
    expect(nodes.filter({ virtual: true }).names()).toEqual(lab.walt.nodes.filter((n) => n.virtual).map((n) => n.name));
    expect(nodes.filter({ booted: false, model: 'rpi-3-b-plus' }).names()).toEqual(['rpi-free']);
    expect(nodes.filter((n) => n.name.startsWith('rpi-n')).names()).toEqual(['rpi-nat']);
    const two = await api.nodes.get('rpi-cluster,vnode-ci');
    expect(two.names()).toEqual(['rpi-cluster', 'vnode-ci']);
    await expect(api.nodes.get(['rpi-cluster', 'nope'])).rejects.toMatchObject({ code: 'ERR_NODE_UNKNOWN' });
  });

  it("asks a node's transmitter lazily, once, and knows every state", async () => {
    const nodes = await api.nodes.get();
    const before = lab.cluster.requests.length;
    const cluster = nodes.get('rpi-cluster')!;
    expect(lab.cluster.requests.length).toBe(before);
    const t = await cluster.transmitter;
    expect(t).toBeInstanceOf(TransmitterState);
    expect(t.state).toBe('up');
    expect(t.surfaces.map((s) => s.app_id)).toEqual(lab.cluster.surfaces.map((s) => s.app_id));
    expect(t.receivers.map((r) => r.address)).toEqual(lab.cluster.receivers.map((r) => r.address));
    await cluster.transmitter;
    expect(lab.cluster.requests.length).toBe(before + 1);
    cluster.refresh();
    await cluster.transmitter;
    expect(lab.cluster.requests.length).toBe(before + 2);
    const states = await nodes.transmitters();
    expect(Object.fromEntries([...states].map(([k, v]) => [k, v.state]))).toEqual({
      'rpi-cluster': 'up',
      'rpi-free': 'down',
      'rpi-nat': 'unknown',
      'rpi-other': 'other',
      'rpi-stopped': 'down',
      'vnode-ci': 'up',
    });
  });

  it('connect, disconnect and screenshot go to the board', async () => {
    const vnode = (await api.nodes.get('vnode-ci')).get('vnode-ci')!;
    const after = await vnode.connect('ivi-api:35000');
    expect(after.receivers.map((r) => r.address)).toEqual(['ivi-api:35000']);
    expect(lab.vnode.receivers.map((r) => r.address)).toEqual(['ivi-api:35000']);
    expect((await vnode.transmitter).receivers.map((r) => r.address)).toEqual(['ivi-api:35000']);
    expect((await vnode.disconnect()).receivers).toEqual([]);
    expect(lab.vnode.receivers).toEqual([]);
    const png = await vnode.screenshot();
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(lab.vnode.surfaces.reduce((w, s) => w + s.width, 0));
    const free = (await api.nodes.get('rpi-free')).get('rpi-free')!;
    const err = await free.screenshot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalthamError);
    expect((err as WalthamError).code).toBe('ERR_NOT_OUR_IMAGE');
  });

  it('describes itself when printed: fields and methods, as WalT objects do', async () => {
    const nodes = await api.nodes.get();
    const set = inspect(nodes);
    expect(set).toMatch(/^< -- Set of WalT nodes \(6 items\) --/);
    for (const m of ['filter(', 'get(name)', 'transmitters()']) expect(set).toContain(`  - .${m}`);
    for (const n of nodes) expect(set).toContain(`  - .get('${n.name}'): <${n.virtual ? 'virtual node' : 'node'} ${n.name}>`);
    const cluster = nodes.get('rpi-cluster')!;
    const node = inspect(cluster);
    for (const [k, v] of [['name', "'rpi-cluster'"], ['booted', 'true'], ['ip', `'${cluster.ip}'`], ['model', "'rpi-4-b'"]]) expect(node).toContain(`  - .${k}: ${v}\n`);
    expect(node).toContain('  - .transmitter: <not asked yet: await node.transmitter>');
    for (const m of ['connect(receiver)', 'disconnect()', 'screenshot()', 'refresh()']) expect(node).toContain(`  - .${m}: `);
    const t = inspect(await cluster.transmitter);
    expect(t).toContain("  - .state: 'up'");
    expect(t).toContain(`  - .fps: ${lab.cluster.surfaces[0]!.fps}`);
    expect(inspect(cluster)).toContain('  - .transmitter: <asked: await node.transmitter>');
    expect(inspect(api)).toContain('  - .nodes: <API submodule for WalT nodes>');
    expect(inspect(api.nodes)).toContain("  - .get(nodeSet = 'all-nodes'): ");
  });

  it("runs from the package's entry in a user's script, which exits by itself", async () => {
    const entry = join(ROOT, 'dist', 'walt', 'api', 'index.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: npm run build`);
    const script = `
      import { api } from 'waltham-bridge';
      api.configure({ waltServer: '${lab.waltServer}', statusPort: ${lab.statusPort}, token: '${LAB_TOKEN}' });
      const nodes = await api.nodes.get();
      const t = await nodes.get('rpi-cluster').transmitter;
      console.log(JSON.stringify({ names: nodes.names(), state: t.state }));
    `;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the script did not exit: ${stdout} ${stderr}`));
      }, 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ names: lab.walt.nodes.map((n) => n.name), state: 'up' });
  });
});
