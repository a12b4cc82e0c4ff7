// The NAT probe of tests/_helpers/netns.ts, run inside a lab's namespaces (the harness starts
// it; it is not a test by itself).
//
//   serve --udp IP:PORT… --tcp IP:PORT… --poke-from IP:PORT
//       UDP: answers "map" with the sender's address as seen here ("ip:port"); answers
//       "poke" by sending "poke" to the sender from the --poke-from socket, which the sender
//       never contacted (a filtering NAT drops it). TCP: writes the peer's address and closes.
//       Prints "ready" once every socket is bound.
//   probe --local-port N --udp IP:PORT… --tcp IP:PORT…
//       From local port N (UDP, then TCP one connection at a time, all from the same port)
//       asks each server how it sees us; then asks the first UDP server for a poke. Prints
//       {"udp":[{"target","mapped"}],"tcp":[…],"poked":bool} as one JSON line.
import net from "node:net";

const REPLY_TIMEOUT_MS = 1_000;
const ATTEMPTS = 3;
const POKE_WAIT_MS = 500;

function endpoint(text: string): { hostname: string; port: number } {
  const i = text.lastIndexOf(":");
  return { hostname: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

function values(args: string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === flag && args[i + 1]) out.push(args[++i]!);
  return out;
}

function text(addr: Deno.Addr): string {
  const a = addr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}

async function serve(args: string[]): Promise<void> {
  const poker = Deno.listenDatagram({
    transport: "udp",
    ...endpoint(values(args, "--poke-from")[0]!),
  });
  const encoder = new TextEncoder();
  const loops: Promise<void>[] = [];
  for (const spec of values(args, "--udp")) {
    const socket = Deno.listenDatagram({ transport: "udp", ...endpoint(spec) });
    loops.push((async () => {
      for await (const [data, from] of socket) {
        const word = new TextDecoder().decode(data);
        if (word === "map") await socket.send(encoder.encode(text(from)), from);
        else if (word === "poke") await poker.send(encoder.encode("poke"), from);
      }
    })());
  }
  for (const spec of values(args, "--tcp")) {
    const listener = Deno.listen({ transport: "tcp", ...endpoint(spec) });
    loops.push((async () => {
      for await (const conn of listener) {
        await conn.write(encoder.encode(text(conn.remoteAddr))).catch(() => 0);
        conn.close();
      }
    })());
  }
  console.log("ready");
  await Promise.all(loops);
}

async function receive(socket: Deno.DatagramConn, timeoutMs: number): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), timeoutMs)
  );
  try {
    const got = await Promise.race([socket.receive(), timeout]);
    return got === undefined ? undefined : new TextDecoder().decode(got[0]);
  } finally {
    clearTimeout(timer);
  }
}

function tcpMapped(target: string, localPort: number): Promise<string> {
  const { hostname, port } = endpoint(target);
  return new Promise((resolve, reject) => {
    let got = "";
    const socket = net.connect({ host: hostname, port, localPort });
    socket.setTimeout(REPLY_TIMEOUT_MS * ATTEMPTS, () => socket.destroy(new Error("timeout")));
    socket.on("data", (chunk: Uint8Array) => got += new TextDecoder().decode(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

async function probe(args: string[]): Promise<void> {
  const localPort = Number(values(args, "--local-port")[0]);
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: localPort });
  const encoder = new TextEncoder();
  const udp: { target: string; mapped: string }[] = [];
  for (const target of values(args, "--udp")) {
    let mapped: string | undefined;
    for (let i = 0; i < ATTEMPTS && mapped === undefined; i++) {
      await socket.send(encoder.encode("map"), { transport: "udp", ...endpoint(target) });
      mapped = await receive(socket, REPLY_TIMEOUT_MS);
    }
    if (mapped === undefined) throw new Error(`no UDP answer from ${target}`);
    udp.push({ target, mapped });
  }
  const first = values(args, "--udp")[0]!;
  await socket.send(encoder.encode("poke"), { transport: "udp", ...endpoint(first) });
  const poked = (await receive(socket, POKE_WAIT_MS)) === "poke";
  socket.close();
  const tcp: { target: string; mapped: string }[] = [];
  for (const target of values(args, "--tcp")) {
    tcp.push({ target, mapped: await tcpMapped(target, localPort) });
  }
  console.log(JSON.stringify({ udp, tcp, poked }));
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  if (mode === "serve") await serve(rest);
  else if (mode === "probe") await probe(rest);
  else throw new Error(`usage: nat_probe.ts serve|probe …`);
}
