import { describe, expect, it } from 'vitest';
import { wlDisplayInterface, wlRegistryInterface, wlSurfaceInterface, wlPointerInterface, wpViewportInterface, wpViewporterInterface } from '../generated/wayland/index.js';
import type { MessageSpec } from '../wire/protocol.js';
import { formatTrace, libwaylandStamp } from '../wire/trace.js';
import { run, startWeston, which } from './test/helpers.js';

const msg = (list: readonly MessageSpec[], name: string): MessageSpec => list.find((m) => m.name === name)!;
const NOW = 1795258200043.51; // a realtime stamp in ms

describe('WAYLAND_DEBUG lines in libwayland’s format', () => {
  it('uses libwayland’s stamp: realtime microseconds in 32 bits, printed as milliseconds', () => {
    expect(libwaylandStamp(NOW)).toBeCloseTo((Math.floor(NOW * 1000) % 2 ** 32) / 1000, 6);
    const line = formatTrace('wl_display', 1, msg(wlDisplayInterface.events, 'delete_id'), [{ value: 3 }], false, NOW);
    expect(line).toMatch(/^\[ {0,6}\d{1,7}\.\d{3}\] wl_display@1\.delete_id\(3\)$/);
    expect(line.slice(0, 13)).toBe(`[${libwaylandStamp(NOW).toFixed(3).padStart(11)}]`);
  });

  // Lines below were printed by libwayland 1.21 (weston-simple-damage --use-viewport).
  const cases: [string, string, number, MessageSpec, { value: unknown; objectInterface?: string }[], boolean][] = [
    [' -> wl_registry@2.bind(3, "wp_viewporter", 1, new id [unknown]@5)', 'wl_registry', 2, msg(wlRegistryInterface.requests, 'bind'), [{ value: 3 }, { value: { id: 5, interface: 'wp_viewporter', version: 1 } }], true],
    [' -> wp_viewporter@5.get_viewport(new id wp_viewport@8, wl_surface@3)', 'wp_viewporter', 5, msg(wpViewporterInterface.requests, 'get_viewport'), [{ value: 8 }, { value: 3, objectInterface: 'wl_surface' }], true],
    [' -> wp_viewport@8.set_source(100.00000000, 40.00000000, 150.00000000, 100.00000000)', 'wp_viewport', 8, msg(wpViewportInterface.requests, 'set_source'), [{ value: 100 }, { value: 40 }, { value: 150 }, { value: 100 }], true],
    [' -> wl_surface@3.attach(wl_buffer@12, 0, 0)', 'wl_surface', 3, msg(wlSurfaceInterface.requests, 'attach'), [{ value: 12, objectInterface: 'wl_buffer' }, { value: 0 }, { value: 0 }], true],
    [' -> wl_surface@3.damage(0, 0, 2147483647, 2147483647)', 'wl_surface', 3, msg(wlSurfaceInterface.requests, 'damage'), [{ value: 0 }, { value: 0 }, { value: 2147483647 }, { value: 2147483647 }], true],
    ['wl_registry@2.global(1, "wl_compositor", 4)', 'wl_registry', 2, msg(wlRegistryInterface.events, 'global'), [{ value: 1 }, { value: 'wl_compositor' }, { value: 4 }], false],
    // null object and negative fixed, as wl_closure_print renders them
    [' -> wl_surface@3.attach(nil, -1, 2)', 'wl_surface', 3, msg(wlSurfaceInterface.requests, 'attach'), [{ value: 0 }, { value: -1 }, { value: 2 }], true],
    ['wl_pointer@9.motion(77, -1.50000000, 0.00390625)', 'wl_pointer', 9, msg(wlPointerInterface.events, 'motion'), [{ value: 77 }, { value: -1.5 }, { value: 1 / 256 }], false],
  ];
  for (const [expected, iface, id, message, args, sent] of cases) {
    it(`prints ${expected.trim()}`, () => {
      const line = formatTrace(iface, id, message, args, sent, NOW);
      expect(line.slice(14)).toBe(expected);
    });
  }

  const missing = ['weston', 'weston-simple-damage'].filter((b) => which(b) === undefined);
  it.skipIf(missing.length > 0)('renders fixed arguments exactly as a libwayland client does (weston-simple-damage)', async () => {
    const weston = await startWeston('wl-trace-test');
    try {
      const result = await run('timeout', ['1', 'weston-simple-damage', '--use-viewport'], { ...weston.env, WAYLAND_DEBUG: 'client' });
      const m = /^\[\s*\d+\.\d{3}\] {2}-> wp_viewport@(\d+)\.set_source\(([^)]*)\)$/m.exec(result.stderr);
      expect(m, result.stderr.slice(0, 2000)).not.toBeNull();
      const values = m![2]!.split(', ').map(Number);
      const ours = formatTrace('wp_viewport', Number(m![1]), msg(wpViewportInterface.requests, 'set_source'), values.map((value) => ({ value })), true, NOW);
      expect(ours.slice(14)).toBe(m![0].replace(/^\[[^\]]*\] /, ''));
    } finally {
      await weston.stop();
    }
  });
});
