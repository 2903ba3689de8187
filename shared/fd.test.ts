import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Fd, FdClosedError, closeAll } from './fd.js';
import { closeFd, fdSize, memfdCreate } from './native.js';

const isOpen = (fd: number): boolean => existsSync(`/proc/self/fd/${fd}`);

describe('Fd', () => {
  it('closes its descriptor once; a second close does nothing', () => {
    const fd = new Fd(memfdCreate('fd-test', 16));
    const n = fd.fd;
    expect(isOpen(n)).toBe(true);
    fd.close();
    expect(fd.closed).toBe(true);
    expect(isOpen(n)).toBe(false);
    // Another file now gets the same number; the second close must leave it alone.
    const other = memfdCreate('fd-test-reuse', 32);
    try {
      expect(other).toBe(n);
      fd.close();
      expect(isOpen(other)).toBe(true);
      expect(fdSize(other)).toBe(32);
    } finally {
      closeFd(other);
    }
  });

  it('refuses the number once closed', () => {
    const fd = new Fd(memfdCreate('fd-test', 16));
    fd.close();
    expect(() => fd.fd).toThrow(FdClosedError);
    expect(() => fd.take()).toThrow(/already closed/);
    expect(() => fd.dup()).toThrow(FdClosedError);
  });

  it('hands the descriptor over with take() and no longer closes it', () => {
    const fd = new Fd(memfdCreate('fd-test', 16));
    const n = fd.take();
    try {
      expect(fd.closed).toBe(true);
      expect(() => fd.fd).toThrow(/already taken/);
      fd.close();
      expect(isOpen(n)).toBe(true);
      expect(fdSize(n)).toBe(16);
    } finally {
      closeFd(n);
    }
  });

  it('throws when its descriptor was closed behind its back (EBADF)', () => {
    const fd = new Fd(memfdCreate('fd-test', 16));
    closeFd(fd.fd);
    expect(() => fd.close()).toThrow(/closed behind its owner's back/);
    expect(fd.closed).toBe(true);
  });

  it('dups into a second owner of the same file', () => {
    const fd = new Fd(memfdCreate('fd-test', 64));
    const copy = fd.dup();
    try {
      expect(copy.fd).not.toBe(fd.fd);
      fd.close();
      expect(fdSize(copy.fd)).toBe(64);
    } finally {
      copy.close();
    }
  });

  it('closeAll closes what is still open and skips what was taken', () => {
    const a = new Fd(memfdCreate('a', 1));
    const b = new Fd(memfdCreate('b', 1));
    const an = a.fd;
    const bn = b.take();
    try {
      closeAll([a, b]);
      expect(isOpen(an)).toBe(false);
      expect(isOpen(bn)).toBe(true);
    } finally {
      closeFd(bn);
    }
  });

  it('closes at the end of a using block what is still owned', () => {
    let n: number;
    {
      using fd = new Fd(memfdCreate('fd-test', 16));
      n = fd.fd;
      expect(isOpen(n)).toBe(true);
    }
    expect(isOpen(n)).toBe(false);
    let taken: number;
    {
      using fd = new Fd(memfdCreate('fd-test', 16));
      taken = fd.take();
    }
    try {
      expect(isOpen(taken)).toBe(true);
    } finally {
      closeFd(taken);
    }
  });

  it('rejects what is not an fd', () => {
    expect(() => new Fd(-1)).toThrow(RangeError);
    expect(() => new Fd(1.5)).toThrow(RangeError);
  });
});
