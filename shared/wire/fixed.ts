/** wl_fixed_t: signed 24.8 fixed-point numbers (wayland.xml, "fixed"). */

/** 24.8 fixed from a double (rounded half away from zero, like libwayland's wl_fixed_from_double). */
export function doubleToFixed(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v) * 256);
}

/** libwayland's WAYLAND_DEBUG rendering of a 24.8 fixed ("%d.%08d"). */
export function formatFixed(raw: number): string {
  const whole = Math.trunc(raw / 256);
  const frac = Math.abs(raw % 256) * 390625; // 1e8 / 256
  return `${raw < 0 ? '-' : ''}${Math.abs(whole)}.${String(frac).padStart(8, '0')}`;
}
