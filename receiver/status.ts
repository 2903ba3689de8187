/**
 * The receiver's status endpoint (`--status`): the connected transmitters
 * and their windows (`GET /status`), the log tail (`GET /log`, token), and
 * the status page for people (`GET /`, with `/thumbnail.png` and `/plot.svg`,
 * open like `/status`). The receiver has no receivers to change: control
 * requests answer 409 not_supported.
 */
import { hostname } from 'node:os';
import { composeScene, compositionToPng } from '../shared/status/compose.js';
import type { LogTail } from '../shared/status/log-tail.js';
import { SceneRates } from '../shared/status/rates.js';
import { json, linesParam, logLines, STATUS_API, StatusError, StatusServer, type Route } from '../shared/status/server.js';
import type { SceneSurface } from '../shared/scene/scene.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import type { RemoteClient } from './remote-client.js';
import type { ReceiverServer } from './server.js';
import { plotSvg, statusPage, type PageTransmitter } from './status-page.js';
import { every, type Tick } from '../shared/ticker.js';

export interface ReceiverStatusOptions {
  readonly server: ReceiverServer;
  readonly logTail: LogTail;
  readonly listen: string;
  readonly version: string;
  readonly token: string | null;
  readonly logger: WalthamLogger;
}

/** Thumbnails are composed at most this often per transmitter (ms). */
const THUMBNAIL_MS = 150;
const THUMBNAIL_BOX = { maxWidth: 480, maxHeight: 320 };

interface Peer {
  readonly since: Date;
  /** (time ms, tile bytes) once a second, the last 6 s. */
  readonly samples: { t: number; bytes: number }[];
  thumbnail: { at: number; png: Promise<Buffer> } | null;
}

/** The transmitter's address as seen here (IPv4-mapped IPv6 written as IPv4). */
export const peerAddress = (c: RemoteClient): string => c.peer.label.replace(/^.*@/, '').replace(/^::ffff:/, '');

export class ReceiverStatus {
  readonly server: StatusServer;
  private readonly rates: SceneRates;
  private readonly started = new Date();
  private readonly peers = new Map<RemoteClient, Peer>();
  private readonly sampler: Tick;

  constructor(private readonly options: ReceiverStatusOptions) {
    const rs = options.server;
    this.rates = new SceneRates(rs.scene);
    for (const c of rs.peers) this.onPeer(c);
    rs.on('peer', (c) => this.onPeer(c));
    rs.on('peer-gone', (c) => {
      this.peers.delete(c);
      this.rates.forget(c);
    });
    this.sampler = every(1000, () => this.sample());
    const notHere = (): never => {
      throw new StatusError('not_supported', 'a receiver has no receivers to change; send this to a transmitter');
    };
    const routes: Route[] = [
      { method: 'GET', path: '/healthz', handle: () => json({ ok: true }) },
      { method: 'GET', path: '/status', handle: () => json(this.status()) },
      { method: 'GET', path: '/', handle: () => this.page() },
      { method: 'GET', path: '/thumbnail.png', handle: (req) => this.thumbnail(req.query.get('peer')) },
      { method: 'GET', path: '/plot.svg', handle: (req) => ({ type: 'image/svg+xml', body: plotSvg(this.rates.samples(this.client(req.query.get('peer')))) }) },
      { method: 'GET', path: '/log', token: true, handle: (req) => json({ lines: logLines(options.logTail.tail(linesParam(req.query))) }) },
      { method: 'POST', path: '/control/connect', token: true, handle: notHere },
      { method: 'POST', path: '/control/disconnect', token: true, handle: notHere },
    ];
    this.server = new StatusServer({ routes, token: options.token, logger: options.logger });
  }

  private onPeer(c: RemoteClient): void {
    this.peers.set(c, { since: new Date(), samples: [], thumbnail: null });
  }

  private roots(c: RemoteClient): SceneSurface[] {
    return this.options.server.scene
      .roots()
      .filter((s) => s.owner === c && s.mapped)
      .sort((a, b) => a.id - b.id);
  }

  private client(peer: string | null): RemoteClient {
    const c = [...this.peers.keys()].find((p) => peerAddress(p) === peer);
    if (c === undefined) throw new StatusError('not_found', `no transmitter ${peer ?? '(peer= missing)'}`);
    return c;
  }

  private bytesPerSecond(p: Peer): number {
    const first = p.samples[0];
    const last = p.samples[p.samples.length - 1];
    if (first === undefined || last === undefined || last.t === first.t) return 0;
    return Math.round((((last.bytes - first.bytes) * 1000) / (last.t - first.t)) * 10) / 10;
  }

  private surfaces(c: RemoteClient): PageTransmitter['surfaces'] & object[] {
    return this.roots(c).map((s) => {
      const r = this.rates.window(s);
      const role = s.role;
      const top = role?.kind === 'toplevel' ? role : null;
      return {
        id: s.id,
        app_id: top === null || top.appId === '' ? null : top.appId,
        title: top === null || top.title === '' ? null : top.title,
        width: s.size.width,
        height: s.size.height,
        fps: r.fps,
        bytes_per_s: r.bytesPerSecond,
      };
    });
  }

  status(): object {
    return {
      api: STATUS_API,
      service: 'waltham-receiver',
      version: this.options.version,
      hostname: hostname(),
      pid: process.pid,
      started: this.started.toISOString(),
      uptime_s: Math.round((Date.now() - this.started.getTime()) / 100) / 10,
      listen: this.options.listen,
      transmitters: [...this.peers].map(([c, p]) => ({
        peer: peerAddress(c),
        identity: c.peer.identity,
        state: 'connected',
        since: p.since.toISOString(),
        bytes_per_s: this.bytesPerSecond(p),
        surfaces: this.surfaces(c),
      })),
    };
  }

  private page(): { type: string; body: string } {
    const transmitters: PageTransmitter[] = [...this.peers].map(([c, p]) => ({
      peer: peerAddress(c),
      since: p.since.toISOString(),
      bytesPerSecond: this.bytesPerSecond(p),
      surfaces: this.surfaces(c),
      samples: this.rates.samples(c),
    }));
    return { type: 'text/html; charset=utf-8', body: statusPage(`waltham-receiver on ${hostname()} (${this.options.listen})`, transmitters) };
  }

  /** A transmitter's windows, small; composed at most every THUMBNAIL_MS however many people look. */
  private async thumbnail(peer: string | null): Promise<{ type: string; body: Buffer }> {
    const c = this.client(peer);
    const p = this.peers.get(c)!;
    const now = Date.now();
    if (p.thumbnail === null || now - p.thumbnail.at >= THUMBNAIL_MS) {
      const picture = composeScene(this.options.server.scene, this.roots(c));
      p.thumbnail = { at: now, png: compositionToPng(picture, THUMBNAIL_BOX) };
    }
    return { type: 'image/png', body: await p.thumbnail.png };
  }

  private sample(): void {
    const now = Date.now();
    for (const [c, p] of this.peers) {
      p.samples.push({ t: now, bytes: c.stats().tileBytes });
      while (p.samples.length > 6) p.samples.shift();
    }
  }

  close(): Promise<void> {
    this.sampler.stop();
    this.rates.close();
    return this.server.close();
  }
}
