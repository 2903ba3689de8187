#!/usr/bin/env node
/**
 * waltham-receiver: shows the surfaces of remote transmitters on the local
 * compositor and sends the local input back.
 */
import { existsSync } from 'node:fs';
import type { ReceiverConfig, ShellMode } from '../shared/config/receiver.js';
import { displayName, fail, logLevel, parseCommandLine, SHUTDOWN_GRACE_MS, UsageError } from '../shared/cli/args.js';
import type { ReceiverStatus } from './status.js';
import { SECURITY_OPTIONS, SECURITY_USAGE } from '../shared/security/options.js';

const USAGE = `usage: waltham-receiver [options]

  --listen ADDR[:PORT]      address to bind (default 0.0.0.0:34400)
  -p, --port PORT           the port to listen on (AGL waltham-receiver's -p)
  --display NAME            the local compositor (default $WAYLAND_DISPLAY)
  --shell xdg|ivi|fullscreen
                            local windows (default), ivi-application surfaces, or fullscreen
  --output NAME             the output for --shell fullscreen
  --config FILE             [receiver], [ivi-surface] and [transmitter-identity] sections (weston.ini style)
  --clipboard-limit BYTES   largest clipboard transfer to or from a transmitter (default 16 MiB)
  --no-viewporter           do not use the compositor's wp_viewporter: transmitters send surfaces scaled
${SECURITY_USAGE}  --stats                   print per-transmitter statistics every 5 s
  --status ADDR[:PORT]      serve the status endpoint and page (HTTP; default port 34401)
  --status-token-file FILE  the token /log needs (else $WALTHAM_STATUS_TOKEN)
  --oneshot                 exit once the first transmitter has disconnected
  --log-level LEVEL         trace, debug, info (default), warn, error
  -v, --verbose             --log-level debug (AGL waltham-receiver's -v)
  -h, --help                this text
`;

const OPTIONS = {
  listen: { type: 'string' },
  port: { type: 'string', short: 'p' },
  display: { type: 'string' },
  shell: { type: 'string' },
  output: { type: 'string' },
  config: { type: 'string' },
  'clipboard-limit': { type: 'string' },
  'no-viewporter': { type: 'boolean' },
  stats: { type: 'boolean' },
  oneshot: { type: 'boolean' },
  status: { type: 'string' },
  'status-token-file': { type: 'string' },
  'log-level': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  ...SECURITY_OPTIONS,
} as const;

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseCommandLine(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  // Loaded past --help only: the native shim, pino and the display are what makes a start slow.
  const [
    { DEFAULT_RECEIVER, readReceiverConfig },
    { parseHostPort },
    { LocalDisplay },
    { createLogger },
    { ReceiverServer },
    { startStats },
    { LogTail },
    { statusOptions },
    { packageVersion },
    { ReceiverStatus },
    security,
    { iviIdAssigner },
  ] = await Promise.all([
    import('../shared/config/receiver.js'),
    import('../shared/config/transmitter.js'),
    import('../shared/display/local-display.js'),
    import('../shared/log.js'),
    import('./server.js'),
    import('../shared/cli/stats.js'),
    import('../shared/status/log-tail.js'),
    import('../shared/status/server.js'),
    import('../shared/status/version.js'),
    import('./status.js'),
    import('../shared/security/config.js'),
    import('./ivi-ids.js'),
  ]);
  let config: ReceiverConfig = DEFAULT_RECEIVER;
  if (values.config !== undefined) {
    if (!existsSync(values.config)) throw new UsageError(`--config ${values.config}: no such file`);
    config = readReceiverConfig(values.config);
  }
  const listen = values.listen === undefined ? { host: config.host, port: config.port } : parseHostPort(values.listen);
  if (values.port !== undefined) {
    const port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new UsageError(`--port ${values.port}: expected a port in 1..65535`);
    if (values.listen !== undefined && /:\d+$/.test(values.listen) && listen.port !== port) {
      throw new UsageError(`--port ${port} and --listen ${values.listen} name different ports`);
    }
    listen.port = port;
  }
  const shell = (values.shell ?? config.shell) as ShellMode;
  if (!['xdg', 'ivi', 'fullscreen'].includes(shell)) throw new UsageError(`--shell ${shell}: expected xdg, ivi or fullscreen`);
  const output = values.output ?? config.output ?? undefined;
  const statusOpts = statusOptions(values.status, values['status-token-file']);
  const statusAddress = statusOpts?.address ?? null;
  const token = statusOpts?.token ?? null;
  const logTail = new LogTail();
  const logger = createLogger({ name: 'waltham-receiver', level: logLevel(values['log-level'] ?? (values.verbose === true ? 'debug' : undefined)), tee: logTail });

  // app_id -> ivi-id: from the configuration, else ivi-id-base + n in order of appearance; owned ids to their owner only.
  const secured = security.readSecurityConfig(values.config ?? null, 'receiver');
  const iviIdFor = iviIdAssigner({ configured: config.iviIds, base: config.iviIdBase, ownerOf: (id) => security.ownerOf(secured.ownership, id), logger });

  const display = new LocalDisplay({
    ...(values.display !== undefined ? { display: displayName(values.display) } : {}),
    shell,
    iviIdFor,
    localIviId: (iviId) => config.remoteIviIds.get(iviId) ?? iviId,
    ...(output !== undefined ? { output } : {}),
    ...(values['no-viewporter'] === true ? { viewporter: false } : {}),
    logger,
  });
  await display.start();
  // Steady frames without JavaScript (steady.ts); WALTHAM_NATIVE_FRAMES=0 keeps every frame in JavaScript.
  const steady = process.env['WALTHAM_NATIVE_FRAMES'] !== '0' ? new (await import('./steady.js')).SteadyPath(display.steady, logger) : undefined;
  const limit = values['clipboard-limit'];
  if (limit !== undefined && (!/^[0-9]+$/.test(limit) || Number(limit) < 1)) throw new UsageError(`--clipboard-limit ${limit}: not a positive number of bytes`);
  const credentials = security.loadSecurity(values, secured.settings);
  const server = new ReceiverServer({
    host: listen.host,
    port: listen.port,
    logger,
    limits: config.limits,
    security: credentials,
    iviOwner: (iviId) => security.ownerOf(secured.ownership, iviId),
    // Transmitters see the display's own seat capabilities and server-side decorations.
    seatCapabilities: display.seatCapabilities,
    decorations: display.serverSideDecorations,
    pointerConstraints: display.pointerConstraints,
    idleInhibit: display.idleInhibit,
    textInput: display.textInput,
    viewporter: display.viewporter,
    fractionalScale: display.fractionalScale,
    ...(limit !== undefined ? { clipboardLimit: Number(limit) } : {}),
    ...(steady !== undefined ? { steady } : {}),
  });
  server.clipboard.attach(display.selection);
  display.on('seat-capabilities', (caps) => server.setSeatCapabilities(caps));
  const info = display.outputInfo();
  if (info !== null) server.setOutput(info);
  display.attach(server.scene);
  const address = await server.listen();
  logger.info(`listening on ${address.address}:${address.port}, showing on ${values.display ?? process.env['WAYLAND_DISPLAY'] ?? 'wayland-0'} (${shell} shell)`);
  logger.info(`transmitters must prove: ${security.describeSecurity(credentials)}`);
  if (credentials.tls === undefined && credentials.tokens === undefined && !security.isLoopback(address.address)) {
    logger.warn(
      `listening on ${address.address} without TLS or token: anyone who reaches this port can show windows here and receive the input given to them (README "Security": --tls-cert/--tls-key/--tls-ca, --token-file)`,
    );
  }

  let status: ReceiverStatus | null = null;
  if (statusAddress !== null) {
    status = new ReceiverStatus({ server, logTail, listen: `${address.address}:${address.port}`, version: packageVersion(), token, logger });
    const bound = await status.server.listen(statusAddress.host, statusAddress.port);
    logger.info(`status on http://${bound.address}:${bound.port}/ (page) and /status`);
  }

  const stopStats = values.stats === true ? startStats(logger, () => ({ display: display.stats(), ...server.stats(), ...(steady !== undefined ? { native: steady.stats() } : {}) })) : () => {};
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    stopStats();
    await status?.close();
    await server.close({ graceMs: SHUTDOWN_GRACE_MS });
    display.close();
    process.exit(code);
  };
  display.on('close', (reason) => {
    if (stopping) return; // our own stop() closed it
    logger.error(`the local compositor went away${reason === undefined ? '' : `: ${reason.message}`}`);
    void stop(1);
  });
  if (values.oneshot === true) {
    server.once('peer-gone', (peer, reason) => {
      logger.info(`${peer.name} disconnected; exiting (--oneshot)`);
      void stop(reason === undefined ? 0 : 1);
    });
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
}

main(process.argv.slice(2)).catch((err: unknown) => fail('waltham-receiver', USAGE, err));
