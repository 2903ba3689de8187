/** Test helpers for the remoting tests: scene producers, recording feedback, logs, waiting. */
import {
  SceneSurface,
  type Content,
  type Rect,
  type Role,
  type Scene,
  type SceneFeedback,
  type SceneOwner,
} from '../../scene/scene.js';

import type { WalthamClient } from '../../waltham/index.js';
import type { WireObject, WireObjectClass } from '../../wire/object.js';

export { toplevelRole } from '../../scene/scene.js';
export { captureLogger, sleep, type LogLine } from '../../test/helpers.js';

export interface FeedbackCall {
  readonly name: keyof SceneFeedback;
  readonly args: readonly unknown[];
}

/** A SceneOwner whose feedback records every call. */
export class TestOwner implements SceneOwner {
  readonly calls: FeedbackCall[] = [];
  readonly feedback: SceneFeedback;

  constructor(readonly name: string) {
    const record =
      (name: keyof SceneFeedback) =>
      (...args: unknown[]): void => {
        this.calls.push({ name, args });
      };
    // Every method of SceneFeedback, checked by the compiler: a new method must be added here.
    const methods: Record<keyof SceneFeedback, true> = {
      presented: true,
      configure: true,
      close: true,
      decorationMode: true,
      preferredScale: true,
      popupConfigure: true,
      popupDone: true,
      pointerEnter: true,
      pointerLeave: true,
      pointerMotion: true,
      pointerButton: true,
      pointerAxis: true,
      pointerAxisSource: true,
      pointerAxisStop: true,
      pointerAxisDiscrete: true,
      pointerFrame: true,
      pointerRelativeMotion: true,
      pointerConstraintActive: true,
      textInputDone: true,
      keyboardEnter: true,
      keyboardLeave: true,
      key: true,
      modifiers: true,
      keymap: true,
      repeatInfo: true,
      touchDown: true,
      touchUp: true,
      touchMotion: true,
      touchFrame: true,
      touchCancel: true,
    };
    const names = Object.keys(methods) as (keyof SceneFeedback)[];
    this.feedback = Object.fromEntries(names.map((n) => [n, record(n)])) as unknown as SceneFeedback;
  }

  of(name: keyof SceneFeedback): FeedbackCall[] {
    return this.calls.filter((c) => c.name === name);
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/** Pixels of a width x height surface, each pixel a function of its position (B, G, R, A in memory). */
export function pattern(width: number, height: number, seed = 1, format: Content['format'] = 'argb8888'): Content {
  const pixels = new Uint8Array(width * height * 4);
  const px = new Uint32Array(pixels.buffer);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      px[y * width + x] = (0xff000000 | ((x * 7 + seed * 13) & 0xff) << 16 | ((y * 5 + seed) & 0xff) << 8 | ((x ^ y) + seed) & 0xff) >>> 0;
    }
  }
  return { width, height, format, pixels, scale: 1, transform: 0 };
}

export function solid(width: number, height: number, argb: number): Content {
  const pixels = new Uint8Array(width * height * 4);
  new Uint32Array(pixels.buffer).fill(argb >>> 0);
  return { width, height, format: 'argb8888', pixels, scale: 1, transform: 0 };
}

export const full = (c: Content): Rect => ({ x: 0, y: 0, width: c.width, height: c.height });

/** A producer-side surface: added to the scene, given a role and content, committed. */
export function produce(scene: Scene, owner: SceneOwner, role: Role, content: Content | null): SceneSurface {
  const s = new SceneSurface(owner);
  scene.add(s);
  s.role = role;
  s.content = content;
  s.commit({ damage: content === null ? [] : [full(content)], resized: true, roleChanged: true, stackingChanged: false });
  return s;
}

/** New content for a surface, committed with damage. */
export function update(s: SceneSurface, content: Content, damage: readonly Rect[]): void {
  const resized = s.content === null || s.content.width !== content.width || s.content.height !== content.height;
  s.content = content;
  s.commit({ damage, resized, roleChanged: false, stackingChanged: false });
}

/** Copy of `c` with a rectangle painted in one colour. */
export function paintRect(c: Content, r: Rect, argb: number): Content {
  const pixels = c.pixels.slice();
  const px = new Uint32Array(pixels.buffer);
  for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) px[y * c.width + x] = argb >>> 0;
  return { ...c, pixels };
}

export function samePixels(a: Content | null, b: Content | null): boolean {
  if (a === null || b === null) return a === b;
  return a.width === b.width && a.height === b.height && a.format === b.format && Buffer.from(a.pixels).equals(Buffer.from(b.pixels));
}

/** Poll `fn` until it returns a value other than undefined/false/null, or fail after `timeoutMs`. */
export async function waitFor<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}


/**
 * For a test acting as a transmitter: binds the globals the receiver
 * announced, by interface, at the version it announced.
 */
export async function globalBinder(client: WalthamClient): Promise<<T extends WireObject>(ctor: WireObjectClass<T>) => T> {
  const globals = await client.globals();
  return (ctor) => {
    const g = globals.find((x) => x.interface === ctor.spec.name);
    if (g === undefined) throw new Error(`the receiver has no ${ctor.spec.name}`);
    return client.bind(ctor, g.name, g.version);
  };
}
