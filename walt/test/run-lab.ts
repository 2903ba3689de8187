/**
 * Runs the test lab (walt/test/lab.ts: WalT server and board stand-ins) until
 * Ctrl-C, and prints the options to point `waltham` at it:
 *   npx tsx walt/test/run-lab.ts [--no-silent]
 * (--no-silent: rpi-nat's port refuses at once instead of never answering.)
 */
import { LAB_TOKEN, startLab } from './lab.js';

const lab = await startLab({ silentNat: !process.argv.includes('--no-silent') });
process.stdout.write(`WalT stand-in and board stand-ins running (these are test stand-ins, not a WalT server or boards).
  export WALTHAM_TOKEN=${LAB_TOKEN}
  waltham node show ${lab.args.join(' ')}
`);
const stop = (): void => void lab.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
