/**
 * hopd: a libp2p circuit relay v2 node. This entry point only runs the CLI and exits with
 * the code it returns.
 *
 * @module
 */

import { run } from "./src/cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
