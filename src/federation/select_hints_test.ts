import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import { parseSelectHints } from "./select_hints.ts";

const PEER = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

Deno.test("parseSelectHints() reads query strings and JSON values alike", () => {
  assert.deepEqual(
    parseSelectHints({
      peer: PEER,
      region: "eu-west",
      lat: "48.85",
      lon: "2.35",
      n: "5",
      algorithm: "geo",
    }),
    { peer: PEER, region: "eu-west", lat: 48.85, lon: 2.35, n: 5, algorithm: "geo" },
  );
  assert.deepEqual(parseSelectHints({ lat: 0, lon: 0, n: 1 }), { lat: 0, lon: 0, n: 1 });
  assert.deepEqual(parseSelectHints({ peer: "", region: "", lat: "", lon: "" }), {});
  assert.deepEqual(parseSelectHints({}), {});
});

Deno.test("parseSelectHints() refuses bad fields, naming them", async (t) => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["a peer that is not a peer ID", { peer: "alice" }, "'peer'"],
    ["a region with spaces", { region: "eu west" }, "'region'"],
    ["lat without lon", { lat: "1" }, "'lat' and 'lon'"],
    ["lat out of range", { lat: "91", lon: "0" }, "'lat'"],
    ["lon not a number", { lat: "1", lon: "east" }, "'lon'"],
    ["n of 0", { n: "0" }, "'n'"],
    ["n of 33", { n: "33" }, "'n'"],
    ["n not an integer", { n: "2.5" }, "'n'"],
    ["an unknown algorithm", { algorithm: "random" }, "'algorithm'"],
    ["a peer that is a number", { peer: 5 }, "'peer'"],
  ];
  for (const [name, input, field] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseSelectHints(input), (error: Error) => {
        assert.ok(error instanceof BadRequestError);
        assert.ok(error.message.includes(field), error.message);
        return true;
      });
    });
  }
});
