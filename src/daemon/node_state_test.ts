import assert from "node:assert/strict";
import { HEALTHY, NodeState } from "./node_state.ts";

Deno.test("NodeState is ready only while listening, not draining, not stopping and not unhealthy", async (t) => {
  const cases: [string, (s: NodeState) => void, string[]][] = [
    ["listening", (s) => s.setListening(true), []],
    ["not listening", () => {}, ["libp2p listeners are not up"]],
    ["draining", (s) => {
      s.setListening(true);
      s.requestDrain(true);
    }, ["node is draining"]],
    ["stopping while draining", (s) => {
      s.setListening(true);
      s.requestDrain(true);
      s.beginShutdown();
    }, ["node is shutting down"]],
  ];
  for (const [name, act, reasons] of cases) {
    await t.step(name, () => {
      const state = new NodeState();
      act(state);
      assert.deepEqual(state.readiness(HEALTHY), { ready: reasons.length === 0, reasons });
    });
  }
  await t.step("unhealthy", () => {
    const state = new NodeState();
    state.setListening(true);
    assert.deepEqual(state.readiness({ verdict: "unhealthy", reasons: ["memory"] }), {
      ready: false,
      reasons: ["unhealthy: memory"],
    });
    assert.equal(state.readiness({ verdict: "degraded", reasons: ["cpu"] }).ready, true);
  });
});

Deno.test("NodeState has one notion of draining: a requested drain or a shutdown, each change told once", () => {
  const state = new NodeState();
  const heard: boolean[] = [];
  state.onDrainChange((draining) => heard.push(draining));
  assert.equal(state.requestDrain(true), true);
  assert.equal(state.requestDrain(true), false, "already draining");
  assert.equal(state.isDraining(), true);
  assert.equal(state.requestDrain(false), true);
  assert.equal(state.isDraining(), false);
  state.beginShutdown();
  assert.equal(state.stopping, true);
  assert.equal(state.isDraining(), true);
  assert.equal(state.requestDrain(false), false, "nothing was requested");
  state.requestDrain(true);
  state.requestDrain(false);
  assert.equal(state.isDraining(), true, "a shutdown drains for good");
  assert.deepEqual(heard, [true, false, true]);
});
