import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { soon } from './microtask.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('soon', () => {
  it('runs after the current code, in the order asked, interleaved with queueMicrotask, before a macrotask', async () => {
    const order: string[] = [];
    const macrotask = new Promise<void>((resolve) => setImmediate(() => (order.push('immediate'), resolve())));
    soon(() => order.push('soon 1'));
    queueMicrotask(() => order.push('queueMicrotask'));
    soon(() => {
      order.push('soon 2');
      soon(() => order.push('soon from soon'));
    });
    order.push('sync');
    await macrotask;
    expect(order).toEqual(['sync', 'soon 1', 'queueMicrotask', 'soon 2', 'soon from soon', 'immediate']);
  });

  it('does not swallow an exception: the process ends with it, as with queueMicrotask', async () => {
    const url = new URL('./microtask.ts', import.meta.url).href;
    const code = `import { soon } from ${JSON.stringify(url)}; soon(() => { throw new Error('thrown in soon'); }); setTimeout(() => console.log('still running'), 500);`;
    const { status, stdout, stderr } = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: join(here, '..'), timeout: 20_000 }, (_err, out, err) =>
        resolve({ status: child.exitCode, stdout: out, stderr: err }),
      );
    });
    expect(stderr).toContain('thrown in soon');
    expect(stdout).not.toContain('still running');
    expect(status).not.toBe(0);
  });
});
