/**
 * The budget of a fuzz test, from the environment: FUZZ_MS (time per part),
 * FUZZ_INPUTS (inputs per part: the part goes on until that many were tried,
 * whatever the time) and FUZZ_SEED (repeats a run). The test command runs each
 * part for a short time with a random seed it prints; `npm run fuzz` gives
 * each part a million inputs.
 */
export interface FuzzBudget {
  readonly seed: number;
  readonly ms: number;
  readonly inputs: number;
  /**
   * A fresh clock for one part, with `inputShare` of the inputs (a part whose
   * input carries many messages) and `timeShare` of the time: whether to try
   * another input after `done`.
   */
  start(inputShare?: number, timeShare?: number): (done: number) => boolean;
}

export function fuzzBudget(defaultMs: number): FuzzBudget {
  const env = (name: string): number | undefined => {
    const value = process.env[name];
    return value === undefined || value === '' ? undefined : Number(value);
  };
  const inputs = env('FUZZ_INPUTS') ?? 0;
  const ms = env('FUZZ_MS') ?? (inputs > 0 ? 0 : defaultMs);
  const seed = env('FUZZ_SEED') ?? Math.floor(Math.random() * 2 ** 31);
  return {
    seed,
    ms,
    inputs,
    start(inputShare = 1, timeShare = 1) {
      const deadline = Date.now() + ms * timeShare;
      const count = Math.ceil(inputs * inputShare);
      return (done) => done < count || Date.now() < deadline;
    },
  };
}
