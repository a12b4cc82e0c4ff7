/**
 * What the policy engine keeps across reloads and restarts: each policy's ctx.state and the
 * restart times of the restart budget, in <data_dir>/policy_state.json (written atomically:
 * a temp file, then rename). A corrupt file is set aside and the engine starts empty.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { join } from "node:path";

/** Persisted engine state. */
export interface PersistedState {
  /** ctx.state per policy, as JSON text. */
  states: Record<string, string>;
  /** Restart times (ms since epoch) inside the budget window. */
  restarts: number[];
}

/** File name inside the data dir. */
export const POLICY_STATE_FILE = "policy_state.json";

/** Loads and saves {@linkcode PersistedState}. */
export class StateStore {
  readonly #clock: Clock;
  readonly #path: string | undefined;
  #saving: Promise<void> = Promise.resolve();
  #dirty = false;
  /** The text last written, to skip writes that would change nothing. */
  #written: string | undefined;

  readonly #onError: (message: string) => void;

  /**
   * @param dataDir Where to keep the file; undefined = memory only.
   * @param onError Told when a save fails (the engine logs it and goes on).
   */
  constructor(
    dataDir: string | undefined,
    onError: (message: string) => void = () => {},
    clock: Clock = SYSTEM_CLOCK,
  ) {
    this.#clock = clock;
    this.#path = dataDir === undefined ? undefined : join(dataDir, POLICY_STATE_FILE);
    this.#onError = onError;
  }

  /** Reads the file; a missing file is empty, a corrupt one is renamed aside (warning returned). */
  async load(): Promise<{ state: PersistedState; warning?: string }> {
    const empty: PersistedState = { states: {}, restarts: [] };
    if (this.#path === undefined) return { state: empty };
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { state: empty };
      return { state: empty, warning: `cannot read ${this.#path}: ${(error as Error).message}` };
    }
    try {
      const parsed = JSON.parse(text) as Partial<PersistedState>;
      const states = Object.fromEntries(
        Object.entries(parsed.states ?? {}).filter(([, v]) => typeof v === "string"),
      ) as Record<string, string>;
      const restarts = (parsed.restarts ?? []).filter((t) => typeof t === "number");
      return { state: { states, restarts } };
    } catch (error) {
      const aside = `${this.#path}.corrupt-${this.#clock.nowMs()}`;
      await Deno.rename(this.#path, aside).catch(() => {});
      return {
        state: empty,
        warning: `${this.#path} is not valid JSON (${(error as Error).message}); moved to ${aside}`,
      };
    }
  }

  /** Saves in the background, coalescing bursts; `flush()` waits for it. */
  save(state: () => PersistedState): void {
    if (this.#path === undefined || this.#dirty) return;
    this.#dirty = true;
    this.#saving = this.#saving.then(async () => {
      this.#dirty = false;
      // The engine asks every tick; most ticks change nothing, and those write nothing.
      const text = JSON.stringify(state());
      if (text === this.#written) return;
      const path = this.#path!;
      const temp = `${path}.tmp`;
      await Deno.writeTextFile(temp, text, { mode: 0o600 });
      await Deno.rename(temp, path);
      this.#written = text;
    }).catch((error) => this.#onError(`cannot save ${this.#path}: ${(error as Error).message}`));
  }

  /** Waits for pending saves. */
  flush(): Promise<void> {
    return this.#saving;
  }
}
