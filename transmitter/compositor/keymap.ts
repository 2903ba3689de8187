/**
 * The XKB keymap handed to clients (wl_keyboard.keymap, format xkb_v1): the
 * text, NUL-terminated, in a memfd. Clients get a read-only fd to it (opened
 * through /proc/self/fd), so one file serves every client and none can change
 * it for the others; clients of wl_seat v7+ must map it MAP_PRIVATE anyway.
 */
import { openSync, writeSync } from 'node:fs';
import { closeFd, memfdCreate } from '../../shared/native.js';
import { Fd } from '../../shared/fd.js';

/**
 * The default keymap: a US layout by includes, which libxkbcommon in clients
 * resolves from xkb-data (/usr/share/X11/xkb), like `setxkbmap us`.
 */
export const DEFAULT_KEYMAP = `xkb_keymap {
  xkb_keycodes { include "evdev+aliases(qwerty)" };
  xkb_types { include "complete" };
  xkb_compat { include "complete" };
  xkb_symbols { include "pc+us+inet(evdev)" };
  xkb_geometry { include "pc(pc105)" };
};
`;

export class KeymapFile {
  private constructor(
    readonly text: string,
    /** Read-only fd of the keymap file (what clients get a duplicate of). */
    readonly fd: Fd,
    /** Bytes, the terminating NUL included (the size argument of wl_keyboard.keymap). */
    readonly size: number,
  ) {}

  static create(text: string): KeymapFile {
    const bytes = Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
    const rw = memfdCreate('waltham-keymap', bytes.length);
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(rw, bytes, written, bytes.length - written, written);
      const ro = openSync(`/proc/self/fd/${rw}`, 'r');
      return new KeymapFile(text, new Fd(ro), bytes.length);
    } finally {
      closeFd(rw);
    }
  }

  close(): void {
    this.fd.close();
  }
}
