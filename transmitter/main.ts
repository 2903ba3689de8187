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
import type { OutputInfo } from '../shared/scene/output.js';
import type { SceneSurface } from '../shared/scene/scene.js';
import type { EncodeThread, LinkCodec } from './remote/link.js';
import type { TransmitterStatus } from './status.js';
import { SECURITY_OPTIONS, SECURITY_USAGE } from '../shared/security/options.js';

const USAGE = `usage: waltham-transmitter [options] [-- COMMAND ARGS...]

  --to HOST[:PORT]          a receiver (repeatable; default port 34400)
  --config FILE             [transmitter-output] sections (weston.ini style; default without
                            --to: the weston.ini weston reads, e.g. /etc/xdg/weston/weston.ini)
  --socket NAME             the virtual display's socket (default waltham-0)
  --display NAME            the local compositor (default $WAYLAND_DISPLAY; :N means wayland-N)
  --mirror                  show every surface on --display too
  --codec raw|lz4|zstd|lossy|auto
                            tile encoding (default auto: lz4, zstd when the link is the bottleneck)
  --allow-lossy             let auto send video-like content as JPEG tiles on a bottlenecked link
  --lossy-quality N         JPEG quality 1..100 when the link has room (default 80)
  --encode-thread auto|main|worker
                            where large frames (512x512 pixels of damage or more) are encoded:
                            the JavaScript thread or a worker thread (default auto: a worker
                            when several surfaces have one ready at once)
  --clipboard-limit BYTES   largest clipboard transfer to or from a receiver (default 16 MiB)
  --stats                   print statistics every 5 s
  --status ADDR[:PORT]      serve the status endpoint (HTTP JSON; default port 34401)
  --status-token-file FILE  the token control requests need (else $WALTHAM_STATUS_TOKEN)
  --state-file FILE         where control requests persist the receivers (default
                            /persist/waltham/transmitter.env when /persist exists)
${SECURITY_USAGE}  --log-level LEVEL         trace, debug, info (default), warn, error
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
  'encode-thread': { type: 'string' },
  'clipboard-limit': { type: 'string' },
  stats: { type: 'boolean' },
  status: { type: 'string' },
  'status-token-file': { type: 'string' },
  'state-file': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...SECURITY_OPTIONS,
} as const;

async function main(argv: readonly string[]): Promise<void> {
  const { values, rest } = parseCommandLine(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  // Loaded past --help only: the native shim, pino and the compositor are what makes a start slow.
  const [
    { startStats },
    { parseHostPort, plainOutput, readTransmitterConfig, waylandOutputNames, westonConfigPath },
    { LocalDisplay },
    { createLogger },
    { DEFAULT_OUTPUT },
    { VirtualDisplay },
    { ENCODE_THREADS, LINK_CODECS },
    { LogTail },
    { statusOptions },
    { packageVersion },
    { addressOf, Targets },
    { TransmitterStatus },
    security,
  ] = await Promise.all([
    import('../shared/cli/stats.js'),
    import('../shared/config/transmitter.js'),
    import('../shared/display/local-display.js'),
    import('../shared/log.js'),
    import('../shared/scene/output.js'),
    import('./compositor/display.js'),
    import('./remote/link.js'),
    import('../shared/status/log-tail.js'),
    import('../shared/status/server.js'),
    import('../shared/status/version.js'),
    import('./targets.js'),
    import('./status.js'),
    import('../shared/security/config.js'),
  ]);
  const { readTransmitterLimits } = await import('../shared/config/transmitter-limits.js');
  const logTail = new LogTail();
  const logger = createLogger({ name: 'waltham-transmitter', level: logLevel(values['log-level']), tee: logTail });
  const codec = (values.codec ?? 'auto') as LinkCodec;
  if (!LINK_CODECS.includes(codec)) throw new UsageError(`--codec ${codec}: expected raw, lz4, zstd, lossy or auto`);
  const allowLossy = values['allow-lossy'] === true;
  const qualityText = values['lossy-quality'];
  const lossyQuality = qualityText === undefined ? undefined : Number(qualityText);
  if (lossyQuality !== undefined && (!/^\d+$/.test(qualityText!) || !Number.isInteger(lossyQuality) || lossyQuality < 1 || lossyQuality > 100)) {
    throw new UsageError(`--lossy-quality ${qualityText}: expected an integer in 1..100`);
  }
  if (allowLossy && codec !== 'auto') logger.warn(`--allow-lossy has no effect with --codec ${codec}`);
  const encodeThread = (values['encode-thread'] ?? 'auto') as EncodeThread;
  if (!ENCODE_THREADS.includes(encodeThread)) throw new UsageError(`--encode-thread ${encodeThread}: expected auto, main or worker`);

  const outputs: RemoteOutputConfig[] = [];
  // Without --to (and --config), the sending compositor's own weston.ini, as AGL's plugin read it.
  const configFile = values.config ?? (values.to === undefined ? westonConfigPath(process.env, existsSync) : null);
  if (configFile !== null) {
    if (!existsSync(configFile)) throw new UsageError(`--config ${configFile}: no such file`);
    const found = readTransmitterConfig(configFile, { info: (m) => logger.info(m), warn: (m) => logger.warn(m) });
    if (values.config === undefined) logger.info(`${configFile}: ${found.length} [transmitter-output] section(s)`);
    outputs.push(...found);
  }
  for (const [i, to] of (values.to ?? []).entries()) {
    let addr: { host: string; port: number };
    try {
      addr = parseHostPort(to);
    } catch (err) {
      throw new UsageError(`--to ${(err as Error).message}`);
    }
    outputs.push(plainOutput(`to-${i + 1}`, addr));
  }
  // [transmitter] tls-*= and token-file= of the same file; the first token of the file is ours.
  const credentials = security.loadSecurity(values, security.readSecurityConfig(configFile, 'transmitter').settings);
  const linkSecurity = { ...(credentials.tls !== undefined ? { tls: credentials.tls } : {}), ...(credentials.tokens?.[0] !== undefined ? { token: credentials.tokens[0] } : {}) };
  logger.info(`links to receivers: ${security.describeSecurity(credentials)}`);
  const statusOpts = statusOptions(values.status, values['status-token-file']);
  const statusAddress = statusOpts?.address ?? null;
  const token = statusOpts?.token ?? null;
  const stateFile = values['state-file'] ?? (existsSync('/persist') ? '/persist/waltham/transmitter.env' : null);
  const version = packageVersion();

  if (rest.length === 0 && outputs.length === 0 && values.display === undefined && process.env['WAYLAND_DISPLAY'] === undefined) {
    logger.warn('no receiver (--to, --config) and no local display: surfaces are shown nowhere');
  }

  // One wl_output per remote output, named as AGL's weston names a transmitter output, with the
  // configured mode until (without one) the receiver describes its own.
  const outputNames = waylandOutputNames(outputs);
  const outputInfos: OutputInfo[] = outputs.map((out, i) => {
    const name = outputNames[i]!;
    const described = { ...DEFAULT_OUTPUT, name, model: name, description: `${out.name} (${addressOf(out)})` };
    const m = out.mode;
    return m === null ? described : { ...described, width: m.width, height: m.height, refresh: Math.round(m.refreshHz * 1000) };
  });
  /** Set once stop() runs: what closes from then on is our doing, not news to log. */
  let stopping = false;
  const vd = new VirtualDisplay({
    socketName: values.socket ?? 'waltham-0',
    logger,
    // [transmitter] max-objects=, max-surfaces=, max-pixel-mib=, max-queued-mib= of the same file.
    ...(configFile !== null ? { limits: readTransmitterLimits(configFile) } : {}),
    output: outputInfos[0] ?? DEFAULT_OUTPUT,
    moreOutputs: outputInfos.slice(1),
    // A surface enters the output it is routed to (the first one when it is routed to several or none).
    outputOf: (root: SceneSurface): number => {
      const to: RemoteOutputConfig | undefined = targets.routedTo(root)[0];
      return to === undefined ? 0 : Math.max(0, outputs.indexOf(to));
    },
  });
  vd.listen();

  const targets = new Targets({
    scene: vd.scene,
    logger,
    codec,
    outputs,
    stateFile,
    version,
    link: {
      allowLossy,
      encodeThread,
      ...(lossyQuality !== undefined ? { lossyQuality } : {}),
      selections: vd.selections,
      security: linkSecurity,
      ...(values['clipboard-limit'] !== undefined ? { clipboardLimit: clipboardLimit(values['clipboard-limit']) } : {}),
    },
  });
  targets.on('output', (info, out) => {
    const i = outputs.indexOf(out);
    // A receiver chosen later by a control request describes the first output.
    const index = i < 0 ? 0 : i;
    const own = outputInfos[index] ?? DEFAULT_OUTPUT;
    vd.setOutput({ ...info, name: own.name, model: own.model, description: own.description, x: 0, y: 0 }, index);
  });
  targets.start();

  // The sending ECU's own compositor: surfaces routed nowhere (or all, with --mirror).
  const localName = values.display ?? process.env['WAYLAND_DISPLAY'];
  let local: LocalDisplay | null = null;
  if (localName !== undefined && localName !== '') {
    const candidate = new LocalDisplay({
      display: displayName(localName),
      shell: 'xdg',
      filter: (s) => values.mirror === true || targets.routedTo(s.root).length === 0,
      logger,
    });
    try {
      await candidate.start();
      candidate.attach(vd.scene);
      const { shareSelections } = await import('./local-clipboard.js');
      shareSelections(vd.selections, candidate.selection, logger);
      local = candidate;
      logger.info(`showing local surfaces on ${localName}`);
      candidate.on('close', () => {
        if (!stopping) logger.warn(`the local compositor ${localName} went away; running headless`);
      });
    } catch (err) {
      logger.warn(`no local display ${localName} (${(err as Error).message}); running headless`);
    }
  }

  let status: TransmitterStatus | null = null;
  if (statusAddress !== null) {
    status = new TransmitterStatus({ scene: vd.scene, targets, logTail, display: values.socket ?? 'waltham-0', version, token, logger });
    const bound = await status.server.listen(statusAddress.host, statusAddress.port);
    logger.info(`status on http://${bound.address}:${bound.port}/status${token === null ? ' (no token: control disabled)' : ''}`);
  }

  const stopStats =
    values.stats === true ? startStats(logger, () => ({ links: targets.targets.map((t) => t.link.stats()), local: local?.stats() ?? null })) : () => {};
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    stopStats();
    await status?.close();
    await targets.stop(SHUTDOWN_GRACE_MS);
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

function clipboardLimit(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--clipboard-limit ${text}: not a positive number of bytes`);
  return n;
}

main(process.argv.slice(2)).catch((err: unknown) => fail('waltham-transmitter', USAGE, err));
