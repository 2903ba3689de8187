/**
 * Double-buffered surface state as wl_surface defines it (wayland.xml,
 * wl_surface.commit, wl_subsurface.set_sync): requests set pending state; a
 * commit applies it or, for a synchronized subsurface, caches it, and the
 * state of a later commit goes on top of the cached one. These are the
 * fields both ends keep alike (the transmitter's wl_surface, the receiver's
 * wthp_surface); each adds its own (the buffer, its offset, role state).
 */
import type { Rect } from './scene.js';

export interface BufferedState<Frame> {
  /** wl_surface.damage, surface-local. */
  surfaceDamage: Rect[];
  /** wl_surface.damage_buffer, buffer pixels. */
  bufferDamage: Rect[];
  /** Frame callbacks, in request order. */
  frames: Frame[];
  /** undefined: not set in this state. */
  opaque: Rect[] | undefined;
  /** undefined: not set in this state; null: infinite (the whole surface). */
  input: Rect[] | null | undefined;
  transform: number | undefined;
  scale: number | undefined;
}

export function emptyBufferedState<Frame>(): BufferedState<Frame> {
  return {
    surfaceDamage: [],
    bufferDamage: [],
    frames: [],
    opaque: undefined,
    input: undefined,
    transform: undefined,
    scale: undefined,
  };
}

/** `newer` applied on top of `older`: damage and frame callbacks accumulate, what `newer` sets replaces. */
export function mergeBufferedStates<Frame>(older: BufferedState<Frame>, newer: BufferedState<Frame>): BufferedState<Frame> {
  return {
    surfaceDamage: [...older.surfaceDamage, ...newer.surfaceDamage],
    bufferDamage: [...older.bufferDamage, ...newer.bufferDamage],
    frames: [...older.frames, ...newer.frames],
    opaque: newer.opaque ?? older.opaque,
    input: newer.input !== undefined ? newer.input : older.input,
    transform: newer.transform ?? older.transform,
    scale: newer.scale ?? older.scale,
  };
}
