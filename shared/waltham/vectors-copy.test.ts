/**
 * The reference captures kept with the tests (test/vectors) are the ones
 * published beside the project (../shared/vectors/waltham): every file of
 * the published set is present here with the same bytes. Without the
 * published set there is nothing to compare (the copy is what the other
 * vector tests read), and the test says so.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_VECTORS_DIR, VECTORS_DIR } from './test/helpers.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('reference captures kept with the tests', () => {
  it('hold every published capture byte for byte', (ctx) => {
    if (!existsSync(PUBLISHED_VECTORS_DIR)) {
      const reason = `${PUBLISHED_VECTORS_DIR} is absent: the kept copy is not compared`;
      console.warn(reason);
      ctx.skip(reason);
      return;
    }
    const published = files(PUBLISHED_VECTORS_DIR).map((path) => relative(PUBLISHED_VECTORS_DIR, path)).sort();
    expect(published.length).toBeGreaterThan(0);
    for (const name of published) {
      const kept = join(VECTORS_DIR, name);
      expect(existsSync(kept), name).toBe(true);
      expect(readFileSync(kept).equals(readFileSync(join(PUBLISHED_VECTORS_DIR, name))), name).toBe(true);
    }
  });
});
