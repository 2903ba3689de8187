/**
 * The virtual Wayland display: applications connect to it as to any
 * compositor, and it produces a `Scene` of their surfaces for consumers (the
 * Waltham link to receivers, the local display), which answer through each
 * client's `SceneFeedback`.
 *
 * Globals (wayland-client-survey.md, tier 1): wl_compositor 4,
 * wl_subcompositor 1, wl_shm 1 (ARGB8888, XRGB8888), xdg_wm_base 3, wl_seat 7,
 * wl_output 3, zxdg_output_manager_v1 3, wl_data_device_manager 3,
 * zwp_primary_selection_device_manager_v1 1,
 * zwp_text_input_manager_v1 1 (inert), ivi_application 1; and, registered by
 * extensions.ts, the globals applications ask for beyond those (README,
 * "Protocols the transmitter offers").
 *
 *   const display = new VirtualDisplay({ output: { name: 'HDMI-A-1', width: 1920, ... } });
 *   display.listen();
 *   display.scene.on('surface', (s) => s.on('commit', ...));
 *   display.spawn('foot', []);
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { basename, dirname } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../../shared/log.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import { Scene, type SceneSurface } from '../../shared/scene/scene.js';
import { WaylandServer, type WaylandServerClient } from '../../shared/wayland/index.js';
import { ClientState } from './client-state.js';
import { registerCompositor } from './compositor.js';
import { monotonicMs, type DisplayContext } from './context.js';
import { registerDataDevice } from './data-device.js';
import { FrameClock } from './frame-clock.js';
import { registerIvi } from './ivi.js';
import { DEFAULT_KEYMAP } from './keymap.js';
import { OutputGlobal, registerXdgOutputManager } from './output.js';
import { Seat } from './seat.js';
import { registerPresentation } from './presentation.js';
import { registerPrimarySelection } from './primary-selection.js';
import { Selections } from './selection.js';
import { registerShm } from './shm.js';
import { registerSubcompositor } from './subcompositor.js';
import { registerTextInput } from './text-input.js';
import { registerExtensions } from './extensions.js';
import { outputChanged, registerXdgShell } from './xdg-shell.js';
import { DEFAULT_CLIENT_LIMITS, type ClientLimits } from './client-limits.js';

export { ClientState } from './client-state.js';
export { DEFAULT_KEYMAP } from './keymap.js';

export interface VirtualDisplayOptions {
  /** Socket name in the runtime directory, or an absolute path (default `waltham-0`). */
  readonly socketName?: string;
  /** Directory of the socket (default `$XDG_RUNTIME_DIR`). */
  readonly runtimeDir?: string;
  readonly logger?: Logger;
  /** The remote output the display describes to applications. */
  readonly output: OutputInfo;
  /** More outputs to its right (AGL: one wl_output per [transmitter-output]). */
  readonly moreOutputs?: readonly OutputInfo[];
  /** Which output (index) a root surface is shown on when it maps; default the first. */
  readonly outputOf?: (root: SceneSurface) => number;
  /** XKB keymap text for keyboards until a consumer sends its own (default: `DEFAULT_KEYMAP`, US). */
  readonly keymap?: string;
  /** Longest wait for a consumer's `presented` before frame callbacks are answered anyway (ms, default 1000). */
  readonly frameTimeoutMs?: number;
  /** Limits per application (client-limits.ts). */
  readonly limits?: Partial<ClientLimits>;
}

export interface VirtualDisplayEvents {
  /** An application connected. */
  client: [client: ClientState];
  /** An application disconnected (`reason`: the protocol error that dropped it, if any). */
  'client-gone': [client: ClientState, reason: Error | undefined];
}

export class VirtualDisplay extends EventEmitter<VirtualDisplayEvents> {
  readonly scene = new Scene();
  readonly logger: Logger;
  private readonly server: WaylandServer;
  private readonly ctx: DisplayContext;
  private readonly clientStates = new Map<WaylandServerClient, ClientState>();
  private readonly socketName: string;
  private readonly runtimeDir: string | undefined;
  private path: string | null = null;
  private closed = false;

  constructor(options: VirtualDisplayOptions) {
    super();
    this.logger = options.logger ?? pino({ level: 'info' });
    this.socketName = options.socketName ?? 'waltham-0';
    this.runtimeDir = options.runtimeDir;
    const limits: ClientLimits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };
    this.server = new WaylandServer({
      logger: this.logger,
      maxObjects: limits.maxObjects,
      maxQueuedBytes: limits.maxQueuedBytes,
      ...(this.runtimeDir !== undefined ? { env: { ...process.env, XDG_RUNTIME_DIR: this.runtimeDir } } : {}),
    });

    const clientOf = (client: WaylandServerClient): ClientState => {
      let state = this.clientStates.get(client);
      if (state === undefined) {
        state = new ClientState(this.ctx, client);
        this.clientStates.set(client, state);
      }
      return state;
    };
    const ctx: { -readonly [K in keyof DisplayContext]: DisplayContext[K] } = {
      server: this.server,
      logger: this.logger,
      scene: this.scene,
      iviIds: new Map(),
      clientOf,
      clients: () => this.clientStates.values(),
      serial: () => this.server.nextSerial(),
      now: monotonicMs,
      // Filled in below: they take the context itself.
      seat: undefined as unknown as Seat,
      output: undefined as unknown as OutputGlobal,
      outputs: [],
      outputFor: (surface) => {
        const i = options.outputOf?.(surface.scene.root) ?? 0;
        return ctx.outputs[i] ?? ctx.output;
      },
      clipboard: undefined as unknown as Selections,
      frames: new FrameClock(monotonicMs, 1000 / 60, options.frameTimeoutMs ?? 1000),
      limits,
    };
    this.ctx = ctx;
    ctx.seat = new Seat(ctx, options.keymap ?? DEFAULT_KEYMAP);
    const outputs: OutputGlobal[] = [];
    for (const [i, info] of [options.output, ...(options.moreOutputs ?? [])].entries()) {
      const left = (): number => outputs.slice(0, i).reduce((x, o) => x + o.logicalSize.width, 0);
      outputs.push(new OutputGlobal(ctx, info, left));
    }
    ctx.outputs = outputs;
    ctx.output = outputs[0]!;
    ctx.clipboard = new Selections(ctx);

    registerCompositor(ctx);
    registerSubcompositor(ctx);
    registerShm(ctx);
    registerXdgShell(ctx);
    ctx.seat.register();
    for (const output of ctx.outputs) output.register();
    registerXdgOutputManager(ctx);
    registerDataDevice(ctx);
    registerPrimarySelection(ctx);
    registerTextInput(ctx);
    registerIvi(ctx);
    registerPresentation(ctx);
    registerExtensions(ctx);

    this.server.on('client', (client) => {
      const state = clientOf(client);
      this.logger.info({ client: state.name }, `${state.name} connected`);
      this.emit('client', state);
    });
    this.server.on('client-gone', (client, reason) => {
      const state = this.clientStates.get(client);
      this.clientStates.delete(client);
      if (state === undefined) return;
      if (reason === undefined) this.logger.info({ client: state.name }, `${state.name} disconnected`);
      else this.logger.warn({ client: state.name, err: reason }, `${state.name} dropped: ${reason.message}`);
      this.emit('client-gone', state, reason);
    });
  }

  /** Start accepting applications; returns the socket path. */
  listen(): string {
    if (this.path !== null) return this.path;
    this.path = this.server.listen(this.socketName);
    this.logger.info({ socket: this.path }, `virtual display listening on ${this.path}`);
    return this.path;
  }

  /** The socket path, once listening. */
  get socketPath(): string | null {
    return this.path;
  }

  /** What applications put in WAYLAND_DISPLAY (with `XDG_RUNTIME_DIR` = `runtimeDirectory`). */
  get waylandDisplay(): string {
    if (this.path === null) throw new Error('the display is not listening: call listen() first');
    return basename(this.path);
  }

  get runtimeDirectory(): string {
    if (this.path === null) throw new Error('the display is not listening: call listen() first');
    return dirname(this.path);
  }

  /** Connected applications. */
  get clients(): ClientState[] {
    return [...this.clientStates.values()];
  }

  get output(): OutputInfo {
    return this.ctx.output.info;
  }

  /** The clipboard and the primary selection (receiver links carry them). */
  get selections(): Selections {
    return this.ctx.clipboard;
  }

  /** Every output, as applications see them. */
  get outputs(): OutputInfo[] {
    return this.ctx.outputs.map((o) => o.info);
  }

  /** Serve an application over an already connected socket (e.g. the other end of a WAYLAND_SOCKET pair). */
  addClientFd(fd: number, label?: string): ClientState {
    return this.ctx.clientOf(this.server.addClientFd(fd, label));
  }

  /**
   * Start an application on this display: WAYLAND_DISPLAY and XDG_RUNTIME_DIR
   * point at the display's socket (they override `env`, which is added to
   * this process' environment). Default stdio: stdin ignored, output inherited.
   */
  spawn(command: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, options: SpawnOptions = {}): ChildProcess {
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...env,
      WAYLAND_DISPLAY: this.waylandDisplay,
      XDG_RUNTIME_DIR: this.runtimeDirectory,
    };
    delete childEnv['WAYLAND_SOCKET'];
    const child = spawn(command, [...args], { stdio: ['ignore', 'inherit', 'inherit'], ...options, env: childEnv });
    child.on('error', (error) => this.logger.warn({ err: error, command }, `cannot start ${command}: ${error.message}`));
    child.on('spawn', () => this.logger.info({ command, pid: child.pid }, `started ${command} (pid ${child.pid ?? '?'})`));
    return child;
  }

  /** A remote output changed (`index`: which one, default the first): applications get the new description. */
  setOutput(info: OutputInfo, index = 0): void {
    const changed = this.ctx.outputs[index];
    if (changed === undefined) throw new RangeError(`no output ${index}`);
    changed.setInfo(info);
    // The outputs to its right moved if its width changed.
    for (const o of this.ctx.outputs.slice(index + 1)) o.setInfo(o.info);
    if (index === 0) outputChanged(this.ctx);
  }

  /** Disconnect every application and stop listening (the socket and its lock file are removed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    this.ctx.frames.close();
    this.ctx.seat.close();
    this.logger.info('virtual display closed');
  }
}
