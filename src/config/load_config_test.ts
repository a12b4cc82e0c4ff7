import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { configKeys, sectionNames } from "./_schema_walk.ts";
import { exampleConfigToml, loadConfig, type LoadConfigOptions } from "./mod.ts";
import { isListenAddress } from "./schema.ts";

const FILE = "/etc/hopd/hopd.toml";

/** Loads `text` as if it were the config file at {@linkcode FILE}. */
function loadToml(text: string, options: LoadConfigOptions = {}) {
  return loadConfig({ ...options, file: FILE, readTextFile: () => Promise.resolve(text) });
}

async function configError(load: Promise<unknown>): Promise<ConfigError> {
  try {
    await load;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.code, "CONFIG_INVALID");
    return error;
  }
  assert.fail("expected loadConfig() to throw a ConfigError");
}

function assertMentions(message: string, parts: readonly string[]): void {
  for (const part of parts) {
    assert.ok(message.includes(part), `expected ${JSON.stringify(part)} in: ${message}`);
  }
}

Deno.test("loadConfig() without a file resolves to the documented defaults", async () => {
  const config = await loadConfig();
  assert.deepEqual(config.node, {
    dataDir: "./hopd-data",
    identityFile: join("./hopd-data", "identity.key"),
    listen: ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"],
    announce: [],
    drainTimeoutMs: 30_000,
  });
  assert.deepEqual(config.http, {
    hostname: "127.0.0.1",
    port: 8080,
    maxConnections: 256,
    maxConnectionsPerIp: 64,
    headerTimeoutMs: 5_000,
    requestTimeoutMs: 30_000,
    idleTimeoutMs: 5_000,
  });
  assert.deepEqual(config.log, { level: "info", format: "pretty" });
  assert.deepEqual(config.tls, {});
  assert.deepEqual(config.admin, { allowRemote: false, maxBodyBytes: 16_384 });
  assert.deepEqual(config.connections, {
    maxConnections: 32_768,
    maxPendingInbound: 512,
    inboundPerIpPerSecond: 0,
    dialTimeoutMs: 10_000,
    inboundUpgradeTimeoutMs: 10_000,
    peerAddressTtlMs: 3_600_000,
    peerTtlMs: 3_600_000,
    maxPendingPerIp: 16,
    maxPendingPerSubnet: 64,
    headerTimeoutMs: 5_000,
    idleTimeoutMs: 300_000,
    fdReserve: 256,
  });
  assert.deepEqual(config.relay, {
    reservationTtlMs: 3_600_000,
    maxReservations: 16_384,
    maxReservationsPerIp: 32,
    maxReservationsPerSubnet: 128,
    subnetPrefixV4: 24,
    subnetPrefixV6: 48,
    maxCircuits: 4_096,
    maxCircuitsPerPeer: 16,
    circuitDurationMs: 120_000,
    circuitDataBytes: 131_072,
    handshakeTimeoutMs: 10_000,
    maxMessageBytes: 4_096,
    stopPipelining: true,
  });
});

Deno.test("exampleConfigToml() written to a file loads to exactly the embedded defaults", async () => {
  const path = await Deno.makeTempFile({ suffix: ".toml" });
  try {
    await Deno.writeTextFile(path, exampleConfigToml());
    assert.deepEqual(await loadConfig({ file: path }), await loadConfig());
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("exampleConfigToml() sets every schema key and nothing else", () => {
  const parsed = parseToml(exampleConfigToml()) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(parsed), sectionNames());
  const expected = configKeys().map((info) => `${info.section}.${info.key}`).sort();
  const actual = Object.entries(parsed)
    .flatMap(([section, keys]) => Object.keys(keys).map((key) => `${section}.${key}`))
    .sort();
  assert.deepEqual(actual, expected);
  assert.ok(expected.length >= 25, "the schema walk found too few keys to be real");
});

Deno.test("exampleConfigToml() names each key's env variable and an enum's choices", () => {
  const text = exampleConfigToml();
  for (const info of configKeys()) {
    assert.ok(text.includes(`HOPD_${info.section}_${info.key}`.toUpperCase()), info.key);
  }
  assertMentions(text, [
    "One of: trace, debug, info, warning, error, fatal.",
    "One of: pretty, json.",
  ]);
});

Deno.test("loadConfig() lets env win over the file and flags win over both", async (t) => {
  const file = '[http]\nlisten = "127.0.0.1:1111"\n[node]\nlisten = ["/ip4/127.0.0.1/tcp/1"]\n';
  const env = { HOPD_HTTP_LISTEN: "127.0.0.1:2222", HOPD_NODE_LISTEN: "/ip4/127.0.0.1/tcp/2" };
  const overrides = {
    http: { listen: "127.0.0.1:3333" },
    node: { listen: ["/ip4/127.0.0.1/tcp/3"] },
  };

  await t.step("file alone", async () => {
    const config = await loadToml(file);
    assert.equal(config.http.port, 1111);
    assert.deepEqual(config.node.listen, ["/ip4/127.0.0.1/tcp/1"]);
  });
  await t.step("file then env", async () => {
    const config = await loadToml(file, { env });
    assert.equal(config.http.port, 2222);
    assert.deepEqual(config.node.listen, ["/ip4/127.0.0.1/tcp/2"]);
  });
  await t.step("file then env then flags", async () => {
    const config = await loadToml(file, { env, overrides });
    assert.equal(config.http.port, 3333);
    assert.deepEqual(config.node.listen, ["/ip4/127.0.0.1/tcp/3"]);
  });
  await t.step("a key set only in the file survives env and flags for other keys", async () => {
    const config = await loadToml(`${file}[log]\nlevel = "debug"\n`, { env, overrides });
    assert.equal(config.log.level, "debug");
    assert.equal(config.log.format, "pretty");
  });
});

Deno.test("loadConfig() uses STATE_DIRECTORY as the data dir only when data_dir is set nowhere", async (t) => {
  const env = { STATE_DIRECTORY: "/var/lib/hopd" };

  await t.step("not set anywhere: STATE_DIRECTORY, and the identity follows it", async () => {
    const config = await loadConfig({ env });
    assert.equal(config.node.dataDir, "/var/lib/hopd");
    assert.equal(config.node.identityFile, join("/var/lib/hopd", "identity.key"));
  });
  await t.step("a file with other [node] keys still gets STATE_DIRECTORY", async () => {
    const config = await loadToml('[node]\ndrain_timeout = "5s"\n', { env });
    assert.equal(config.node.dataDir, "/var/lib/hopd");
    assert.equal(config.node.drainTimeoutMs, 5_000);
  });
  await t.step("set in the file", async () => {
    const config = await loadToml('[node]\ndata_dir = "/srv/hopd"\n', { env });
    assert.equal(config.node.dataDir, "/srv/hopd");
  });
  await t.step("set in the environment", async () => {
    const config = await loadConfig({ env: { ...env, HOPD_NODE_DATA_DIR: "/opt/hopd" } });
    assert.equal(config.node.dataDir, "/opt/hopd");
  });
  await t.step("set by a flag", async () => {
    const config = await loadConfig({ env, overrides: { node: { data_dir: "/tmp/hopd" } } });
    assert.equal(config.node.dataDir, "/tmp/hopd");
  });
  await t.step("an empty STATE_DIRECTORY is ignored", async () => {
    const config = await loadConfig({ env: { STATE_DIRECTORY: "" } });
    assert.equal(config.node.dataDir, "./hopd-data");
  });
  await t.step("an explicit identity_file is kept", async () => {
    const config = await loadToml('[node]\nidentity_file = "/keys/hopd.key"\n', { env });
    assert.equal(config.node.identityFile, "/keys/hopd.key");
  });
});

Deno.test("loadConfig() reads env lists as comma-separated and env numbers as numbers", async (t) => {
  await t.step("a list, with spaces and empty items dropped", async () => {
    const config = await loadConfig({
      env: { HOPD_NODE_LISTEN: " /ip4/127.0.0.1/tcp/1 ,/ip4/127.0.0.1/tcp/2/ws,," },
    });
    assert.deepEqual(config.node.listen, ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2/ws"]);
  });
  await t.step("an empty list", async () => {
    const config = await loadConfig({ env: { HOPD_NODE_ANNOUNCE: "" } });
    assert.deepEqual(config.node.announce, []);
  });
  await t.step("a number", async () => {
    const config = await loadConfig({
      env: { HOPD_RELAY_MAX_CIRCUITS: "12", HOPD_RELAY_SUBNET_PREFIX_V4: "16" },
    });
    assert.equal(config.relay.maxCircuits, 12);
    assert.equal(config.relay.subnetPrefixV4, 16);
  });
  await t.step("durations, sizes and enums stay text and are parsed as in the file", async () => {
    const config = await loadConfig({
      env: {
        HOPD_RELAY_CIRCUIT_DATA: "1MiB",
        HOPD_NODE_DRAIN_TIMEOUT: "1m",
        HOPD_LOG_FORMAT: "json",
      },
    });
    assert.equal(config.relay.circuitDataBytes, 1_048_576);
    assert.equal(config.node.drainTimeoutMs, 60_000);
    assert.equal(config.log.format, "json");
  });
  await t.step("variables without the HOPD_ prefix are ignored", async () => {
    const config = await loadConfig({ env: { PATH: "/usr/bin", HOME: "/root", HOPDX: "1" } });
    assert.deepEqual(config, await loadConfig());
  });
});

Deno.test("loadConfig() reads IPv6 and port-0 HTTP listeners", async () => {
  const v6 = await loadToml('[http]\nlisten = "[::1]:9090"\n');
  assert.deepEqual([v6.http.hostname, v6.http.port], ["::1", 9090]);
  const any = await loadToml('[http]\nlisten = "0.0.0.0:0"\n');
  assert.deepEqual([any.http.hostname, any.http.port], ["0.0.0.0", 0]);
});

Deno.test("loadConfig() errors are ConfigErrors naming the key path, the value and the source", async (t) => {
  const fileCases: [string, string, string[]][] = [
    ["unknown section", "[nodes]\nlisten = []\n", [
      "'nodes'",
      "not a known section",
      FILE,
      "node, connections, http, log, limits, access, admin, tls, acme, relay",
    ]],
    ["TLS certificate without its key", '[tls]\ncert_file = "/etc/hopd/cert.pem"\n', [
      "'tls.key_file'",
      "must be set together with tls.cert_file",
      "not set",
    ]],
    [
      "TLS WebSocket listener without a certificate",
      '[node]\nlisten = ["/ip4/0.0.0.0/tcp/443/tls/ws"]\n',
      [
        "'node.listen.0'",
        "needs tls.cert_file and tls.key_file",
      ],
    ],
    ["unknown key", "[relay]\nmax_circuit = 3\n", [
      "'relay.max_circuit'",
      "not a known key",
      FILE,
      "max_circuits",
    ]],
    ["string for a number", '[relay]\nmax_circuits = "lots"\n', [
      "'relay.max_circuits'",
      "number",
      '"lots"',
      FILE,
    ]],
    ["fraction for a count", "[relay]\nmax_circuits = 1.5\n", [
      "'relay.max_circuits'",
      "1.5",
      FILE,
    ]],
    ["negative count", "[relay]\nmax_reservations = -3\n", [
      "'relay.max_reservations'",
      "at least 0",
      "-3",
      FILE,
    ]],
    ["count below its minimum", "[connections]\nmax_connections = 0\n", [
      "'connections.max_connections'",
      "at least 1",
      "0",
      FILE,
    ]],
    ["count above its maximum", "[relay]\nsubnet_prefix_v4 = 33\n", [
      "'relay.subnet_prefix_v4'",
      "at most 32",
      "33",
      FILE,
    ]],
    ["bad enum", '[log]\nlevel = "loud"\n', [
      "'log.level'",
      '"trace", "debug", "info", "warning", "error", "fatal"',
      '"loud"',
      FILE,
    ]],
    ["bad duration", '[node]\ndrain_timeout = "5"\n', [
      "'node.drain_timeout'",
      "duration",
      '"5"',
      FILE,
    ]],
    ["bad size", '[relay]\ncircuit_data = "lots"\n', [
      "'relay.circuit_data'",
      "size",
      '"lots"',
      FILE,
    ]],
    ["bad multiaddr in node.listen", '[node]\nlisten = ["/ip4/0.0.0.0/tcp/1", "garbage"]\n', [
      "'node.listen.1'",
      "multiaddr",
      '"garbage"',
      FILE,
    ]],
    ["bad HOST:PORT", '[http]\nlisten = "localhost"\n', [
      "'http.listen'",
      "HOST:PORT",
      '"localhost"',
      FILE,
    ]],
    ["port above 65535", '[http]\nlisten = "127.0.0.1:99999"\n', [
      "'http.listen'",
      "HOST:PORT",
      '"127.0.0.1:99999"',
      FILE,
    ]],
    ["empty data_dir", '[node]\ndata_dir = ""\n', [
      "'node.data_dir'",
      "must not be empty",
      '""',
      FILE,
    ]],
    ["not-a-table section", 'node = "x"\n', ["'node'", "must be a table", '"x"', FILE]],
    ["a list for a string", '[http]\nlisten = ["127.0.0.1:1"]\n', [
      "'http.listen'",
      "string",
      FILE,
    ]],
  ];
  for (const [name, text, parts] of fileCases) {
    await t.step(`file: ${name}`, async () => {
      assertMentions((await configError(loadToml(text))).message, parts);
    });
  }

  await t.step("env: a number that is not one names the variable and its value", async () => {
    const error = await configError(loadConfig({ env: { HOPD_RELAY_MAX_CIRCUITS: "twelve" } }));
    assertMentions(error.message, ["'relay.max_circuits'", '"twelve"', "HOPD_RELAY_MAX_CIRCUITS"]);
  });
  await t.step("env: a bad multiaddr in a list names its index", async () => {
    const error = await configError(
      loadConfig({ env: { HOPD_NODE_LISTEN: "/ip4/1.2.3.4/tcp/1,nope" } }),
    );
    assertMentions(error.message, ["'node.listen.1'", '"nope"', "HOPD_NODE_LISTEN"]);
  });
  await t.step("env: an unknown HOPD_ variable names the variable", async () => {
    const error = await configError(loadConfig({ env: { HOPD_RELAY_MAX_CIRCUIT: "3" } }));
    assertMentions(error.message, ["'HOPD_RELAY_MAX_CIRCUIT'", "not a known key"]);
  });
  await t.step("flag: the default label", async () => {
    const error = await configError(loadConfig({ overrides: { log: { format: "xml" } } }));
    assertMentions(error.message, ["'log.format'", '"xml"', "command-line flag"]);
  });
  await t.step("flag: a caller-given label", async () => {
    const error = await configError(loadConfig({
      overrides: { http: { listen: "nope" } },
      overrideLabel: (section, key) => `--${section}-${key} flag`,
    }));
    assertMentions(error.message, ["'http.listen'", '"nope"', "--http-listen flag"]);
  });
  await t.step("the source named is the one that set the bad value", async () => {
    const error = await configError(
      loadToml("[relay]\nmax_circuits = 5\n", { env: { HOPD_RELAY_MAX_CIRCUITS: "-1" } }),
    );
    assertMentions(error.message, ["'relay.max_circuits'", "-1", "HOPD_RELAY_MAX_CIRCUITS"]);
    assert.ok(!error.message.includes(FILE), error.message);
  });
});

Deno.test("loadConfig() reports a non-table section even when env or STATE_DIRECTORY add to it", async (t) => {
  // These once threw a bare TypeError ("Cannot create property ... on number") instead.
  const cases: [string, Record<string, string>][] = [
    ["STATE_DIRECTORY", { STATE_DIRECTORY: "/var/lib/hopd" }],
    ["a HOPD_NODE_ variable", { HOPD_NODE_LISTEN: "/ip4/127.0.0.1/tcp/1" }],
  ];
  for (const [name, env] of cases) {
    await t.step(name, async () => {
      const error = await configError(loadToml("node = 5\n", { env }));
      assertMentions(error.message, ["'node'", "must be a table", "5", FILE]);
    });
  }
});

Deno.test("loadConfig() names the file when it is not valid TOML", async () => {
  const error = await configError(loadToml("[relay\nmax_circuits = 3\n"));
  assertMentions(error.message, [FILE, "not valid TOML"]);
  assert.ok(error.cause instanceof Error);
  assert.ok(!error.message.includes("\n"), "the TOML parser's code frame is left out");
});

Deno.test("loadConfig() names a missing file and says it does not exist", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "missing.toml");
    const error = await configError(loadConfig({ file: path }));
    assertMentions(error.message, [path, "does not exist"]);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() turns any other read failure into a ConfigError with its cause", async () => {
  const denied = new Deno.errors.PermissionDenied("read access denied");
  const error = await configError(
    loadConfig({ file: FILE, readTextFile: () => Promise.reject(denied) }),
  );
  assertMentions(error.message, [FILE, "read access denied"]);
  assert.equal(error.cause, denied);
});

Deno.test("loadConfig() returns a deeply frozen config", async () => {
  const config = await loadConfig();
  assert.ok(Object.isFrozen(config));
  assert.throws(() => {
    (config.http as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (config as { log: unknown }).log = {};
  }, TypeError);
  assert.throws(() => {
    (config.node.listen as string[]).push("/ip4/127.0.0.1/tcp/9");
  }, TypeError);
  assert.equal(config.http.port, 8080);
  assert.equal(config.node.listen.length, 2);
});

Deno.test("loadConfig() results do not share mutable state between calls", async () => {
  const first = await loadConfig({ env: { HOPD_NODE_ANNOUNCE: "/ip4/1.2.3.4/tcp/1" } });
  const second = await loadConfig();
  assert.deepEqual(first.node.announce, ["/ip4/1.2.3.4/tcp/1"]);
  assert.deepEqual(second.node.announce, []);
});

// Issue 15, item 6: a hook command with a space in its path could not be written (split on
// whitespace, quotes kept literally) while the config loaded fine.
Deno.test("loadConfig() reads policy.hooks in both forms and refuses a command it cannot split", async (t) => {
  await t.step("quoted string and argv table resolve to the same argv", async () => {
    const config = await loadToml(`[policy]
hooks = [
  "up='/opt/hop hooks/scale up.sh' --region \\"eu west\\"",
  { name = "down", argv = ["/opt/hop hooks/scale down.sh", "--region", "eu west"] },
]
`);
    assert.deepEqual(config.policy.hooks, {
      up: ["/opt/hop hooks/scale up.sh", "--region", "eu west"],
      down: ["/opt/hop hooks/scale down.sh", "--region", "eu west"],
    });
  });
  const refused: [string, string, string[]][] = [
    ["a pipe", '[policy]\nhooks = ["up=/bin/backup | /usr/bin/tee /tmp/log"]\n', [
      "'policy.hooks.0'",
      "unquoted '|'",
      "argv",
    ]],
    ["an unbalanced quote", `[policy]\nhooks = ["up='/opt/hop hooks/x"]\n`, [
      "'policy.hooks.0'",
      "unbalanced single quote",
    ]],
    ["a relative command", '[policy]\nhooks = ["up=scale-up"]\n', [
      "'policy.hooks.0'",
      "absolute path",
    ]],
    ["a name twice", '[policy]\nhooks = ["up=/bin/a", { name = "up", argv = ["/bin/b"] }]\n', [
      "'policy.hooks.1'",
      "names hook 'up' twice",
    ]],
  ];
  for (const [name, text, parts] of refused) {
    await t.step(name, async () => {
      assertMentions((await configError(loadToml(text))).message, [...parts, FILE]);
    });
  }
});

Deno.test("node.listen takes the addresses hopd's TCP and WebSocket transports can open", async (t) => {
  const cases: [string, boolean][] = [
    ["/ip4/0.0.0.0/tcp/4001", true],
    ["/ip6/::/tcp/4001", true],
    ["/ip4/0.0.0.0/tcp/4002/ws", true],
    ["/ip4/0.0.0.0/tcp/443/wss", true],
    ["/ip4/0.0.0.0/tcp/443/tls/ws", true],
    ["/ip4/0.0.0.0/udp/4001/quic-v1", false],
    ["/ip4/0.0.0.0/udp/4001/webrtc-direct", false],
    ["/dns4/relay.example.com/tcp/4001", false],
    ["/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi", false],
    ["/ip4/0.0.0.0/tcp/4001/ws/ws", false],
    ["/ip4/0.0.0.0", false],
  ];
  for (const [addr, ok] of cases) {
    await t.step(`${addr}: ${ok ? "accepted" : "refused"}`, () => {
      assert.equal(isListenAddress(addr), ok);
    });
  }
});

Deno.test("loadConfig() runs the sandboxes on the main thread unless policy.sandbox_thread says worker", async () => {
  assert.equal((await loadConfig({})).policy.sandboxThread, "main");
  assert.equal(
    (await loadToml('[policy]\nsandbox_thread = "worker"\n')).policy.sandboxThread,
    "worker",
  );
  const env = { HOPD_POLICY_SANDBOX_THREAD: "worker" };
  assert.equal((await loadConfig({ env })).policy.sandboxThread, "worker");
  const error = await configError(loadToml('[policy]\nsandbox_thread = "process"\n'));
  assertMentions(error.message, ["policy.sandbox_thread", "process"]);
});
