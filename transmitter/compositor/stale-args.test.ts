/**
 * A request that names, where an object is required, an object the display
 * destroyed (a wl_callback after its done: the id stays a zombie until the
 * client reuses it) is dropped like a request to a zombie: no handler sees a
 * null it does not expect, the client stays connected, nothing is logged as
 * an error. Found by transmitter/compositor/fuzz.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { closeFd, sendMsg, unixConnect } from '../../shared/native.js';
import { protocols } from '../../shared/generated/wayland/index.js';
import { encodeMessage } from '../../shared/wayland/wire.js';
import { TestClient, startDisplay, waitFor } from './test/helpers.js';

const spec = (iface: string) => protocols.flatMap((p) => p.interfaces).find((i) => i.name === iface)!;
const request = (iface: string, name: string) => spec(iface).requests.find((m) => m.name === name)!;

describe('requests naming a destroyed object', () => {
  it('are dropped without reaching a handler, and the client stays', async () => {
    const t = startDisplay();
    try {
      const good = await TestClient.connect(t.display);
      const manager = [...good.registry.globals.entries()].find(([, g]) => g.interface === 'zxdg_output_manager_v1');
      expect(manager).toBeDefined();
      const fd = unixConnect(t.display.socketPath!);
      try {
        const parts = [
          encodeMessage(1, request('wl_display', 'get_registry'), [2]),
          encodeMessage(2, request('wl_registry', 'bind'), [manager![0], { interface: 'zxdg_output_manager_v1', version: 1, id: 3 }]),
          encodeMessage(1, request('wl_display', 'sync'), [4]), // the display answers and destroys wl_callback 4
          encodeMessage(3, request('zxdg_output_manager_v1', 'get_xdg_output'), [5, 4]),
          encodeMessage(1, request('wl_display', 'sync'), [6]),
        ];
        for (const p of parts) expect(sendMsg(fd, p.bytes, [])).toBe(p.bytes.byteLength);
        await waitFor(() => t.logs.some((l) => /names an object already destroyed, request ignored/.test(String(l['msg']))), 5000, 'the request dropped');
        await good.roundtrip();
        expect(t.display.clients).toHaveLength(2);
        expect(t.logs.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
      } finally {
        closeFd(fd);
      }
      good.client.close();
    } finally {
      t.close();
    }
  });
});
