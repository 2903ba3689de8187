import { afterEach, describe, expect, it } from 'vitest';
import { WlOutputProxy, ZxdgOutputManagerV1Proxy } from '../../shared/generated/wayland/index.js';
import { OUTPUT, startDisplay, TestClient, type TestDisplay } from './test/helpers.js';

describe('several outputs', () => {
  let t: TestDisplay | null = null;
  afterEach(() => {
    t?.close();
    t = null;
  });

  it('are separate wl_output globals side by side, each named, and a surface enters the one outputOf chooses', async () => {
    const second = { ...OUTPUT, name: 'transmitter-10.0.0.2:34400-1', model: 'transmitter-10.0.0.2:34400-1', width: 640, height: 720, refresh: 30000 };
    t = startDisplay({ moreOutputs: [second], outputOf: (root) => (root.appId === 'cluster.app' ? 1 : 0) });
    const c = await TestClient.connect(t.display);
    const globals = c.registry.findAll('wl_output');
    expect(globals).toHaveLength(2);
    const manager = c.registry.bind(ZxdgOutputManagerV1Proxy, c.registry.find('zxdg_output_manager_v1')!, 3);
    const seen: { x: number; mode: string; name: string; output: WlOutputProxy }[] = [];
    for (const g of globals) {
      const output = c.registry.bind(WlOutputProxy, g, 3);
      const entry = { x: -1, mode: '', name: '', output };
      output.listen({ geometry: (x) => (entry.x = x), mode: (_f, w, h, r) => (entry.mode = `${w}x${h}@${r}`) });
      manager.getXdgOutput(output).listen({ name: (n) => (entry.name = n) });
      seen.push(entry);
    }
    await c.roundtrip();
    expect(seen.map(({ x, mode, name }) => ({ x, mode, name }))).toEqual([
      { x: 0, mode: `${OUTPUT.width}x${OUTPUT.height}@${OUTPUT.refresh}`, name: OUTPUT.name },
      { x: OUTPUT.width, mode: '640x720@30000', name: second.name },
    ]);

    const entered = async (appId: string): Promise<number[]> => {
      const top = await c.toplevel('t', appId);
      const got: number[] = [];
      // TestClient binds the first wl_output too: that binding counts as output 0.
      top.surface.listen({ enter: (o) => got.push(o === c.output ? 0 : seen.findIndex((s) => s.output === o)) });
      top.show(c.buffer(4, 4, () => 0));
      await c.roundtrip();
      return got;
    };
    expect(await entered('cluster.app')).toEqual([1]);
    expect(await entered('other.app')).toEqual([0, 0]);
  });
});
