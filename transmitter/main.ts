#!/usr/bin/env node
/**
 * waltham-transmitter: a virtual Wayland display whose surfaces go to remote
 * receivers over Waltham (and, when there is one, to the local compositor),
 * with the input that comes back injected into the applications.
 */
import { existsSync } from 'node:fs';
import { displayName, fail, logLevel, parseCommandLine, SHUTDOWN_GRACE_MS, UsageError } from '../shared/cli/args.js';
import type { RemoteOutputConfig } from '../shared/config/transmitter.js';
import type { LocalDisplay } from '../shared/display/local-display.js';
import type { SceneSurface } from '../shared/scene/scene.js';
import type { LinkCodec } from './remote/link.js';

const USAGE = `usage: waltham-transmitter [options] [-- COMMAND ARGS...]

  --to HOST[:PORT]          a receiver (repeatable; default port 34400)
  --config FILE             [transmitter-output] sections (weston.ini style)
  --socket NAME             the virtual display's socket (default waltham-0)
  --display NAME            the local compositor (default $WAYLAND_DISPLAY; :N means wayland-N)
  --mirror                  show every surface on --display too
  --codec raw|lz4|zstd|lossy|auto
                            tile encoding (default auto: lz4, zstd when the link is the bottleneck)
  --allow-lossy             let auto send video-like content as JPEG tiles on a bottlenecked link
  --lossy-quality N         JPEG quality 1..100 when the link has room (default 80)
  --stats                   print statistics every 5 s
  --log-level LEVEL         trace, debug, info (default), warn, error
  -h, --help                this text
  -- COMMAND ARGS           start COMMAND on the virtual display and exit with it
`;

const OPTIONS = {
  to: { type: 'string', multiple: true },
  config: { type: 'string' },
  socket: { type: 'string' },
  display: { type: 'string' },
  mirror: { type: 'boolean' },
  codec: { type: 'string' },
  'allow-lossy': { type: 'boolean' },
  'lossy-quality': { type: 'string' },
  stats: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: readonly string[]): Promise<void> {
  const { values, rest } = parseCommandLine(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  // Loaded past --help only: the native shim, pino and the compositor are what makes a start slow.
  const [{ startStats }, { parseHostPort, readTransmitterConfig, routeAppId }, { LocalDisplay }, { createLogger }, { DEFAULT_OUTPUT }, { VirtualDisplay }, { LINK_CODECS, ReceiverLink }] =
    await Promise.all([
      import('../shared/cli/stats.js'),
      import('../shared/config/transmitter.js'),
      import('../shared/display/local-display.js'),
      import('../shared/log.js'),
      import('../shared/scene/output.js'),
      import('./compositor/display.js'),
      import('./remote/link.js'),
    ]);
  const logger = createLogger({ name: 'waltham-transmitter', level: logLevel(values['log-level']) });
  const codec = (values.codec ?? 'auto') as LinkCodec;
  if (!LINK_CODECS.includes(codec)) throw new UsageError(`--codec ${codec}: expected raw, lz4, zstd, lossy or auto`);
  const allowLossy = values['allow-lossy'] === true;
  const qualityText = values['lossy-quality'];
  const lossyQuality = qualityText === undefined ? undefined : Number(qualityText);
  if (lossyQuality !== undefined && (!/^\d+$/.test(qualityText!) || !Number.isInteger(lossyQuality) || lossyQuality < 1 || lossyQuality > 100)) {
    throw new UsageError(`--lossy-quality ${qualityText}: expected an integer in 1..100`);
  }
  if (allowLossy && codec !== 'auto') logger.warn(`--allow-lossy has no effect with --codec ${codec}`);

  const outputs: RemoteOutputConfig[] = [];
  if (values.config !== undefined) {
    if (!existsSync(values.config)) throw new UsageError(`--config ${values.config}: no such file`);
    outputs.push(...readTransmitterConfig(values.config));
  }
  for (const [i, to] of (values.to ?? []).entries()) {
    let addr: { host: string; port: number };
    try {
      addr = parseHostPort(to);
    } catch (err) {
      throw new UsageError(`--to ${(err as Error).message}`);
    }
    outputs.push({ name: `to-${i + 1}`, ...addr, mode: null, appIds: [] });
  }
  if (rest.length === 0 && outputs.length === 0 && values.display === undefined && process.env['WAYLAND_DISPLAY'] === undefined) {
    logger.warn('no receiver (--to, --config) and no local display: surfaces are shown nowhere');
  }

  const first = outputs[0];
  const mode = first?.mode;
  /** Set once stop() runs: what closes from then on is our doing, not news to log. */
  let stopping = false;
  const vd = new VirtualDisplay({
    socketName: values.socket ?? 'waltham-0',
    logger,
    output: mode == null ? DEFAULT_OUTPUT : { ...DEFAULT_OUTPUT, name: first!.name, width: mode.width, height: mode.height, refresh: Math.round(mode.refreshHz * 1000) },
  });
  vd.listen();

  const routedTo = (root: SceneSurface): RemoteOutputConfig[] => routeAppId(outputs, root.appId);
  const links = outputs.map((out) => {
    const link = new ReceiverLink({
      host: out.host,
      port: out.port,
      scene: vd.scene,
      filter: (root) => routedTo(root).includes(out),
      logger,
      codec,
      allowLossy,
      ...(lossyQuality !== undefined ? { lossyQuality } : {}),
    });
    link.on('connected', () => logger.info({ output: out.name }, `connected to ${out.name} (${out.host}:${out.port})`));
    link.on('disconnected', (reason) => {
      if (!stopping) logger.warn({ output: out.name }, `lost ${out.name}${reason === undefined ? '' : `: ${reason.message}`}; reconnecting`);
    });
    // The first output describes the display to applications unless the configuration fixed its mode.
    if (out === first && out.mode === null) link.on('output', (info) => vd.setOutput({ ...info, name: out.name }));
    link.start();
    return link;
  });

  // The sending ECU's own compositor: surfaces routed nowhere (or all, with --mirror).
  const localName = values.display ?? process.env['WAYLAND_DISPLAY'];
  let local: LocalDisplay | null = null;
  if (localName !== undefined && localName !== '') {
    const candidate = new LocalDisplay({
      display: displayName(localName),
      shell: 'xdg',
      filter: (s) => values.mirror === true || routedTo(s.root).length === 0,
      logger,
    });
    try {
      await candidate.start();
      candidate.attach(vd.scene);
      local = candidate;
      logger.info(`showing local surfaces on ${localName}`);
      candidate.on('close', () => {
        if (!stopping) logger.warn(`the local compositor ${localName} went away; running headless`);
      });
    } catch (err) {
      logger.warn(`no local display ${localName} (${(err as Error).message}); running headless`);
    }
  }

  const stopStats = values.stats === true ? startStats(logger, () => ({ links: links.map((l) => l.stats()), local: local?.stats() ?? null })) : () => {};
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    stopStats();
    await Promise.all(links.map((l) => l.stop({ graceMs: SHUTDOWN_GRACE_MS })));
    local?.close();
    vd.close();
    process.exit(code);
  };
  // Asked to stop (a service manager, Ctrl-C): a clean exit, as weston's.
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  if (rest.length > 0) {
    const [command, ...args] = rest as [string, ...string[]];
    const child = vd.spawn(command, args);
    child.on('error', () => void stop(127));
    child.on('exit', (code, signal) => {
      logger.info(`${command} exited (${signal ?? code ?? 0})`);
      void stop(code ?? (signal === null ? 0 : 128));
    });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail('waltham-transmitter', USAGE, err));
