import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';
import { receiverConfig } from './receiver.js';
import { AGL_2019_INI, AGL_NEW_INI } from './test/agl-examples.js';
import {
  parseHostPort,
  parseIviIds,
  parseMode,
  routeAppId,
  routeSurface,
  transmitterOutputs,
  waylandOutputNames,
  westonConfigPath,
  type ConfigLog,
} from './transmitter.js';

/** A ConfigLog that keeps what it is told. */
function recording(): ConfigLog & { infos: string[]; warns: string[] } {
  const infos: string[] = [];
  const warns: string[] = [];
  return { infos, warns, info: (m) => infos.push(m), warn: (m) => warns.push(m) };
}

const WESTON_INI = `[core]
modules=remoting-plugin.so

[transmitter-output]
name=cluster
host=10.77.0.11
port=34401
mode=1920x720@60
agl-shell-app-id=navigation

[transmitter-output]
name=rear
host=10.77.0.12
app-id=video, music

[transmitter-output]
name=lab
host=lab-screen
`;

describe('transmitter configuration', () => {
  it('reads every [transmitter-output] with host, port, mode and app ids', () => {
    const outputs = transmitterOutputs(parseIni(WESTON_INI), 'weston.ini');
    expect(outputs).toEqual([
      { name: 'cluster', host: '10.77.0.11', port: 34401, mode: { width: 1920, height: 720, refreshHz: 60 }, appIds: ['navigation'], iviIds: [] },
      { name: 'rear', host: '10.77.0.12', port: 34400, mode: null, appIds: ['video', 'music'], iviIds: [] },
      { name: 'lab', host: 'lab-screen', port: 34400, mode: null, appIds: [], iviIds: [] },
    ]);
  });

  it('routes listed app ids to their outputs and the rest to the default outputs', () => {
    const outputs = transmitterOutputs(parseIni(WESTON_INI), 'weston.ini');
    expect(routeAppId(outputs, 'music').map((o) => o.name)).toEqual(['rear']);
    expect(routeAppId(outputs, 'navigation').map((o) => o.name)).toEqual(['cluster']);
    expect(routeAppId(outputs, 'terminal').map((o) => o.name)).toEqual(['lab']);
    expect(routeAppId(outputs.slice(0, 2), 'terminal')).toEqual([]);
  });

  it('rejects a section without host and a bad mode, naming the line', () => {
    expect(() => transmitterOutputs(parseIni('[transmitter-output]\nname=x\n'), 'w.ini')).toThrow(/w\.ini:1: .*needs host=/);
    expect(() => transmitterOutputs(parseIni('\n[transmitter-output]\nhost=a\nmode=big\n'), 'w.ini')).toThrow(/w\.ini:4: .*mode=big/);
    expect(() => transmitterOutputs(parseIni('[transmitter-output]\nhost=a\nwidth=800\n'), 'w.ini')).toThrow(/w\.ini:3: .*width= and height=/);
    expect(() => transmitterOutputs(parseIni('[transmitter-output]\nhost=a\nivi-id=9-3\n'), 'w.ini')).toThrow(/w\.ini:3: .*ivi-id=9-3/);
  });

  it("reads AGL's 2019 weston.ini unchanged: output-name, server-address, width and height; weston's own lines say nothing", () => {
    const log = recording();
    const outputs = transmitterOutputs(parseIni(AGL_2019_INI), 'weston.ini', log);
    expect(outputs).toEqual([
      { name: 'transmitter_1', host: '192.168.2.52', port: 34400, mode: { width: 1920, height: 1080, refreshHz: 60 }, appIds: [], iviIds: [] },
    ]);
    expect(log.warns).toEqual([]);
    expect(log.infos).toEqual([]);
  });

  it("reads AGL's newer weston.ini unchanged: name, mode, host, port, agl-shell-app-id", () => {
    const log = recording();
    const outputs = transmitterOutputs(parseIni(AGL_NEW_INI), 'weston.ini', log);
    expect(outputs).toEqual([
      { name: 'transmitter-1', host: '192.168.20.99', port: 5005, mode: { width: 640, height: 720, refreshHz: 30 }, appIds: ['<APP_ID>'], iviIds: [] },
    ]);
    expect(log.warns).toEqual([]);
  });

  it('takes the newer key where both generations are present, and says so', () => {
    const log = recording();
    const ini = '[transmitter-output]\noutput-name=old\nname=new\nserver-address=10.0.0.1\nhost=10.0.0.2\nwidth=800\nheight=600\nmode=1024x768\n';
    const [out] = transmitterOutputs(parseIni(ini), 'w.ini', log);
    expect(out).toMatchObject({ name: 'new', host: '10.0.0.2', mode: { width: 1024, height: 768, refreshHz: 60 } });
    expect(log.infos).toEqual([
      'w.ini:3: [transmitter-output] has name=new and output-name=old; name= wins',
      'w.ini:5: [transmitter-output] has host=10.0.0.2 and server-address=10.0.0.1; host= wins',
      'w.ini:8: [transmitter-output] has mode=1024x768 and width=800 height=600; mode= wins',
    ]);
  });

  it('warns about unknown keys in [transmitter-output] with file and line, and only there', () => {
    const log = recording();
    const ini = '[core]\nmodules=transmitter.so\nfoo=1\n\n[transmitter-output]\nhost=a\nagl-shell-appid=nav\n\n[output]\nname=HDMI-A-1\n[transmitter-output]\nhost=b\nmdoe=800x600\n';
    const outputs = transmitterOutputs(parseIni(ini), '/etc/xdg/weston/weston.ini', log);
    expect(outputs.map((o) => o.host)).toEqual(['a', 'b']);
    expect(log.warns).toEqual([
      '/etc/xdg/weston/weston.ini:7: unknown key agl-shell-appid= in [transmitter-output] (ignored)',
      '/etc/xdg/weston/weston.ini:13: unknown key mdoe= in [transmitter-output] (ignored)',
    ]);
  });

  it('routes ivi surfaces by ivi-id (ids and ranges) and toplevels by app_id', () => {
    expect(parseIviIds('100, 200-299,7')).toEqual([{ first: 100, last: 100 }, { first: 200, last: 299 }, { first: 7, last: 7 }]);
    expect(parseIviIds('0')).toBeNull();
    expect(parseIviIds('a-b')).toBeNull();
    const ini = '[transmitter-output]\nname=cluster\nhost=a\nivi-id=100-199\n[transmitter-output]\nname=rear\nhost=b\nivi-id=200,300\napp-id=video\n[transmitter-output]\nname=lab\nhost=c\n';
    const outputs = transmitterOutputs(parseIni(ini), 'w.ini');
    const route = (appId: string, iviId: number | null): string[] => routeSurface(outputs, { appId, iviId }).map((o) => o.name);
    expect(route('', 150)).toEqual(['cluster']);
    expect(route('', 199)).toEqual(['cluster']);
    expect(route('', 300)).toEqual(['rear']);
    expect(route('video', null)).toEqual(['rear']);
    expect(route('', 250)).toEqual(['lab']);
    expect(route('other', null)).toEqual(['lab']);
    expect(routeSurface(outputs.slice(0, 2), { appId: '', iviId: 250 })).toEqual([]);
  });

  it('names outputs as AGL weston names transmitter outputs', () => {
    expect(waylandOutputNames([{ host: '10.0.0.2', port: 34400 }, { host: '10.0.0.3', port: 5005 }, { host: '10.0.0.2', port: 34400 }])).toEqual([
      'transmitter-10.0.0.2:34400-1',
      'transmitter-10.0.0.3:5005-1',
      'transmitter-10.0.0.2:34400-2',
    ]);
  });

  it("finds the weston.ini weston would read, in weston's order", () => {
    const only = (...files: string[]) => (p: string) => files.includes(p);
    const env = { HOME: '/home/u', XDG_CONFIG_HOME: '/cfg', XDG_CONFIG_DIRS: '/opt/xdg:/etc/xdg' };
    expect(westonConfigPath(env, only('/cfg/weston.ini', '/etc/xdg/weston/weston.ini'))).toBe('/cfg/weston.ini');
    expect(westonConfigPath(env, only('/home/u/.config/weston.ini', '/etc/xdg/weston/weston.ini'))).toBe('/home/u/.config/weston.ini');
    expect(westonConfigPath(env, only('/opt/xdg/weston/weston.ini', '/etc/xdg/weston/weston.ini'))).toBe('/opt/xdg/weston/weston.ini');
    expect(westonConfigPath({ HOME: '/home/u' }, only('/etc/xdg/weston/weston.ini'))).toBe('/etc/xdg/weston/weston.ini');
    expect(westonConfigPath({}, only())).toBeNull();
  });

  it('parses modes and host:port forms', () => {
    expect(parseMode('800x600')).toEqual({ width: 800, height: 600, refreshHz: 60 });
    expect(parseMode('0x600')).toBeNull();
    expect(parseHostPort('ivi-head')).toEqual({ host: 'ivi-head', port: 34400 });
    expect(parseHostPort('10.0.0.1:9')).toEqual({ host: '10.0.0.1', port: 9 });
    expect(parseHostPort('[::1]:34401')).toEqual({ host: '::1', port: 34401 });
    expect(() => parseHostPort('a:99999')).toThrow(/port out of range/);
  });
});

describe('receiver configuration', () => {
  it('reads listen, shell and the app_id to ivi-id map', () => {
    const c = receiverConfig(parseIni('[receiver]\nlisten=127.0.0.1:5000\nshell=ivi\n[ivi-surface]\napp-id=nav\nivi-id=100\n[ivi-surface]\napp-id=media\nivi-id=200\n'), 'r.ini');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(5000);
    expect(c.shell).toBe('ivi');
    expect([...c.iviIds]).toEqual([['nav', 100], ['media', 200]]);
  });

  it('maps remote ivi ids to local ones where an [ivi-surface] says so', () => {
    const c = receiverConfig(parseIni('[ivi-surface]\nremote-ivi-id=705\nivi-id=105\n[ivi-surface]\napp-id=nav\nivi-id=100\n'), 'r.ini');
    expect([...c.remoteIviIds]).toEqual([[705, 105]]);
    expect([...c.iviIds]).toEqual([['nav', 100]]);
    expect(() => receiverConfig(parseIni('[ivi-surface]\nivi-id=100\n'), 'r.ini')).toThrow(/r\.ini:1: .*needs app-id= or remote-ivi-id=/);
    expect(() => receiverConfig(parseIni('[ivi-surface]\napp-id=a\nremote-ivi-id=1\nivi-id=100\n'), 'r.ini')).toThrow(/needs app-id= or remote-ivi-id=/);
  });

  it('rejects an unknown shell', () => {
    expect(() => receiverConfig(parseIni('[receiver]\nshell=kde\n'), 'r.ini')).toThrow(/shell=kde/);
  });
});
