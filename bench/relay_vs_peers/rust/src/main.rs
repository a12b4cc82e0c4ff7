//! Stock rust-libp2p relay clients for bench/relay_vs_peers.ts, on the `libp2p` crate's public
//! API (TCP, Noise, yamux, the relay client, identify) and libp2p-stream. Modes, as every
//! client language of the bench has them:
//!
//!   peers-rust sink RELAY            reserves on RELAY, serves the sink protocol
//!   peers-rust source RELAY PEERID   dials PEERID through RELAY; {"go":N} streams N bytes
//!
//! The sink protocol (/hopd-bench/sink/1.0.0): the source opens a stream, writes N bytes in
//! 64 KiB writes and closes its write side; the sink reads to the end, answers the count as 8
//! bytes big-endian and closes; the source checks the count. JSON lines: reports on stdout,
//! commands on stdin; exits when stdin closes.

use std::{
    io::BufRead,
    time::{Duration, Instant},
};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{
    core::multiaddr::Protocol, identify, noise, relay, swarm::NetworkBehaviour,
    swarm::SwarmEvent, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use tokio::sync::mpsc;

const SINK: StreamProtocol = StreamProtocol::new("/hopd-bench/sink/1.0.0");
const CHUNK_BYTES: usize = 64 * 1024;
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay_client: relay::client::Behaviour,
    identify: identify::Behaviour,
    stream: libp2p_stream::Behaviour,
}

fn fail(message: String) -> ! {
    eprintln!("peers-rust: {message}");
    std::process::exit(1);
}

fn emit(value: serde_json::Value) {
    println!("{value}");
}

fn build_swarm() -> Swarm<Behaviour> {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap_or_else(|e| fail(format!("tcp: {e}")))
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .unwrap_or_else(|e| fail(format!("relay client: {e}")))
        .with_behaviour(|key, relay_client| Behaviour {
            relay_client,
            identify: identify::Behaviour::new(identify::Config::new(
                "/ipfs/id/1.0.0".to_string(),
                key.public(),
            )),
            stream: libp2p_stream::Behaviour::new(),
        })
        .unwrap_or_else(|e| fail(format!("behaviour: {e}")))
        // Rounds come minutes apart at most; the bench ends the process, not an idle timer.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build()
}

/// Commands read from stdin on a thread of their own; the channel closes with stdin.
fn commands() -> mpsc::UnboundedReceiver<serde_json::Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Ok(value) = serde_json::from_str(&line) {
                if tx.send(value).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

/// Polls `swarm` until `done` says the event it waits for came, or setup times out.
async fn drive_until(
    swarm: &mut Swarm<Behaviour>,
    what: &str,
    mut done: impl FnMut(&SwarmEvent<BehaviourEvent>) -> bool,
) {
    let deadline = tokio::time::sleep(SETUP_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                match &event {
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        fail(format!("{what}: dial failed: {error}"))
                    }
                    SwarmEvent::ListenerClosed { reason: Err(e), .. } => {
                        fail(format!("{what}: listener closed: {e}"))
                    }
                    _ => {}
                }
                if done(&event) {
                    return;
                }
            }
            _ = &mut deadline => fail(format!("{what}: timed out")),
        }
    }
}

/// Reads a sink stream to its end and answers the byte count.
async fn serve_sink(stream: libp2p::Stream) -> std::io::Result<()> {
    let (mut r, mut w) = stream.split();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut count: u64 = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        count += n as u64;
    }
    w.write_all(&count.to_be_bytes()).await?;
    w.close().await
}

async fn sink(relay_addr: Multiaddr) {
    let mut swarm = build_swarm();
    let mut incoming = swarm
        .behaviour()
        .stream
        .new_control()
        .accept(SINK)
        .unwrap_or_else(|e| fail(format!("accept: {e}")));
    swarm
        .listen_on(relay_addr.with(Protocol::P2pCircuit))
        .unwrap_or_else(|e| fail(format!("listen: {e}")));
    drive_until(&mut swarm, "reserve", |event| {
        matches!(
            event,
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                relay::client::Event::ReservationReqAccepted { .. }
            ))
        )
    })
    .await;
    emit(serde_json::json!({ "ready": true, "peerId": swarm.local_peer_id().to_string() }));
    tokio::spawn(async move {
        while let Some((_, stream)) = incoming.next().await {
            tokio::spawn(async move {
                let _ = serve_sink(stream).await;
            });
        }
    });
    let mut commands = commands();
    loop {
        tokio::select! {
            _ = swarm.select_next_some() => {}
            command = commands.recv() => if command.is_none() { break },
        }
    }
}

/// One round: a new sink stream, `bytes` sent in 64 KiB writes, the sink's count checked.
async fn round(
    control: &mut libp2p_stream::Control,
    target: PeerId,
    bytes: u64,
) -> Result<(), String> {
    let stream = control
        .open_stream(target, SINK)
        .await
        .map_err(|e| format!("open stream: {e}"))?;
    let (mut r, mut w) = stream.split();
    let chunk = vec![0u8; CHUNK_BYTES];
    let mut sent: u64 = 0;
    while sent < bytes {
        let size = (bytes - sent).min(CHUNK_BYTES as u64) as usize;
        w.write_all(&chunk[..size])
            .await
            .map_err(|e| format!("write after {sent} bytes: {e}"))?;
        sent += size as u64;
    }
    w.close().await.map_err(|e| format!("close write: {e}"))?;
    let mut answer = [0u8; 8];
    r.read_exact(&mut answer)
        .await
        .map_err(|e| format!("read count: {e}"))?;
    let counted = u64::from_be_bytes(answer);
    if counted != bytes {
        return Err(format!("sink counted {counted} bytes of {bytes}"));
    }
    Ok(())
}

async fn source(relay_addr: Multiaddr, target: PeerId) {
    let mut swarm = build_swarm();
    let mut control = swarm.behaviour().stream.new_control();
    let circuit = relay_addr
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(target));
    swarm
        .dial(circuit)
        .unwrap_or_else(|e| fail(format!("dial: {e}")));
    drive_until(&mut swarm, "connect through relay", |event| {
        matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if *peer_id == target)
    })
    .await;
    emit(serde_json::json!({ "ready": true }));
    // The swarm keeps running on its own task; rounds use the stream control.
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    let mut commands = commands();
    while let Some(command) = commands.recv().await {
        let Some(bytes) = command.get("go").and_then(|v| v.as_u64()) else {
            continue;
        };
        let started = Instant::now();
        match round(&mut control, target, bytes).await {
            Ok(()) => emit(serde_json::json!({
                "done": true,
                "bytes": bytes,
                "elapsedMs": started.elapsed().as_micros() as f64 / 1000.0,
            })),
            Err(error) => emit(serde_json::json!({ "done": true, "error": error })),
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse_addr = |s: &String| -> Multiaddr {
        s.parse()
            .unwrap_or_else(|e| fail(format!("relay address {s}: {e}")))
    };
    match args.as_slice() {
        [mode, relay] if mode == "sink" => sink(parse_addr(relay)).await,
        [mode, relay, target] if mode == "source" => {
            let target: PeerId = target
                .parse()
                .unwrap_or_else(|e| fail(format!("peer id {target}: {e}")));
            source(parse_addr(relay), target).await
        }
        _ => fail("usage: peers-rust sink RELAY | source RELAY PEERID".to_string()),
    }
    std::process::exit(0);
}
