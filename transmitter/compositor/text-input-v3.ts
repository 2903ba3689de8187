/**
 * zwp_text_input_manager_v3 v1: text inputs follow keyboard focus (enter
 * when a surface of their client gets it, leave when it goes). The state an
 * application commits on an enabled text input becomes its focused
 * surface's `SceneSurface.textInput` (announced with a `text-input` window
 * request), which consumers carry to their compositor's input method; what
 * that input method composes comes back through `textInputDone` and goes to
 * the application's text input, ending with done and the number of commits
 * the application made (text-input v3's serial).
 */
import { ZwpTextInputManagerV3Resource, type ZwpTextInputV3Resource } from '../../shared/generated/wayland/index.js';
import type { SceneSurface } from '../../shared/scene/scene.js';
import { textInputEventsProblem, textInputStateProblem, type TextInputEvents, type TextInputState } from '../../shared/scene/text-input.js';
import type { ClientState } from './client-state.js';
import type { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

interface Pending {
  enabled: boolean;
  surrounding: TextInputState['surrounding'];
  changeCause: number;
  contentHint: number;
  contentPurpose: number;
  cursorRect: TextInputState['cursorRect'];
}

interface TextInput {
  readonly resource: ZwpTextInputV3Resource;
  readonly client: ClientState;
  readonly pending: Pending;
  /** Applied by the last commit; null: disabled. */
  current: TextInputState | null;
  commits: number;
}

const deliver = new WeakMap<DisplayContext, (scene: SceneSurface, events: TextInputEvents) => void>();

/** What a consumer's input method composed for `scene`: to the text inputs entered on it. */
export function textInputDone(ctx: DisplayContext, scene: SceneSurface, events: TextInputEvents): void {
  deliver.get(ctx)?.(scene, events);
}

function initial(enabled: boolean): Pending {
  return { enabled, surrounding: null, changeCause: 0, contentHint: 0, contentPurpose: 0, cursorRect: null };
}

export function registerTextInputV3(ctx: DisplayContext): void {
  const inputs = new Map<ClientState, Set<TextInput>>();
  /** The surface each text input was entered on. */
  const entered = new Map<TextInput, Surface>();

  /** The scene state of `surface`: the newest enabled text input entered on it. */
  const publish = (surface: Surface, from: TextInput): void => {
    if (surface.isDestroyed) return;
    let state = from.current;
    if (state !== null && textInputStateProblem(state) !== null) {
      // What cannot travel (a surrounding text over the limit, say) is left out; the rest still composes.
      ctx.logger.debug({ client: from.client.name }, `${from.resource.toString()}: ${textInputStateProblem(state)}; carried without surrounding text`);
      state = { ...state, surrounding: null };
      if (textInputStateProblem(state) !== null) state = null;
    }
    if (state === null) {
      // Another text input of the client may still be enabled on the surface.
      for (const [ti, s] of entered) if (s === surface && ti !== from && ti.current !== null) return publish(surface, ti);
    }
    if (surface.scene.textInput === state) return;
    surface.scene.textInput = state;
    surface.scene.request({ kind: 'text-input' });
  };

  const enter = (ti: TextInput, surface: Surface | null): void => {
    const was = entered.get(ti);
    if (was === surface) return;
    if (was !== undefined) {
      entered.delete(ti);
      // After leave the application enables again at the next enter (text-input v3).
      ti.current = null;
      publish(was, ti);
      if (!was.isDestroyed) ti.resource.sendLeave(was.resource);
    }
    // After wl_keyboard.enter, as clients expect: a client without a keyboard gets no enter.
    if (surface !== null && !surface.isDestroyed && surface.client === ti.client && surface.client.keyboards.size > 0) {
      entered.set(ti, surface);
      ti.resource.sendEnter(surface.resource);
    }
  };

  ctx.seat.on('keyboard-focus', (_previous, current) => {
    for (const [client, set] of inputs) for (const ti of set) enter(ti, current !== null && current.client === client ? current : null);
  });

  deliver.set(ctx, (scene, events) => {
    const problem = textInputEventsProblem(events);
    if (problem !== null) {
      ctx.logger.warn(`text for an application dropped: ${problem}`);
      return;
    }
    for (const [ti, surface] of entered) {
      if (surface.scene !== scene || ti.current === null || ti.resource.destroyed) continue;
      const r = ti.resource;
      const p = events.preedit;
      if (p !== null) r.sendPreeditString(p.text, p.cursorBegin, p.cursorEnd);
      if (events.commit !== null) r.sendCommitString(events.commit);
      const d = events.deleteSurrounding;
      if (d !== null) r.sendDeleteSurroundingText(d.before, d.after);
      r.sendDone(ti.commits >>> 0);
    }
  });

  ctx.server.addGlobal(ZwpTextInputManagerV3Resource, 1, (manager, wsClient) => {
    const client = ctx.clientOf(wsClient);
    manager.listen({
      destroy: () => {},
      getTextInput: (resource) => {
        let set = inputs.get(client);
        if (set === undefined) {
          set = new Set();
          inputs.set(client, set);
        }
        const mine = set;
        const ti: TextInput = { resource, client, pending: initial(false), current: null, commits: 0 };
        mine.add(ti);
        const p = ti.pending;
        resource.listen({
          destroy: () => {},
          // enable resets the state to its initial values (text-input v3).
          enable: () => Object.assign(p, initial(true)),
          disable: () => {
            p.enabled = false;
          },
          setSurroundingText: (text, cursor, anchor) => {
            p.surrounding = { text, cursor, anchor };
          },
          setTextChangeCause: (cause) => {
            p.changeCause = cause;
          },
          setContentType: (hint, purpose) => {
            p.contentHint = hint;
            p.contentPurpose = purpose;
          },
          setCursorRectangle: (x, y, width, height) => {
            p.cursorRect = { x, y, width, height };
          },
          commit: () => {
            ti.commits++;
            const surface = entered.get(ti);
            // Requests between leave and the next enter are ignored (text-input v3).
            if (surface === undefined) return;
            ti.current = p.enabled ? { surrounding: p.surrounding, changeCause: p.changeCause, contentHint: p.contentHint, contentPurpose: p.contentPurpose, cursorRect: p.cursorRect } : null;
            publish(surface, ti);
          },
        });
        resource.onDestroy(() => {
          mine.delete(ti);
          if (mine.size === 0) inputs.delete(client);
          const surface = entered.get(ti);
          entered.delete(ti);
          ti.current = null;
          if (surface !== undefined) publish(surface, ti);
        });
        const focus = ctx.seat.keyboardFocus;
        if (focus !== null && focus.client === client) enter(ti, focus);
      },
    });
  });
}
