/**
 * Real-board mode's own steps, where no WalT server or board can run: against
 * the CLI's test lab (walt/test/lab.ts: the WalT stand-in and board
 * stand-ins) and the fake `walt` command (walt/test/fake-walt.mjs), both test
 * stand-ins. What they check: `npm run test:boards -- --walt-server ...`
 * reaches the suite as options, the deploy goes through `waltham image
 * deploy` to `walt node boot` (one image per kind of node) and then `walt
 * node reboot`, and a WalT node as a board stops and starts its transmitter
 * service with `walt node run`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_TOKEN, startLab, type Lab } from '../../walt/test/lab.js';
import { ROOT } from '../../walt/test/run-cli.js';
import { fixturesPresent } from '../../walt/test/walt-standin.js';
import { deployAndReboot, realBoardsFromEnv, WaltNodeBoard } from './walt-node.js';
import { Waltham, walthamBinMissing } from './waltham-cli.js';

const FAKE_WALT = join(ROOT, 'walt', 'test', 'fake-walt.mjs');
const why = walthamBinMissing() ?? (fixturesPresent ? null : '../shared/walt-fixtures is missing');
if (why !== null) console.log(`skipping real-board mode's steps: ${why}`);

describe('real-board mode: options', () => {
  it('npm run test:boards passes --walt-server, --nodes, --token, --build and --receiver-host to the suite', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'e2e', 'boards', 'run.mjs'), '--print-env', '--walt-server', 'walt.lab', '--nodes', 'rpi-a,rpi-b', '--token', 't0k', '--build', '--receiver-host', '192.0.2.7', '-t', 'walt'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      env: {
        WALTHAM_BOARDS_WALT_SERVER: 'walt.lab',
        WALTHAM_BOARDS_NODES: 'rpi-a,rpi-b',
        WALTHAM_BOARDS_TOKEN: 't0k',
        WALTHAM_BOARDS_BUILD: '1',
        WALTHAM_BOARDS_RECEIVER_HOST: '192.0.2.7',
      },
      vitest: ['run', 'e2e/boards/boards.test.ts', '-t', 'walt'],
    });
    const bad = spawnSync(process.execPath, [join(ROOT, 'e2e', 'boards', 'run.mjs'), '--print-env', '--walt-server'], { encoding: 'utf8' });
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('--walt-server needs a value')]);
  });

  it('the suite reads them back, and refuses a wrong node list', () => {
    expect(realBoardsFromEnv({})).toBeNull();
    expect(realBoardsFromEnv({ WALTHAM_BOARDS_WALT_SERVER: 'walt.lab', WALTHAM_BOARDS_NODES: 'rpi-a,rpi-b', WALTHAM_TOKEN: 't', WALT_COMMAND: '/opt/walt' })).toEqual({
      waltServer: 'walt.lab',
      nodes: ['rpi-a', 'rpi-b'],
      token: 't',
      build: false,
      receiverHost: null,
      walt: '/opt/walt',
    });
    expect(() => realBoardsFromEnv({ WALTHAM_BOARDS_WALT_SERVER: 'walt.lab', WALTHAM_BOARDS_NODES: 'rpi-a', WALTHAM_TOKEN: 't' })).toThrow(/two WalT nodes/);
    expect(realBoardsFromEnv({ WALTHAM_BOARDS_WALT_SERVER: 'walt.lab', WALTHAM_BOARDS_NODES: 'rpi-a,rpi-b', WALTHAM_BOARDS_TOKEN: 'x' })?.token).toBe('x');
    expect(realBoardsFromEnv({ WALTHAM_BOARDS_WALT_SERVER: 'walt.lab', WALTHAM_BOARDS_NODES: 'rpi-a,rpi-b' })?.token).toBeNull();
  });
});

describe.skipIf(why !== null)('real-board mode: steps against the WalT stand-in and the fake walt', () => {
  let lab: Lab;
  let dir: string;
  let state: string;
  let waltham: Waltham;
  const calls = (): { calls: string[][]; reboots: string[]; runs: string[][] } => JSON.parse(readFileSync(state, 'utf8'));

  beforeAll(async () => {
    lab = await startLab();
    dir = mkdtempSync(join(tmpdir(), 'wb-real-'));
    state = join(dir, 'walt-state.json');
    waltham = new Waltham({ waltServer: lab.waltServer, waltCommand: FAKE_WALT, env: { FAKE_WALT_STATE: state } });
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys with waltham image deploy (walt node boot, one image per kind of node), then reboots the nodes', async () => {
    writeFileSync(state, JSON.stringify({ images: ['waltham-tx-rpi64', 'waltham-tx-pc'] }));
    const said: string[] = [];
    await deployAndReboot(waltham, { nodes: ['rpi-cluster', 'vnode-ci'], build: false, walt: FAKE_WALT }, (l) => said.push(l), { FAKE_WALT_STATE: state });
    expect(calls().calls).toEqual([
      ['node', 'boot', 'rpi-cluster', 'waltham-tx-rpi64'],
      ['node', 'boot', 'vnode-ci', 'waltham-tx-pc'],
      ['node', 'reboot', 'rpi-cluster,vnode-ci'],
    ]);
    expect(said).toEqual(['waltham image deploy rpi-cluster,vnode-ci', 'walt node reboot rpi-cluster,vnode-ci']);
  });

  it('stops when walt refuses the deploy, before any reboot', async () => {
    writeFileSync(state, JSON.stringify({ images: [] }));
    await expect(deployAndReboot(waltham, { nodes: ['rpi-cluster', 'vnode-ci'], build: false, walt: FAKE_WALT }, () => {}, { FAKE_WALT_STATE: state })).rejects.toThrow(
      /waltham image deploy rpi-cluster,vnode-ci: exit 1[\s\S]*No such image 'waltham-tx-rpi64'/,
    );
    expect(calls().reboots).toEqual([]);
  });

  it("a WalT node as a board: stop and start are its transmitter service's, start waits for its status endpoint", async () => {
    writeFileSync(state, JSON.stringify({}));
    const env = { FAKE_WALT_STATE: state };
    const board = new WaltNodeBoard('rpi-cluster', '127.0.0.2', { token: LAB_TOKEN, walt: FAKE_WALT, statusPort: lab.statusPort }, env);
    await board.stop();
    await board.start(5000);
    expect(calls().runs).toEqual([
      ['rpi-cluster', 'systemctl stop waltham-transmitter.service'],
      ['rpi-cluster', 'systemctl start waltham-transmitter.service'],
    ]);
    // Without --token, each node's own, fetched with walt node cp.
    writeFileSync(state, JSON.stringify({ files: { 'rpi-cluster:/persist/waltham/status-token': `${LAB_TOKEN}\n` } }));
    const own = new WaltNodeBoard('rpi-cluster', '127.0.0.2', { token: null, walt: FAKE_WALT, statusPort: lab.statusPort }, env);
    expect(() => own.token()).toThrow(/no token yet/);
    await own.loadToken();
    expect(own.token()).toBe(LAB_TOKEN);
    const other = new WaltNodeBoard('vnode-ci', '127.0.0.5', { token: null, walt: FAKE_WALT, statusPort: lab.statusPort }, env);
    await expect(other.loadToken()).rejects.toThrow(/vnode-ci:\/persist\/waltham\/status-token: No such file/);
    const stopped = new WaltNodeBoard('rpi-stopped', '127.0.0.7', { token: LAB_TOKEN, walt: FAKE_WALT, statusPort: lab.statusPort }, env);
    await expect(stopped.start(1500)).rejects.toThrow(/rpi-stopped: no status endpoint at http:\/\/127\.0\.0\.7:\d+ after 1500 ms/);
  });
});
