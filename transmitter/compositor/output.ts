/**
 * wl_output v3 and zxdg_output_manager_v1 v3: the outputs that describe the
 * remote displays the surfaces are shown on, one wl_output global each (AGL:
 * one per [transmitter-output]), side by side from 0,0 in the order given.
 *
 * On bind: geometry, mode (current + preferred), scale (v2+), done (v2+); for
 * xdg_output: logical_position, logical_size, name and description (v2+),
 * then wl_output.done for v3 (xdg_output.done is deprecated there) or
 * xdg_output.done before. `setInfo` sends the whole description again when
 * the remote output changes.
 *
 * A mapped surface enters the output it is shown on (wl_surface.enter; the
 * display's `outputOf` chooses, by default the first) and leaves it when
 * unmapped; a client binding wl_output later gets enter for its mapped
 * surfaces at once.
 */
import type { OutputInfo } from '../../shared/scene/output.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlOutputMode,
  WlOutputResource,
  WlOutputSubpixel,
  WlOutputTransform,
  ZxdgOutputManagerV1Resource,
  ZxdgOutputV1Resource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

export const OUTPUT_VERSION = 3;
export const XDG_OUTPUT_MANAGER_VERSION = 3;

/** The output global each bound wl_output belongs to. */
const globalOf = new WeakMap<WlOutputResource, OutputGlobal>();

/** A surface was mapped: it enters the output it is shown on. */
export function surfaceMapped(ctx: DisplayContext, surface: Surface): void {
  ctx.outputFor(surface).surfaceMapped(surface);
}

/** A surface was unmapped: it leaves the outputs it entered. */
export function surfaceUnmapped(ctx: DisplayContext, surface: Surface): void {
  for (const o of ctx.outputs) o.surfaceUnmapped(surface);
}

export function surfaceGone(ctx: DisplayContext, surface: Surface): void {
  for (const o of ctx.outputs) o.surfaceGone(surface);
}

/** zxdg_output_manager_v1, once for every output. */
export function registerXdgOutputManager(ctx: DisplayContext): void {
  ctx.server.addGlobal(ZxdgOutputManagerV1Resource, XDG_OUTPUT_MANAGER_VERSION, (manager) => {
    manager.listen({
      destroy: () => {},
      getXdgOutput: (xdgOutput, output) => (globalOf.get(output) ?? ctx.output).addXdgOutput(xdgOutput, output),
    });
  });
}

export class OutputGlobal {
  /** Output resources a surface has entered. */
  private readonly entered = new Map<Surface, Set<WlOutputResource>>();
  private readonly xdgOutputs = new Map<ZxdgOutputV1Resource, WlOutputResource>();
  /** This output's wl_output resources, over all clients. */
  private readonly bound = new Set<WlOutputResource>();
  /** This output's wl_output resources, per client. */
  private readonly byClient = new Map<ClientState, Set<WlOutputResource>>();

  /** `left`: where the output starts in the global space (the outputs before it, side by side). */
  constructor(
    private readonly ctx: DisplayContext,
    public info: OutputInfo,
    private readonly left: () => number = () => 0,
  ) {}

  register(): void {
    this.ctx.server.addGlobal(WlOutputResource, OUTPUT_VERSION, (output, client) => this.bind(output, client));
  }

  addXdgOutput(xdgOutput: ZxdgOutputV1Resource, output: WlOutputResource): void {
    this.xdgOutputs.set(xdgOutput, output);
    xdgOutput.onDestroy(() => this.xdgOutputs.delete(xdgOutput));
    xdgOutput.listen({ destroy: () => {} });
    this.sendXdgOutput(xdgOutput, output);
  }

  /** Logical size in surface-local units (mode / scale). */
  get logicalSize(): { width: number; height: number } {
    const scale = Math.max(1, this.info.scale);
    return { width: Math.floor(this.info.width / scale), height: Math.floor(this.info.height / scale) };
  }

  private bind(output: WlOutputResource, wsClient: WaylandServerClient): void {
    const client = this.ctx.clientOf(wsClient);
    globalOf.set(output, this);
    this.bound.add(output);
    let mine = this.byClient.get(client);
    if (mine === undefined) {
      mine = new Set();
      this.byClient.set(client, mine);
    }
    mine.add(output);
    client.outputs.add(output);
    output.onDestroy(() => {
      this.bound.delete(output);
      const set = this.byClient.get(client);
      set?.delete(output);
      if (set?.size === 0) this.byClient.delete(client);
      client.outputs.delete(output);
      for (const set of this.entered.values()) set.delete(output);
    });
    output.listen({ release: () => {} });
    this.sendOutput(output);
    for (const surface of client.surfaces) if (surface.scene.mapped && this.ctx.outputFor(surface) === this) this.enter(surface, output);
  }

  private sendOutput(output: WlOutputResource): void {
    this.sendDescription(output);
    if (output.version >= 2) output.sendDone();
  }

  /**
   * geometry, mode and scale (v2+), without done. The first virtual output
   * sits at 0,0, the others to its right; none is transformed
   * (the receiver's compositor applies its own output's transform), and its
   * subpixel layout is unknown (surfaces may be scaled on the way).
   */
  private sendDescription(output: WlOutputResource): void {
    const i = this.info;
    output.sendGeometry(this.left(), 0, i.physicalWidth, i.physicalHeight, WlOutputSubpixel.Unknown, i.make, i.model, WlOutputTransform.Normal);
    output.sendMode(WlOutputMode.Current | WlOutputMode.Preferred, i.width, i.height, i.refresh);
    if (output.version >= 2) output.sendScale(Math.max(1, i.scale));
  }

  private sendXdgOutput(xdgOutput: ZxdgOutputV1Resource, output: WlOutputResource): void {
    const { width, height } = this.logicalSize;
    xdgOutput.sendLogicalPosition(this.left(), 0);
    xdgOutput.sendLogicalSize(width, height);
    if (xdgOutput.version >= 2) {
      const i = this.info;
      xdgOutput.sendName(i.name);
      xdgOutput.sendDescription(i.description !== '' ? i.description : `${i.make} ${i.model} (${i.name})`.trim());
    }
    if (xdgOutput.version >= 3) {
      if (!output.destroyed && output.version >= 2) output.sendDone();
    } else {
      xdgOutput.sendDone();
    }
  }

  /** The remote output changed: every bound output hears the new description. */
  setInfo(info: OutputInfo): void {
    this.info = info;
    for (const output of this.bound) {
      this.sendDescription(output);
      const xdg = [...this.xdgOutputs].filter(([, o]) => o === output).map(([x]) => x);
      for (const x of xdg) {
        const { width, height } = this.logicalSize;
        x.sendLogicalPosition(this.left(), 0);
        x.sendLogicalSize(width, height);
        if (x.version < 3) x.sendDone();
      }
      if (output.version >= 2) output.sendDone();
    }
  }

  private enter(surface: Surface, output: WlOutputResource): void {
    let set = this.entered.get(surface);
    if (set === undefined) {
      set = new Set();
      this.entered.set(surface, set);
    }
    if (set.has(output)) return;
    set.add(output);
    surface.resource.sendEnter(output);
  }

  surfaceMapped(surface: Surface): void {
    for (const output of this.byClient.get(surface.client) ?? []) this.enter(surface, output);
  }

  surfaceUnmapped(surface: Surface): void {
    const set = this.entered.get(surface);
    if (set === undefined) return;
    this.entered.delete(surface);
    for (const output of set) if (!output.destroyed) surface.resource.sendLeave(output);
  }

  surfaceGone(surface: Surface): void {
    this.entered.delete(surface);
  }
}
