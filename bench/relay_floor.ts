// The floor under issue 3's CPU figure on this machine: what any relay built on Deno must
// spend per GiB relayed over Noise-encrypted TCP before it does any work of its own.
//
// A relay that carries 1 GiB one way through a circuit receives 1 GiB (one TCP socket),
// decrypts it (Noise: ChaCha20-Poly1305), encrypts it again for the other side and sends
// 1 GiB (another socket). This bench measures the two unavoidable parts separately:
//
//   1. cipher: 1 GiB encrypted and 1 GiB decrypted with `node:crypto`'s ChaCha20-Poly1305
//      (what @libp2p/noise uses under Deno), in 65,519-byte messages as hopd sends them, into
//      buffers allocated once: the cipher alone, in this process's CPU time;
//   2. sockets: a plain TCP forwarder in its own process (Deno.listen / Deno.connect, one
//      reused 64 KiB buffer, no framing, no crypto) between a sender and a receiver in this
//      process, relaying 1 GiB over 127.0.0.1: the forwarder's CPU time, from /proc.
//
// Their sum is a lower bound for `bench/relay_vs_stock.ts`'s CPU-seconds per GiB, for hopd
// and for the stock relay alike.
//
//   deno run -A bench/relay_floor.ts [--gib N]

import crypto from "node:crypto";
import { cpuSeconds } from "./relay_vs_stock/_proc.ts";

const GIB = 1024 ** 3;
const MESSAGE = 65_519; // a full yamux frame (12-byte header + 65,507) in one Noise message
const TAG = 16;

const gibArg = Deno.args.indexOf("--gib");
const gib = gibArg >= 0 ? Number(Deno.args[gibArg + 1]) : 1;
const total = Math.round(gib * GIB);

function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

/** The cipher: encrypt and decrypt `total` bytes, as a relay does once each per byte. */
function measureCipher() {
  const key = crypto.randomBytes(32);
  const ad = new Uint8Array(0);
  const plaintext = crypto.randomBytes(MESSAGE);
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  let counter = 0;
  const t0 = performance.now();
  const cpuBefore = readSelfCpu();
  for (let done = 0; done < total; done += MESSAGE) {
    view.setUint32(4, counter++, true);
    const cipher = crypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    cipher.setAAD(ad, { plaintextLength: MESSAGE });
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    const decipher = crypto.createDecipheriv("chacha20-poly1305", key, nonce, {
      authTagLength: TAG,
    });
    decipher.setAAD(ad, { plaintextLength: MESSAGE });
    decipher.setAuthTag(tag);
    decipher.update(ciphertext);
    decipher.final();
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = readSelfCpu() - cpuBefore;
  return { cpuSecondsPerGib: round(cpu / gib, 3), wallSeconds: round(wall, 2) };
}

function readSelfCpu(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const FORWARDER = `
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const upstream = Number(Deno.args[0]);
console.log(listener.addr.port);
for await (const inbound of listener) {
  const outbound = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await inbound.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await outbound.write(buf.subarray(off, n));
  }
  outbound.close();
  inbound.close();
}
`;

/** The sockets: a plain forwarder process relaying `total` bytes over loopback. */
async function measureSockets() {
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, FORWARDER);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", file, String(sink.addr.port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    const port = Number(new TextDecoder().decode(value).trim());
    const sender = await Deno.connect({ hostname: "127.0.0.1", port });
    const receiver = await sink.accept();
    const cpuBefore = await cpuSeconds(child.pid);
    const t0 = performance.now();
    const received = (async () => {
      const buf = new Uint8Array(65536);
      let got = 0;
      while (got < total) {
        const n = await receiver.read(buf);
        if (n === null) break;
        got += n;
      }
      return got;
    })();
    const chunk = new Uint8Array(65536);
    for (let sent = 0; sent < total;) {
      sent += await sender.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    }
    const got = await received;
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(child.pid)) - cpuBefore;
    sender.close();
    receiver.close();
    if (got !== total) throw new Error(`forwarded ${got} of ${total} bytes`);
    return {
      cpuSecondsPerGib: round(cpu / gib, 3),
      wallSeconds: round(wall, 2),
      mibPerSecond: round(total / 1024 ** 2 / wall, 0),
    };
  } finally {
    child.kill("SIGKILL");
    await child.status;
    sink.close();
    await Deno.remove(file);
  }
}

const cipher = measureCipher();
const sockets = await measureSockets();
console.log(JSON.stringify(
  {
    gib,
    cipher,
    sockets,
    floorCpuSecondsPerGib: round(cipher.cpuSecondsPerGib + sockets.cpuSecondsPerGib, 2),
    goalCpuSecondsPerGib: 1.6,
  },
  null,
  2,
));
