import { afterEach, describe, expect, it } from 'vitest';
import type { SceneSurface, ToplevelRole } from '../shared/scene/scene.js';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpDecorationManagerProxy,
  WthpIdleInhibitManagerProxy,
  WthpPointerConstraintsProxy,
  WthpRemoteShellProxy,
  WthpToplevelDecorationMode,
} from '../shared/generated/waltham/waltham.js';
import { PeerError } from '../shared/wire/errors.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { captureLogger, globalBinder, waitFor } from '../shared/remote/test/fixtures.js';
import { ReceiverServer, type ReceiverServerOptions } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(extra: Partial<ReceiverServerOptions>) {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, ...extra });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const bind = await globalBinder(client);
  const names = (await client.globals()).map((g) => g.interface);
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
  const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  /** A mapped 4x4 toplevel. */
  const window = () => {
    const surface = compositor.createSurface();
    const toplevel = shell.getToplevel(surface);
    content.begin(surface, 4, 4, FORMAT_ARGB8888);
    content.tile(surface, 0, 0, 4, 4, CODEC_SOLID, new Uint8Array([0, 0, 0xff, 0xff]));
    return { surface, toplevel };
  };
  return { receiver, client, names, bind, window };
}

const only = (receiver: ReceiverServer): SceneSurface => [...receiver.scene.surfaces][0]!;

describe('receiver: what its compositor offers', () => {
  it('offers wthp_decoration_manager, wthp_pointer_constraints and wthp_idle_inhibit_manager only when told its compositor has them', async () => {
    const without = await start({});
    expect(without.names).not.toContain('wthp_decoration_manager');
    expect(without.names).not.toContain('wthp_pointer_constraints');
    expect(without.names).not.toContain('wthp_idle_inhibit_manager');
    const all = await start({ decorations: true, pointerConstraints: true, idleInhibit: true });
    expect(all.names).toEqual(expect.arrayContaining(['wthp_decoration_manager', 'wthp_pointer_constraints', 'wthp_idle_inhibit_manager']));
  });

  it('carries the decoration wish, constraint and inhibitor into the scene with the next commit, and the mode chosen back', async () => {
    const t = await start({ decorations: true, pointerConstraints: true, idleInhibit: true });
    const w = t.window();
    const modes: number[] = [];
    const deco = t.bind<WthpDecorationManagerProxy>(WthpDecorationManagerProxy).getToplevelDecoration(w.toplevel);
    deco.listen({ configure: (m) => modes.push(m) });
    deco.setMode(WthpToplevelDecorationMode.ServerSide);
    t.bind<WthpPointerConstraintsProxy>(WthpPointerConstraintsProxy).constrainPointer(w.surface, 1);
    const inhibitor = t.bind<WthpIdleInhibitManagerProxy>(WthpIdleInhibitManagerProxy).createInhibitor(w.surface);
    w.surface.commit();
    await t.client.roundtrip();
    const s = only(t.receiver);
    expect((s.role as ToplevelRole).decoration).toBe('server');
    expect(s.pointerConstraint).toBe('lock');
    expect(s.idleInhibit).toBe(true);
    s.owner.feedback.decorationMode?.(s, 'server');
    await waitFor(() => modes.length > 0, 'the mode back');
    expect(modes).toEqual([WthpToplevelDecorationMode.ServerSide]);
    inhibitor.destroy();
    w.surface.commit();
    await t.client.roundtrip();
    expect(s.idleInhibit).toBe(false);
  });

  it('drops a transmitter that sends an unknown decoration mode or constraint kind, with the error', async () => {
    const a = await start({ decorations: true });
    const wa = a.window();
    a.bind<WthpDecorationManagerProxy>(WthpDecorationManagerProxy).getToplevelDecoration(wa.toplevel).setMode(7);
    const ea = await a.client.closed;
    expect(ea).toBeInstanceOf(PeerError);
    expect((ea as PeerError).text).toMatch(/wthp_toplevel_decoration@\d+\.set_mode: unknown mode 7/);

    const b = await start({ pointerConstraints: true });
    const wb = b.window();
    b.bind<WthpPointerConstraintsProxy>(WthpPointerConstraintsProxy).constrainPointer(wb.surface, 9);
    const eb = await b.client.closed;
    expect((eb as PeerError).text).toMatch(/constrain_pointer: unknown kind 9/);
  });
});
