/**
 * The transmitter's status endpoint (`--status`): what it sends where
 * (`GET /status`), control of its receivers (`POST /control/connect`,
 * `/control/disconnect`), its current scene as a PNG (`GET /screenshot.png`)
 * and its log tail (`GET /log`). It reads the links' public state through
 * Targets and the scene; it changes nothing but the receivers.
 */
import { hostname } from 'node:os';
import { composeScene, compositionToPng } from '../shared/status/compose.js';
import type { LogTail } from '../shared/status/log-tail.js';
import { SceneRates } from '../shared/status/rates.js';
import { json, linesParam, logLines, STATUS_API, StatusError, StatusServer, type Route } from '../shared/status/server.js';
import type { Scene, SceneSurface } from '../shared/scene/scene.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import { addressOf, parseReceiverAddress, type Targets } from './targets.js';

export interface TransmitterStatusOptions {
  readonly scene: Scene;
  readonly targets: Targets;
  readonly logTail: LogTail;
  readonly display: string;
  readonly version: string;
  readonly token: string | null;
  readonly logger: WalthamLogger;
}

/** Title and app_id of a root surface (null when unset or not a toplevel). */
function names(s: SceneSurface): { app_id: string | null; title: string | null } {
  const r = s.role;
  if (r?.kind !== 'toplevel') return { app_id: null, title: null };
  return { app_id: r.appId === '' ? null : r.appId, title: r.title === '' ? null : r.title };
}

export class TransmitterStatus {
  readonly server: StatusServer;
  private readonly rates: SceneRates;
  private readonly started = new Date();

  constructor(private readonly options: TransmitterStatusOptions) {
    this.rates = new SceneRates(options.scene);
    const routes: Route[] = [
      { method: 'GET', path: '/healthz', handle: () => json({ ok: true }) },
      { method: 'GET', path: '/status', handle: () => json(this.status()) },
      { method: 'POST', path: '/control/connect', token: true, handle: (req) => this.connect(req.body) },
      { method: 'POST', path: '/control/disconnect', token: true, handle: () => this.disconnect() },
      { method: 'GET', path: '/screenshot.png', token: true, handle: (req) => this.screenshot(req.query) },
      { method: 'GET', path: '/log', token: true, handle: (req) => json({ lines: logLines(options.logTail.tail(linesParam(req.query))) }) },
    ];
    this.server = new StatusServer({ routes, token: options.token, logger: options.logger });
  }

  /** The `GET /status` body. */
  status(): object {
    const { targets } = this.options;
    const now = Date.now();
    return {
      api: STATUS_API,
      service: 'waltham-transmitter',
      version: this.options.version,
      hostname: hostname(),
      pid: process.pid,
      started: this.started.toISOString(),
      uptime_s: Math.round((now - this.started.getTime()) / 100) / 10,
      display: this.options.display,
      receivers: targets.targets.map((t) => ({
        name: t.output.name,
        address: addressOf(t.output),
        state: t.state,
        since: t.since.toISOString(),
        reconnects: Math.max(0, t.link.stats().connects - 1),
        last_error: t.lastError,
        bytes_per_s: targets.bytesPerSecond(t),
      })),
      surfaces: this.roots().map((s) => {
        const r = this.rates.window(s);
        return {
          id: s.id,
          ...names(s),
          width: s.size.width,
          height: s.size.height,
          fps: r.fps,
          bytes_per_s: r.bytesPerSecond,
          receivers: targets.routedTo(s).map(addressOf),
        };
      }),
      persisted: targets.persisted,
    };
  }

  private roots(): SceneSurface[] {
    return this.options.scene
      .roots()
      .filter((s) => s.mapped)
      .sort((a, b) => a.id - b.id);
  }

  private async connect(body: unknown): Promise<ReturnType<typeof json>> {
    const to = (body as { to?: unknown } | null)?.to;
    let addr: { host: string; port: number };
    try {
      addr = parseReceiverAddress(to);
    } catch (err) {
      throw new StatusError('bad_request', (err as Error).message);
    }
    this.options.logger.info({ to: addressOf(addr) }, `status: connect to ${addressOf(addr)} (control request)`);
    await this.options.targets.connect(addr);
    return json(this.status());
  }

  private async disconnect(): Promise<ReturnType<typeof json>> {
    this.options.logger.info({}, 'status: disconnect (control request)');
    await this.options.targets.disconnect();
    return json(this.status());
  }

  private async screenshot(query: URLSearchParams): Promise<{ type: string; body: Buffer }> {
    let roots = this.roots();
    const id = query.get('surface');
    if (id !== null) {
      roots = roots.filter((s) => String(s.id) === id);
      if (roots.length === 0) throw new StatusError('no_surface', `no mapped surface ${id}`);
    }
    const picture = composeScene(this.options.scene, roots);
    if (picture === null) throw new StatusError('no_surface', 'nothing is mapped');
    return { type: 'image/png', body: await compositionToPng(picture) };
  }

  close(): Promise<void> {
    this.rates.close();
    return this.server.close();
  }
}
