/**
 * A drop-in for AGL's Waltham: the receiver started with AGL's command line
 * (`waltham-receiver -p PORT -v`), the transmitter reading the sending
 * compositor's weston.ini as AGL documents it (both generations of
 * [transmitter-output], verbatim apart from the addresses) from where weston
 * itself reads it, a real application routed to the receiver, the outputs
 * named as AGL's weston names them (`transmitter-HOST:PORT-N`, checked with
 * wayland-info on the virtual display), and routing by ivi id to weston's
 * ivi-shell with hmi-controller on the receiving side.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGL_2019_INI, AGL_NEW_INI } from '../shared/config/test/agl-examples.js';
import { commandArgs, freePort, startReceiver, startTransmitter, type Transmitter } from './bridge.js';
import { run, skipUnless, skipUnlessIvi, sleep, spawnProcess, startWeston, type ManagedProcess, type Weston } from './harness/index.js';
import { Cleanup, logTails, waitForFrame } from './scenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';

/** waltham-receiver as AGL starts it: `-p PORT` (and `-v`), on 127.0.0.1; resolves once it listens. */
async function startAglReceiver(weston: Weston, port: number, verbose: boolean): Promise<ManagedProcess> {
  const proc = spawnProcess(process.execPath, [...commandArgs('receiver'), '--listen', '127.0.0.1', '-p', String(port), ...(verbose ? ['-v'] : [])], {
    env: { ...weston.env, WALTHAM_LOG_LEVEL: undefined },
    name: 'waltham-receiver',
    lineBuffered: false,
  });
  await proc.waitForLine(new RegExp(`listening on 127\\.0\\.0\\.1:${port}\\b`), 20_000).catch(async (e: Error) => {
    await proc.stop();
    throw e;
  });
  return proc;
}

/** A directory holding weston.ini as weston would find it through $XDG_CONFIG_HOME. */
function westonIniHome(cleanup: Cleanup, text: string): { XDG_CONFIG_HOME: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wb-agl-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'weston.ini');
  writeFileSync(file, text);
  return { XDG_CONFIG_HOME: dir, file };
}

/** wayland-info's wl_output and xdg_output lines for the output named `name` on the virtual display. */
async function outputSeen(transmitter: Transmitter, name: string): Promise<{ model: boolean; xdgName: boolean; mode: string | null; text: string }> {
  const text = await run('wayland-info', [], { env: transmitter.clientEnv });
  const block = text.split(/(?=interface: )/).find((b) => b.includes(`model: '${name}'`)) ?? '';
  const mode = /width: (\d+) px, height: (\d+) px, refresh: ([\d.]+) Hz/.exec(block);
  return { model: block !== '', xdgName: text.includes(`name: '${name}'`), mode: mode === null ? null : `${mode[1]}x${mode[2]}@${mode[3]}`, text };
}

describe('waltham-receiver with AGL options', () => {
  it('lists -p and -v as aliases in --help', () => {
    const help = execFileSync(process.execPath, [...commandArgs('receiver'), '--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(help).toMatch(/-p, --port PORT/);
    expect(help).toMatch(/-v, --verbose/);
  });

  it('refuses a -p that is not a port, or one that contradicts --listen', () => {
    for (const args of [['-p', '0'], ['-p', 'x'], ['-p', '70000'], ['--listen', '127.0.0.1:5000', '-p', '6000']]) {
      const r = spawnSync(process.execPath, [...commandArgs('receiver'), ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, WAYLAND_DISPLAY: '/nonexistent' } });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--port/);
    }
  });
});

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-simple-shm', 'wayland-info'))('AGL weston.ini on the sending side', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it("AGL's 2019 weston.ini (transmitter.so, output-name, server-address, width, height), read from weston's place, sends simple-shm to `waltham-receiver -p PORT -v`", async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const port = await freePort();
    const receiver = cleanup.add(await startAglReceiver(weston, port, true));
    const ini = westonIniHome(cleanup, AGL_2019_INI.replace('server-address=192.168.2.52', 'server-address=127.0.0.1').replace('port=34400', `port=${port}`));
    // No --to, no --config: the transmitter reads the weston.ini weston reads.
    const transmitter = cleanup.add(startTransmitter([], ['weston-simple-shm'], [], { XDG_CONFIG_HOME: ini.XDG_CONFIG_HOME, WALTHAM_LOG_LEVEL: 'info' }));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver, transmitter: transmitter.process });

    const view = await weston
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === SIMPLE_SHM, 20_000, 'simple-shm on the receiver')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await waitForFrame(weston, view.rect);

    const tx = transmitter.process.output();
    expect(tx, logs()).toContain(`${ini.file}: 1 [transmitter-output] section(s)`);
    // weston's own lines ([core] modules=...transmitter.so, [ivi-shell]) are not ours to complain about.
    expect(tx).not.toMatch(/unknown key|"level":[45]0.*weston\.ini/);
    // -v: debug lines, such as the surfaces it shows.
    expect(receiver.output()).toMatch(/"level":20.*showing surface/);

    const seen = await outputSeen(transmitter, `transmitter-127.0.0.1:${port}-1`);
    expect(seen.model, seen.text).toBe(true);
    expect(seen.xdgName, seen.text).toBe(true);
    expect(seen.mode, seen.text).toBe('1920x1080@60.000');
  });

  it("AGL's newer weston.ini (name, mode, host, port, agl-shell-app-id) sends the listed application, and a client sees the output's name and mode", async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 800, height: 600 }));
    const port = await freePort();
    const receiver = cleanup.add(await startAglReceiver(weston, port, false));
    const text = AGL_NEW_INI.replace('host=192.168.20.99', 'host=127.0.0.1').replace('port=5005', `port=${port}`).replace('<APP_ID>', SIMPLE_SHM);
    const ini = westonIniHome(cleanup, text);
    const transmitter = cleanup.add(startTransmitter([], ['weston-simple-shm'], ['--config', ini.file]));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver, transmitter: transmitter.process });

    const view = await weston
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === SIMPLE_SHM, 20_000, 'simple-shm on the receiver')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await waitForFrame(weston, view.rect);
    expect(transmitter.process.output()).not.toMatch(/unknown key/);
    // Without -v: no debug lines.
    expect(receiver.output()).not.toMatch(/"level":20/);

    // The configured mode wins over the receiver's 800x600.
    const seen = await outputSeen(transmitter, `transmitter-127.0.0.1:${port}-1`);
    expect(seen.model, seen.text).toBe(true);
    expect(seen.xdgName, seen.text).toBe(true);
    expect(seen.mode, seen.text).toBe('640x720@30.000');
  });

  it('warns about unknown keys in [transmitter-output] with file and line', async () => {
    const ini = westonIniHome(cleanup, '[core]\nmodules=transmitter.so\n\n[transmitter-output]\nname=cluster\nhost=127.0.0.1\nport=9\nagl-shell-appid=nav\n');
    const transmitter = cleanup.add(startTransmitter([], [], ['--config', ini.file]));
    await transmitter.process.waitForLine(/unknown key/, 20_000);
    expect(transmitter.process.output()).toMatch(new RegExp(`"level":40.*${ini.file.replace(/\./g, '\\.')}:8: unknown key agl-shell-appid= in \\[transmitter-output\\]`));
  });
});

describe.skipIf(skipUnless('weston', 'weston-debug', 'wayland-info', 'wayland-scanner', 'gcc', 'pkg-config') || skipUnlessIvi())('routing by ivi id', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let iviSolid = '';

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-ivi-solid-'));
    const xml = join(here, '..', 'protocol', 'wayland', 'ivi-application.xml');
    execFileSync('wayland-scanner', ['client-header', xml, join(dir, 'ivi-application-client-protocol.h')]);
    execFileSync('wayland-scanner', ['private-code', xml, join(dir, 'ivi-application-protocol.c')]);
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'wayland-client'], { encoding: 'utf8' }).trim().split(/\s+/).filter((f) => f !== '');
    iviSolid = join(dir, 'ivi-solid');
    execFileSync('gcc', ['-O1', `-I${dir}`, '-o', iviSolid, join(here, 'clients', 'ivi-solid.c'), join(dir, 'ivi-application-protocol.c'), ...flags]);
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it("ivi-id= sends the ivi surfaces with those ids to the output, under the same id on the ivi-shell receiver unless its [ivi-surface] maps it; others stay", async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', shell: 'ivi', width: 1024, height: 768 }));
    const receiverIni = westonIniHome(cleanup, '[receiver]\nshell=ivi\n\n[ivi-surface]\nremote-ivi-id=600\nivi-id=650\n');
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', receiverIni.file]));
    const ini = westonIniHome(cleanup, ['[core]', 'shell=ivi-shell.so', 'modules=transmitter.so', '', '[transmitter-output]', 'name=cluster', `host=${receiver.host}`, `port=${receiver.port}`, 'ivi-id=600,700-709', ''].join('\n'));
    const transmitter = cleanup.add(startTransmitter([], [], ['--config', ini.file]));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    const app = (id: number, colour: string): ManagedProcess => cleanup.add(spawnProcess(iviSolid, [String(id), '320', '240', colour], { env: transmitter.clientEnv, name: `ivi-solid ${id}` }));

    // One at a time: hmi-controller drops a surface that arrives right after another.
    const routed = app(705, 'ff0000');
    await routed.waitForLine(/committed/, 10_000);
    await weston
      .waitForView((v) => v.iviId === 705 && v.visible && v.rect.width >= 100, 20_000, 'ivi-surface 705 on the receiver')
      .catch(async (e: Error) => {
        const views = (await weston.sceneGraph()).map((v) => v.description).join('; ');
        return Promise.reject(new Error(`${e.message}\nviews: ${views}\n${logs()}`));
      });
    const stays = app(800, '00ff00');
    await stays.waitForLine(/committed/, 10_000);
    const single = app(600, '0000ff');
    await single.waitForLine(/committed/, 10_000);
    await weston.waitForView((v) => v.iviId === 650 && v.visible, 20_000, 'ivi-surface 600 as 650 on the receiver').catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    // Give a wrongly routed surface the time a right one took, then look.
    await sleep(1500);
    const ids = (await weston.sceneGraph()).map((v) => v.iviId).filter((id): id is number => id !== null && id < 1000);
    expect(ids.sort(), logs()).toEqual([650, 705]);

    // No mode configured: the virtual display's output takes the receiver's (the ivi weston's 1024x768).
    const seen = await outputSeen(transmitter, `transmitter-${receiver.host}:${receiver.port}-1`);
    expect(seen.model, seen.text).toBe(true);
    expect(seen.mode, seen.text).toMatch(/^1024x768@/);
  });
});
