/**
 * The transmitter's limits per application (transmitter/compositor/client-limits.ts)
 * from its [transmitter] section (README, Security, Limits). Sizes are in MiB;
 * each key is the name the application's wl_display.error gives the limit.
 *
 *   [transmitter]
 *   max-objects=65536       # live Wayland objects of one application
 *   max-surfaces=1024       # live wl_surface of one application
 *   max-pixel-mib=256       # committed buffers of one application, in MiB
 *   max-queued-mib=4        # bytes queued for an application that does not read, in MiB
 */
import { readIni, SectionReader, type IniSection } from './ini.js';

/** Field names as the transmitter's ClientLimits has them; absent: the default. */
export interface TransmitterLimitSettings {
  maxObjects?: number;
  maxSurfaces?: number;
  maxPixelBytes?: number;
  maxQueuedBytes?: number;
}

const MiB = 1024 * 1024;

/** key, field, smallest, largest value in the file's unit, factor to the field's unit. */
const KEYS: readonly [string, keyof TransmitterLimitSettings, number, number, number][] = [
  ['max-objects', 'maxObjects', 16, 1 << 24, 1],
  ['max-surfaces', 'maxSurfaces', 1, 1 << 20, 1],
  ['max-pixel-mib', 'maxPixelBytes', 1, 1 << 20, MiB],
  ['max-queued-mib', 'maxQueuedBytes', 1, 1 << 16, MiB],
];

/** The limits set in the [transmitter] sections of a parsed file (a later key wins). */
export function transmitterLimits(sections: readonly IniSection[], file: string): TransmitterLimitSettings {
  const settings: TransmitterLimitSettings = {};
  for (const section of sections) {
    if (section.name !== 'transmitter') continue;
    const r = new SectionReader(section, file);
    for (const [key, field, min, max, factor] of KEYS) {
      const v = r.int(key, min, max);
      if (v !== undefined) settings[field] = v * factor;
    }
  }
  return settings;
}

export function readTransmitterLimits(path: string): TransmitterLimitSettings {
  return transmitterLimits(readIni(path), path);
}
