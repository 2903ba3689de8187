/**
 * The link's frames end to end, between a real ReceiverLink and a real
 * ReceiverServer over TCP: lossy frames, codecs within what the receiver
 * announced, and flow control when the receiver is slower than the
 * application.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type Content, type SceneSurface } from '../../shared/scene/scene.js';
import { ReceiverServer, type ReceiverServerOptions } from '../../receiver/server.js';
import { ReceiverLink, type ReceiverLinkOptions } from './link.js';
import { ASYNC_ENCODE_PIXELS } from './send.js';
import { prng } from '../../shared/test/helpers.js';
import { captureLogger, full, paintRect, pattern, produce, samePixels, sleep, TestOwner, toplevelRole, update, waitFor } from '../../shared/remote/test/fixtures.js';
import { CODEC_LZ4, CODEC_LZ4_RGB, CODEC_LZ4_SPANS, CODEC_RAW, CODEC_SOLID, CODEC_ZSTD, codecBit, LOCAL_CODECS } from '../../shared/remote/tiles.js';
import { CodecPolicy, type CodecChoice, type FrameStats, type LinkSample } from '../../shared/remote/codec-policy.js';
import { CODEC_JPEG, CODEC_WEBP, LOSSY_CODECS } from '../../shared/remote/lossy.js';

/** A policy whose choice the test sets, and which records what the link fed it. */
class ScriptedPolicy extends CodecPolicy {
  next: CodecChoice = { kind: 'lz4' };
  readonly frames: FrameStats[] = [];
  readonly samples: LinkSample[] = [];

  override choose(): CodecChoice {
    return this.next;
  }

  override frameEncoded(stats: FrameStats): void {
    this.frames.push(stats);
    super.frameEncoded(stats);
  }

  override linkSample(sample: LinkSample): void {
    this.samples.push(sample);
    super.linkSample(sample);
  }
}

/** The codec of every wthp_content.tile the receiver got, from its trace. */
function tileCodecs(lines: readonly string[]): number[] {
  const out: number[] = [];
  for (const l of lines) {
    const m = /wthp_content@\d+\.tile\(wthp_surface@\d+, -?\d+, -?\d+, \d+, \d+, (\d+),/.exec(l);
    if (m !== null) out.push(Number(m[1]));
  }
  return out;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function connectedPair(extra: Partial<ReceiverLinkOptions> = {}, receiverOptions: Partial<ReceiverServerOptions> = {}) {
  const log = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: log.logger, ...receiverOptions });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const owner = new TestOwner('app');
  const linkLog = captureLogger();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: linkLog.logger, backoff: { initialMs: 50, maxMs: 400 }, ...extra });
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  return { receiver, receiverLog: log, producer, owner, link, linkLog };
}

function remoteToplevel(scene: Scene, title: string): SceneSurface | undefined {
  return [...scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.role.title === title && s.content !== null);
}

/** A smooth, photo-like xrgb8888 picture (what lossy codecs are for), shifted by `phase`. */
function picture(width: number, height: number, phase: number): Content {
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      pixels[i] = (128 + 100 * Math.sin((x + phase) / 23)) & 0xff;
      pixels[i + 1] = (128 + 100 * Math.cos((y + phase) / 17)) & 0xff;
      pixels[i + 2] = ((x + y + phase) / 2) & 0xff;
      pixels[i + 3] = 0xff;
    }
  }
  return { width, height, format: 'xrgb8888', pixels, scale: 1, transform: 0 };
}

/** Mean absolute difference of the colour bytes. */
function meanError(a: Content, b: Content): number {
  let sum = 0;
  for (let i = 0; i < a.pixels.length; i += 4) {
    for (let c = 0; c < 3; c++) sum += Math.abs(a.pixels[i + c]! - b.pixels[i + c]!);
  }
  return sum / ((a.pixels.length / 4) * 3);
}

describe('ReceiverLink lossy frames', () => {
  it('asks the receiver how frames are shown only while the producer waits for presentation feedback', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const first = pattern(64, 48, 1);
    const s = produce(producer, owner, toplevelRole({ title: 'paced' }), first);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'paced'), 'the window');
    // Frame callbacks only: no wthp_presentation.feedback reaches the receiver.
    for (let i = 2; i < 5; i++) {
      const n = owner.of('presented').length;
      update(s, pattern(64, 48, i), [full(first)]);
      await waitFor(() => samePixels(remote.content, s.content), `frame ${i} on the receiver`);
      expect(remote.presentationWanted).toBe(false);
      remote.owner.feedback.presented(remote, i);
      await waitFor(() => owner.of('presented').length > n, `frame ${i} presented`);
    }
    // The producer waits for feedback: the next frame asks the receiver.
    s.presentationWanted = true;
    update(s, pattern(64, 48, 9), [full(first)]);
    await waitFor(() => remote.presentationWanted, 'wthp_presentation.feedback on the receiver');
  });

  it('--codec lossy: sends changes as lossy tiles the receiver shows with their commit, then the exact pixels once they settle', async () => {
    const { receiver, producer, owner, link } = await connectedPair({ codec: 'lossy', lossySettleMs: 150 });
    const first = picture(320, 200, 0);
    const s = produce(producer, owner, toplevelRole({ title: 'video' }), first);
    // The first frame of a buffer size is lossless: the receiver starts from exact pixels.
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'video'), 'the window');
    await waitFor(() => samePixels(remote.content, first), 'the exact first frame');
    expect(link.stats().lossyFrames).toBe(0);

    // At each commit the receiver applies, the pixels are already the decoded new frame.
    const errorsAtCommit: number[] = [];
    let second: Content | null = null;
    remote.on('commit', () => {
      if (second !== null && remote.content !== null) errorsAtCommit.push(meanError(remote.content, second));
    });
    second = picture(320, 200, 40);
    update(s, second, [full(second)]);
    await waitFor(() => link.stats().lossyFrames === 1 && errorsAtCommit.length > 0, 'the lossy frame');
    expect(errorsAtCommit[0]).toBeLessThan(4);
    expect(meanError(first, second)).toBeGreaterThan(20);
    expect(samePixels(remote.content, second)).toBe(false);
    expect(link.stats().tiles).toBeGreaterThan(0);

    // The frame callback of the lossy frame paces the application like any other.
    remote.owner.feedback.presented(remote, 777);
    await waitFor(() => owner.of('presented').some((c) => c.args[1] === 777), 'the presentation of the lossy frame');

    // Nothing changes for a while: the exact pixels replace the lossy ones.
    await waitFor(() => samePixels(remote.content, second), 'the exact pixels after the content settled');
    expect(link.stats().lossyFrames).toBe(1);
    expect(receiver.peers).toHaveLength(1);
  });

  it('sends frames of hundreds of lossy tiles that the receiver decodes while more bytes arrive', async () => {
    const { receiver, receiverLog, producer, owner, link } = await connectedPair({ codec: 'lossy' });
    const random = prng(5);
    const noise = (): Content => {
      const pixels = new Uint8Array(1280 * 720 * 4);
      for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
      return { width: 1280, height: 720, format: 'xrgb8888', pixels, scale: 1, transform: 0 };
    };
    const s = produce(producer, owner, toplevelRole({ title: 'noise' }), noise());
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'noise'), 'the window');
    // The receiver's display presents every 20 ms.
    const display = setInterval(() => remote.owner.feedback.presented(remote, Date.now()), 20);
    cleanups.push(() => clearInterval(display));
    for (let i = 1; i <= 3; i++) {
      const c = noise();
      update(s, c, [full(c)]);
      await waitFor(() => link.stats().lossyFrames === i || receiver.peers.length === 0, `lossy frame ${i}`, 20_000);
    }
    await waitFor(() => receiver.peers[0]?.stats().commits === 4 || receiver.peers.length === 0, 'the last commit', 20_000);
    expect(receiverLog.text()).not.toMatch(/does not decode|dropped/);
    expect(receiver.peers).toHaveLength(1);
    expect(link.stats().tiles).toBeGreaterThan(100);
  });

  it('drops a lossy frame whose surface went away during its encode, and keeps serving the others', async () => {
    const { receiver, receiverLog, producer, owner, link, linkLog } = await connectedPair({ codec: 'lossy' });
    const keep = produce(producer, owner, toplevelRole({ title: 'keep' }), picture(160, 100, 0));
    const gone = produce(producer, owner, toplevelRole({ title: 'gone' }), picture(160, 100, 0));
    const remoteKeep = await waitFor(() => remoteToplevel(receiver.scene, 'keep'), 'the window kept');
    await waitFor(() => remoteToplevel(receiver.scene, 'gone'), 'the window to go');
    const next = picture(160, 100, 50);
    update(gone, next, [full(next)]);
    // The link sends in a microtask and the encode runs on worker threads; its result can only
    // come back in a later turn of the event loop, so after a few microtasks it is in flight.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    gone.destroy();
    update(keep, next, [full(next)]);
    await waitFor(() => link.stats().lossyFrames >= 1 && remoteKeep.content !== null && meanError(remoteKeep.content, next) < 4, 'the lossy frame of the other window');
    await waitFor(() => remoteToplevel(receiver.scene, 'gone') === undefined, 'the window gone');
    await link.roundtrip();
    expect(link.stats().lossyFrames).toBe(1);
    expect(link.connected).toBe(true);
    expect(receiverLog.text()).not.toMatch(/error/i);
    expect(linkLog.text()).not.toMatch(/error|failed/i);
    expect(keep.destroyed).toBe(false);
  });

  it('sends lossless frames to a receiver that does not announce the lossy codecs', async () => {
    const { receiver, producer, owner, link } = await connectedPair(
      { codec: 'lossy' },
      { codecs: codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) | codecBit(CODEC_LZ4) | codecBit(CODEC_LZ4_SPANS) },
    );
    const s = produce(producer, owner, toplevelRole({ title: 'old' }), picture(120, 80, 0));
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'old'), 'the window');
    const next = picture(120, 80, 30);
    update(s, next, [full(next)]);
    await waitFor(() => samePixels(remote.content, next), 'the exact second frame');
    expect(link.stats().lossyFrames).toBe(0);
  });
});

describe('ReceiverLink codec choice', () => {
  async function scripted(receiverCodecs: number) {
    const trace: string[] = [];
    const policy = new ScriptedPolicy();
    const pair = await connectedPair({ codec: 'auto', codecPolicy: policy }, { codecs: receiverCodecs, connection: { trace: (l) => trace.push(l) } });
    return { ...pair, policy, trace };
  }

  /** A frame whose pixels compress well (stripes), so that every band is compressed. */
  function stripes(seed: number): Content {
    const c = pattern(256, 128, seed, 'xrgb8888');
    const px = new Uint32Array(c.pixels.buffer);
    for (let i = 0; i < px.length; i++) px[i] = (0xff000000 | (((i >> 3) + seed) * 0x010203)) >>> 0;
    return c;
  }

  it('encodes each frame with the policy’s choice, within the codecs the receiver announced, and feeds it back', async () => {
    const { receiver, producer, owner, link, policy, trace } = await scripted(LOCAL_CODECS | LOSSY_CODECS);
    let content = stripes(1);
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    await waitFor(() => samePixels(remote.content, content), 'the first frame');
    expect(tileCodecs(trace)).not.toContain(CODEC_ZSTD);

    policy.next = { kind: 'zstd', level: 1 };
    trace.length = 0;
    content = stripes(2);
    update(s, content, [full(content)]);
    remote.owner.feedback.presented(remote, 1);
    await waitFor(() => samePixels(remote.content, content), 'the zstd frame');
    expect(tileCodecs(trace)).toContain(CODEC_ZSTD);
    expect(tileCodecs(trace)).not.toContain(CODEC_LZ4);

    policy.next = { kind: 'lossy', codec: CODEC_WEBP, quality: 70 };
    trace.length = 0;
    content = stripes(3);
    update(s, content, [full(content)]);
    remote.owner.feedback.presented(remote, 2);
    await waitFor(() => link.stats().lossyFrames === 1 && tileCodecs(trace).length > 0, 'the lossy frame');
    expect(new Set(tileCodecs(trace))).toEqual(new Set([CODEC_WEBP]));

    // What the link measured reached the policy: frames of each family, and the socket.
    expect(policy.frames.map((f) => f.family)).toEqual(['lz4', 'zstd', 'lossy']);
    expect(policy.frames[1]!.rawBytes).toBe(256 * 128 * 4);
    expect(policy.frames[1]!.encodedBytes).toBeLessThan(policy.frames[1]!.rawBytes);
    expect(policy.samples.length).toBeGreaterThan(0);
    expect(policy.samples.reduce((n, x) => n + x.ackedBytes, 0)).toBeGreaterThan(0);
  });

  it('falls back to what the receiver announced: lz4 for zstd, lossless for an unannounced lossy codec', async () => {
    const { receiver, producer, owner, link, policy, trace } = await scripted(LOCAL_CODECS & ~codecBit(CODEC_ZSTD) | codecBit(CODEC_WEBP));
    let content = stripes(1);
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    await waitFor(() => samePixels(remote.content, content), 'the first frame');
    for (const [i, choice] of ([{ kind: 'zstd', level: 1 }, { kind: 'lossy', codec: CODEC_JPEG, quality: 80 }] as const).entries()) {
      policy.next = choice;
      content = stripes(i + 2);
      update(s, content, [full(content)]);
      remote.owner.feedback.presented(remote, i);
      await waitFor(() => samePixels(remote.content, content), `frame ${i + 2}, exact`);
    }
    const codecs = new Set(tileCodecs(trace));
    expect(codecs.has(CODEC_LZ4) || codecs.has(CODEC_LZ4_SPANS) || codecs.has(CODEC_LZ4_RGB)).toBe(true);
    expect(codecs.has(CODEC_ZSTD)).toBe(false);
    expect(codecs.has(CODEC_JPEG)).toBe(false);
    expect(link.stats().lossyFrames).toBe(0);
  });
});

describe('ReceiverLink flow control', () => {
  it('merges commits while the receiver is slower than the application: bounded queue, paced callbacks, newest pixels shown', async () => {
    const maxFramesInFlight = 2;
    const { receiver, producer, owner, link } = await connectedPair({ maxFramesInFlight, codec: 'raw' });
    const width = 256;
    const height = 256;
    const frameBytes = width * height * 4;
    let content = pattern(width, height, 0);
    const s = produce(producer, owner, toplevelRole({ title: 'fast' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'fast'), 'the window');
    let receiverCommits = 0;
    remote.on('commit', () => receiverCommits++);

    // A slow consumer: the receiver presents every 25 ms; its socket stops being read for a while.
    let presentations = 0;
    const consumer = setInterval(() => {
      presentations++;
      remote.owner.feedback.presented(remote, presentations);
    }, 25);
    cleanups.push(() => clearInterval(consumer));
    const peerStream = receiver.peers[0]!.peer.stream;

    // The application commits a new full frame (raw: 256 KiB each) every 2 ms, whatever the pacing.
    let maxQueued = 0;
    const commits = 200;
    for (let i = 1; i <= commits; i++) {
      content = pattern(width, height, i);
      update(s, content, [full(content)]);
      maxQueued = Math.max(maxQueued, link.stats().queuedBytes);
      if (i === 50) peerStream.pause();
      if (i === 120) peerStream.resume();
      await sleep(2);
    }
    const stats = link.stats();
    // Unmerged, 200 frames would be 50 MiB of tiles; merged, a few frames at most wait in the socket.
    expect(maxQueued).toBeLessThanOrEqual((maxFramesInFlight + 1) * (frameBytes + 64 * 1024));
    expect(stats.commitsCoalesced).toBeGreaterThan(commits / 2);
    expect(stats.commitsSent + stats.commitsCoalesced).toBeGreaterThanOrEqual(commits);
    // Frames go out only as the receiver answers their callbacks (each presentation answers at
    // most the frames in flight), after the first frame.
    expect(stats.commitsSent).toBeLessThanOrEqual(1 + maxFramesInFlight * (presentations + 1));
    // The application was paced by the presentations, not by its own commits.
    const answered = owner.of('presented').length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(presentations);

    // The receiver catches up and shows the newest frame.
    await waitFor(() => samePixels(remote.content, content), 'the newest pixels', 10_000);
    expect(receiverCommits).toBeLessThan(commits / 2);
    expect(receiver.peers).toHaveLength(1);
  });
});

/** Two large windows whose first frames are ready in the same flush, until the receiver shows both. */
async function twoLargeWindows({ receiver, producer, owner }: Awaited<ReturnType<typeof connectedPair>>, seed: number): Promise<void> {
  const a = pattern(1024, 640, seed);
  const b = pattern(800, 700, seed + 1);
  produce(producer, owner, toplevelRole({ title: 'a' }), a);
  produce(producer, owner, toplevelRole({ title: 'b' }), b);
  const ra = await waitFor(() => remoteToplevel(receiver.scene, 'a'), 'window a');
  const rb = await waitFor(() => remoteToplevel(receiver.scene, 'b'), 'window b');
  await waitFor(() => samePixels(ra.content, a) && samePixels(rb.content, b), 'both windows', 10_000);
}

describe('ReceiverLink frames encoded on a worker thread', () => {
  it('sends large frames from a worker while commits merge, small ones at once; the receiver shows every last frame', async () => {
    const { receiver, producer, owner, link } = await connectedPair({ codec: 'lz4', encodeThread: 'worker' });
    const width = 1024;
    const height = 640;
    expect(width * height).toBeGreaterThanOrEqual(ASYNC_ENCODE_PIXELS);
    let content = pattern(width, height, 0);
    const s = produce(producer, owner, toplevelRole({ title: 'large' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'large'), 'the window');
    const consumer = setInterval(() => remote.owner.feedback.presented(remote, Date.now()), 5);
    cleanups.push(() => clearInterval(consumer));
    expect(link.stats().workerFrames).toBeGreaterThan(0);

    // Full frames faster than they can be encoded: merged while the worker runs.
    const commits = 40;
    for (let i = 1; i <= commits; i++) {
      content = pattern(width, height, i);
      update(s, content, [full(content)]);
      if (i % 4 === 0) await sleep(1);
    }
    await waitFor(() => samePixels(remote.content, content), 'the newest full frame', 10_000);
    const stats = link.stats();
    expect(stats.workerFrames).toBeGreaterThan(1);
    expect(stats.commitsCoalesced).toBeGreaterThan(0);

    // A small damage goes out from the JavaScript thread.
    const workerFrames = stats.workerFrames;
    content = paintRect(content, { x: 10, y: 10, width: 30, height: 20 }, 0xff00ff00);
    update(s, content, [{ x: 10, y: 10, width: 30, height: 20 }]);
    await waitFor(() => samePixels(remote.content, content), 'the small change', 10_000);
    expect(link.stats().workerFrames).toBe(workerFrames);
    expect(receiver.peers).toHaveLength(1);
  });

  it('auto (the default): one large frame on the JavaScript thread, several at once on workers', async () => {
    const pair = await connectedPair({ codec: 'lz4' });
    const { receiver, producer, owner, link } = pair;
    const content = pattern(1024, 640, 3);
    produce(producer, owner, toplevelRole({ title: 'main thread' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'main thread'), 'the window');
    await waitFor(() => samePixels(remote.content, content), 'the pixels', 10_000);
    expect(link.stats().workerFrames).toBe(0);
    expect(link.stats().commitsSent).toBeGreaterThan(0);

    // Two more windows whose first frames are ready in the same flush.
    await twoLargeWindows(pair, 4);
    expect(link.stats().workerFrames).toBe(2);
  });

  it('encodes on the JavaScript thread with encodeThread main, several large frames or not', async () => {
    const pair = await connectedPair({ codec: 'lz4', encodeThread: 'main' });
    const { link } = pair;
    await twoLargeWindows(pair, 6);
    expect(link.stats().workerFrames).toBe(0);
  });
});
