import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';
import { receiverConfig } from './receiver.js';
import { parseHostPort, parseMode, routeAppId, transmitterOutputs } from './transmitter.js';

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
      { name: 'cluster', host: '10.77.0.11', port: 34401, mode: { width: 1920, height: 720, refreshHz: 60 }, appIds: ['navigation'] },
      { name: 'rear', host: '10.77.0.12', port: 34400, mode: null, appIds: ['video', 'music'] },
      { name: 'lab', host: 'lab-screen', port: 34400, mode: null, appIds: [] },
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
    expect(() => transmitterOutputs(parseIni('\n[transmitter-output]\nhost=a\nmode=big\n'), 'w.ini')).toThrow(/w\.ini:2: .*mode=big/);
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

  it('rejects an unknown shell', () => {
    expect(() => receiverConfig(parseIni('[receiver]\nshell=kde\n'), 'r.ini')).toThrow(/shell=kde/);
  });
});
