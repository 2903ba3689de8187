/**
 * The outputs of the local compositor: wl_output (geometry, current mode,
 * scale, name and description from v4) completed by zxdg_output_v1 names on
 * compositors that have the manager.
 */
import type { OutputInfo } from '../scene/output.js';
import { WlOutputMode, WlOutputProxy, type ZxdgOutputManagerV1Proxy, type ZxdgOutputV1Proxy } from '../generated/wayland/index.js';
import type { Global, Registry } from '../wayland/client.js';

export class OutputState {
  name = '';
  description = '';
  make = '';
  model = '';
  x = 0;
  y = 0;
  width = 0;
  height = 0;
  refresh = 0;
  scale = 1;
  physicalWidth = 0;
  physicalHeight = 0;
  subpixel = 0;
  transform = 0;
  xdg: ZxdgOutputV1Proxy | null = null;

  constructor(
    readonly global: Global,
    readonly proxy: WlOutputProxy,
  ) {}

  info(): OutputInfo {
    const { name, description, make, model, x, y, width, height, refresh, scale, physicalWidth, physicalHeight, subpixel, transform } = this;
    return { name, description, make, model, x, y, width, height, refresh, scale, physicalWidth, physicalHeight, subpixel, transform };
  }
}

export class Outputs {
  private readonly outputs = new Map<number, OutputState>();
  /** Set when the compositor has zxdg_output_manager_v1. */
  xdgOutputManager: ZxdgOutputManagerV1Proxy | null = null;

  add(registry: Registry, g: Global): void {
    const proxy = registry.bind(WlOutputProxy, g, Math.min(g.version, 4));
    const out = new OutputState(g, proxy);
    proxy.listen({
      geometry: (x, y, pw, ph, subpixel, make, model, transform) => {
        Object.assign(out, { x, y, physicalWidth: pw, physicalHeight: ph, subpixel, make, model, transform });
      },
      mode: (flags, width, height, refresh) => {
        if ((flags & WlOutputMode.Current) !== 0) Object.assign(out, { width, height, refresh });
      },
      scale: (factor) => {
        out.scale = factor;
      },
      name: (name) => {
        out.name = name;
      },
      description: (description) => {
        out.description = description;
      },
    });
    if (this.xdgOutputManager !== null) {
      out.xdg = this.xdgOutputManager.getXdgOutput(proxy);
      out.xdg.listen({
        name: (name) => {
          if (out.name === '') out.name = name;
        },
        description: (description) => {
          if (out.description === '') out.description = description;
        },
      });
    }
    this.outputs.set(g.name, out);
  }

  /** The global `name` went away: release its objects. */
  remove(name: number): void {
    const out = this.outputs.get(name);
    if (out === undefined) return;
    this.outputs.delete(name);
    if (out.xdg !== null && !out.xdg.destroyed) out.xdg.destroy();
    if (out.proxy.version >= 3 && !out.proxy.destroyed) out.proxy.release();
  }

  /** The output named `name`, or the first when no name is given; null if none. */
  find(name: string | undefined): OutputState | null {
    const all = [...this.outputs.values()];
    if (name !== undefined && name !== '') return all.find((o) => o.name === name) ?? null;
    return all[0] ?? null;
  }

  infos(): OutputInfo[] {
    return [...this.outputs.values()].map((o) => o.info());
  }
}
