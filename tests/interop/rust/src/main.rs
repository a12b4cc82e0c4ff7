//! hopd's stock rust-libp2p relay client for the interop matrix: it reserves a slot on a
//! circuit relay v2 (--listen) or dials a reserved peer through it (--dial), echoes bytes over
//! the circuit (or over the direct connection DCUtR opened, with --holepunch), and prints one
//! JSON line of results in the schema every interop client shares (docs/INTEROP.md). Only the
//! `libp2p` crate's public API is used (relay client, dcutr, identify, ping, noise, yamux,
//! TCP, QUIC, WebSockets) and libp2p-stream for the echo protocol.

mod result;

use std::{
    collections::HashMap,
    io,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{
    core::{multiaddr::Protocol, ConnectedPoint},
    dcutr, identify, noise, ping, relay,
    swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use rand::RngCore;
use result::*;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

const ECHO: StreamProtocol = StreamProtocol::new("/hopd-test/echo/1.0.0");
const CHUNK_BYTES: usize = 16 * 1024;

#[derive(Parser)]
#[command(about = "hopd interop client (rust-libp2p)")]
struct Args {
    /// Relay multiaddr, with /p2p/<relay peer id>.
    #[arg(long)]
    relay: Multiaddr,
    /// Reserve a slot on the relay and serve echo.
    #[arg(long)]
    listen: bool,
    /// Peer id to dial through the relay.
    #[arg(long)]
    dial: Option<PeerId>,
    /// Bytes to echo through the connection (dial side).
    #[arg(long, default_value_t = 0)]
    echo: usize,
    /// Enable DCUtR and wait for a direct connection.
    #[arg(long)]
    holepunch: bool,
    /// Dial side, with --holepunch: how long to wait for a direct connection before the echo
    /// ("10s" or "10").
    #[arg(long, default_value = "10s")]
    holepunch_wait: String,
    /// After the echo, wait until the relayed connection closes.
    #[arg(long)]
    wait_close: bool,
    /// Give up after this long ("60s" or "60").
    #[arg(long, default_value = "60s")]
    timeout: String,
    /// Comma-separated listen multiaddrs of this client.
    #[arg(long)]
    bind: Option<String>,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay_client: relay::client::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    dcutr: Toggle<dcutr::Behaviour>,
    stream: libp2p_stream::Behaviour,
}

struct ConnInfo {
    peer: PeerId,
    addr: Multiaddr,
    relayed: bool,
    opened: Instant,
    closed: Option<Instant>,
}

/// What the swarm task learned, read by the main flow.
#[derive(Default)]
struct State {
    relay_ping_ms: Option<f64>,
    observed: Vec<String>,
    relay_identified: bool,
    reservation: Option<(Instant, Option<LimitResult>)>,
    reservation_addrs: Vec<String>,
    listen_addrs: Vec<String>,
    conns: HashMap<ConnectionId, ConnInfo>,
    outbound_limit: Option<Option<LimitResult>>,
    inbound_limit: Option<Option<LimitResult>>,
    punch_events: Vec<serde_json::Value>,
    /// Listener and dial failures, in order.
    failures: Vec<String>,
}

impl State {
    fn first_relayed(&self) -> Option<&ConnInfo> {
        self.conns
            .values()
            .filter(|c| c.relayed)
            .min_by_key(|c| c.opened)
    }

    /// The first direct connection to the peer at the other end of the first relayed one.
    fn first_direct(&self) -> Option<&ConnInfo> {
        let peer = self.first_relayed()?.peer;
        self.conns
            .values()
            .filter(|c| c.peer == peer && !c.relayed)
            .min_by_key(|c| c.opened)
    }

    fn peer_gone(&self, peer: PeerId) -> bool {
        self.conns
            .values()
            .all(|c| c.peer != peer || c.closed.is_some())
    }
}

enum Cmd {
    Dial(Multiaddr),
    Listen(Multiaddr),
    Close(ConnectionId),
}

static STOP: AtomicBool = AtomicBool::new(false);

fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

fn parse_timeout(s: &str) -> Duration {
    let n: f64 = s.trim_end_matches('s').parse().unwrap_or(60.0);
    Duration::from_secs_f64(n)
}

fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // RUST_LOG (e.g. "libp2p_dcutr=debug,libp2p_swarm=debug") turns on rust-libp2p's own
    // logs on stderr, which the interop report shows for a failed attempt. Off by default.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(io::stderr)
            .with_ansi(false)
            .init();
    }
    if args.listen == args.dial.is_some() {
        eprintln!("usage: interop-rust --relay MULTIADDR (--listen | --dial PEERID) [--echo BYTES] [--holepunch [--holepunch-wait 10s]] [--wait-close] [--timeout 60s] [--bind ADDRS]");
        std::process::exit(2);
    }
    let started = Instant::now();
    let deadline = started + parse_timeout(&args.timeout);
    let mut result = ClientResult {
        schema: "hopd-interop/1",
        r#impl: "rust",
        version: format!("rust-libp2p {}", env!("LIBP2P_VERSION")),
        role: if args.listen { "listen" } else { "dial" },
        peer_id: String::new(),
        relay: args.relay.to_string(),
        ok: false,
        errors: vec![],
        relay_ping_ms: None,
        reservation: None,
        connect: None,
        echo: None,
        holepunch: None,
        closed: None,
        observed_addrs: vec![],
        listen_addrs: vec![],
        total_ms: 0.0,
    };
    if let Err(e) = run(&args, deadline, &mut result).await {
        result.errors.push(e);
    }
    result.total_ms = ms(started.elapsed());
    result.ok = result.errors.is_empty();
    println!(
        "{}",
        serde_json::to_string(&result).expect("result serializes")
    );
    std::process::exit(if result.ok { 0 } else { 1 });
}

fn build_swarm(holepunch: bool) -> Result<Swarm<Behaviour>, String> {
    let builder = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| format!("tcp: {e}"))?
        .with_quic()
        .with_dns()
        .map_err(|e| format!("dns: {e}"))?;
    let builder = futures::executor::block_on(
        builder.with_websocket(noise::Config::new, yamux::Config::default),
    )
    .map_err(|e| format!("websocket: {e}"))?;
    let swarm = builder
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| format!("relay client: {e}"))?
        .with_behaviour(|key, relay_client| Behaviour {
            relay_client,
            identify: identify::Behaviour::new(
                identify::Config::new("/ipfs/id/1.0.0".to_string(), key.public())
                    .with_agent_version(format!("hopd-interop-rust/{}", env!("LIBP2P_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            dcutr: Toggle::from(
                holepunch.then(|| dcutr::Behaviour::new(key.public().to_peer_id())),
            ),
            stream: libp2p_stream::Behaviour::new(),
        })
        .map_err(|e| format!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// Polls the swarm, applies commands and records what happens in `state`.
async fn drive(
    mut swarm: Swarm<Behaviour>,
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<u64>>,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    relay_id: Option<PeerId>,
    started: Instant,
) {
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                let failure = match command {
                    Cmd::Dial(addr) => swarm.dial(addr.clone()).err().map(|e| format!("dial {addr}: {e}")),
                    Cmd::Listen(addr) => swarm.listen_on(addr.clone()).err().map(|e| format!("listen on {addr}: {e}")),
                    Cmd::Close(id) => { swarm.close_connection(id); None }
                };
                if let Some(f) = failure {
                    state.lock().unwrap().failures.push(f);
                }
            }
            event = swarm.select_next_some() => {
                record(&mut state.lock().unwrap(), event, relay_id, started);
            }
        }
        changed.send_modify(|v| *v += 1);
    }
}

fn record(
    s: &mut State,
    event: SwarmEvent<BehaviourEvent>,
    relay_id: Option<PeerId>,
    started: Instant,
) {
    match event {
        SwarmEvent::ConnectionEstablished {
            peer_id,
            connection_id,
            endpoint,
            ..
        } => {
            let relayed = endpoint.is_relayed();
            let addr = match &endpoint {
                ConnectedPoint::Dialer { address, .. } => address.clone(),
                ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr.clone(),
            };
            s.conns.insert(
                connection_id,
                ConnInfo {
                    peer: peer_id,
                    addr,
                    relayed,
                    opened: Instant::now(),
                    closed: None,
                },
            );
        }
        SwarmEvent::ConnectionClosed { connection_id, .. } => {
            if let Some(c) = s.conns.get_mut(&connection_id) {
                c.closed = Some(Instant::now());
            }
        }
        SwarmEvent::NewListenAddr { address, .. } => {
            if is_relayed(&address) {
                s.reservation_addrs.push(address.to_string());
            }
            s.listen_addrs.push(address.to_string());
        }
        SwarmEvent::ListenerClosed {
            reason: Err(e),
            addresses,
            ..
        } => {
            s.failures
                .push(format!("listener on {addresses:?} closed: {e}"));
        }
        SwarmEvent::ListenerError { error, .. } => {
            s.failures.push(format!("listener error: {error}"))
        }
        SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
            s.failures.push(format!("dial {peer_id:?} failed: {error}"));
        }
        SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => match event {
            relay::client::Event::ReservationReqAccepted { limit, .. } => {
                if s.reservation.is_none() {
                    s.reservation = Some((Instant::now(), limit_result!(limit)));
                }
            }
            relay::client::Event::OutboundCircuitEstablished { limit, .. } => {
                s.outbound_limit.get_or_insert(limit_result!(limit));
            }
            relay::client::Event::InboundCircuitEstablished { limit, .. } => {
                s.inbound_limit.get_or_insert(limit_result!(limit));
            }
        },
        SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) if Some(peer_id) == relay_id => {
            s.observed.push(info.observed_addr.to_string());
            s.relay_identified = true;
        }
        SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
            peer,
            result: Ok(rtt),
            ..
        })) if Some(peer) == relay_id && s.relay_ping_ms.is_none() => {
            s.relay_ping_ms = Some(ms(rtt));
        }
        SwarmEvent::Behaviour(BehaviourEvent::Dcutr(dcutr::Event {
            remote_peer_id,
            result,
        })) => {
            s.punch_events.push(serde_json::json!({
                "type": "dcutr",
                "atMs": ms(started.elapsed()),
                "peer": remote_peer_id.to_string(),
                "ok": result.is_ok(),
                "error": result.err().map(|e| e.to_string()),
            }));
        }
        _ => {}
    }
}

/// Waits until `cond` holds on the state, or the deadline or a stop signal comes first.
async fn wait_until(
    state: &Arc<Mutex<State>>,
    changes: &mut watch::Receiver<u64>,
    deadline: Instant,
    cond: impl Fn(&State) -> bool,
) -> bool {
    loop {
        if cond(&state.lock().unwrap()) {
            return true;
        }
        let now = Instant::now();
        if STOP.load(Ordering::SeqCst) || now >= deadline {
            return false;
        }
        match tokio::time::timeout(deadline - now, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => return cond(&state.lock().unwrap()),
        }
    }
}

async fn run(args: &Args, deadline: Instant, result: &mut ClientResult) -> Result<(), String> {
    let started = Instant::now();
    let relay_id = args.relay.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    });
    let Some(relay_id) = relay_id else {
        return Err("relay address has no /p2p/<peer id>".into());
    };
    let mut swarm = build_swarm(args.holepunch)?;
    result.peer_id = swarm.local_peer_id().to_string();
    let binds: Vec<String> = match &args.bind {
        Some(b) => b.split(',').map(str::to_string).collect(),
        None if args.holepunch => vec![
            "/ip4/0.0.0.0/tcp/0".into(),
            "/ip4/0.0.0.0/udp/0/quic-v1".into(),
        ],
        None => vec![],
    };
    for bind in binds {
        let addr: Multiaddr = bind.parse().map_err(|e| format!("bind {bind}: {e}"))?;
        swarm
            .listen_on(addr)
            .map_err(|e| format!("listen on {bind}: {e}"))?;
    }
    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(ECHO)
        .map_err(|e| format!("accept echo: {e}"))?;
    let state = Arc::new(Mutex::new(State::default()));
    let (changed_tx, mut changes) = watch::channel(0u64);
    let changed_tx = Arc::new(changed_tx);
    let (commands, command_rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(
        swarm,
        state.clone(),
        changed_tx.clone(),
        command_rx,
        Some(relay_id),
        started,
    ));
    {
        let changed_tx = changed_tx.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            STOP.store(true, Ordering::SeqCst);
            changed_tx.send_modify(|v| *v += 1);
        });
    }

    let send = |c: Cmd| commands.send(c).map_err(|_| "swarm task ended".to_string());
    send(Cmd::Dial(args.relay.clone()))?;
    let identified = wait_until(&state, &mut changes, deadline, |s| {
        s.relay_identified || !s.failures.is_empty()
    })
    .await;
    {
        let s = state.lock().unwrap();
        if !identified || !s.relay_identified {
            return Err(format!("connect to relay: {}", s.failures.join("; ")));
        }
    }
    // Ping runs on its own after the connection opens; give its first answer a moment.
    wait_until(
        &state,
        &mut changes,
        Instant::now() + Duration::from_secs(2),
        |s| s.relay_ping_ms.is_some(),
    )
    .await;
    let local: PeerId = result.peer_id.parse().expect("own peer id parses");
    let flow = if args.listen {
        listen(args, local, deadline, &state, &mut changes, &send, incoming).await
    } else {
        dial(args, deadline, &state, &mut changes, &send, &mut control).await
    };
    let connect_from = flow.as_ref().map_or(started, |f| f.connect_from);
    let s = state.lock().unwrap();
    result.relay_ping_ms = s.relay_ping_ms;
    result.observed_addrs = s.observed.clone();
    result.listen_addrs = s.listen_addrs.clone();
    if let Some((at, limit)) = &s.reservation {
        result.reservation = Some(ReservationResult {
            ms: ms(at.duration_since(started)),
            expires_at: None,
            limit: limit.clone(),
            addrs: s.reservation_addrs.clone(),
        });
    }
    if let Some(relayed) = s.first_relayed() {
        let limit = if args.listen {
            s.inbound_limit.clone()
        } else {
            s.outbound_limit.clone()
        };
        result.connect = Some(ConnectResult {
            ms: ms(relayed.opened.saturating_duration_since(connect_from)),
            relayed: true,
            remote_addr: relayed.addr.to_string(),
            limit: limit.flatten(),
        });
        result.closed = relayed.closed.map(|at| ClosedResult {
            after_ms: ms(at.duration_since(relayed.opened)),
        });
    }
    if args.holepunch {
        let direct = s.first_direct();
        let relayed_at = s.first_relayed().map(|c| c.opened);
        result.holepunch = Some(HolepunchResult {
            direct: direct.is_some(),
            direct_after_ms: match (direct, relayed_at) {
                (Some(d), Some(r)) => Some(ms(d.opened.saturating_duration_since(r))),
                _ => None,
            },
            direct_addr: direct.map(|d| d.addr.to_string()),
            events: s.punch_events.clone(),
        });
    }
    drop(s);
    let echo = flow?.echo;
    if let Some(error) = echo.as_ref().and_then(|e| e.error.clone()) {
        result.errors.push(format!("echo: {error}"));
    }
    result.echo = echo;
    Ok(())
}

/// What the listen or dial flow hands back: the echo and the instant the connect time counts from.
struct Flow {
    echo: Option<EchoResult>,
    connect_from: Instant,
}

/// Resolves once a stop signal arrived.
async fn stopped(changes: &mut watch::Receiver<u64>) {
    while !STOP.load(Ordering::SeqCst) {
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Which connection carries a stream from `peer`: the kind of every open connection to it
/// (libp2p-stream picks any of them, so with both open it cannot be told).
fn via(state: &Arc<Mutex<State>>, peer: PeerId) -> String {
    let s = state.lock().unwrap();
    let open: Vec<&ConnInfo> = s
        .conns
        .values()
        .filter(|c| c.peer == peer && c.closed.is_none())
        .collect();
    if open.iter().all(|c| c.relayed) {
        "relayed".into()
    } else if open.iter().all(|c| !c.relayed) {
        "direct".into()
    } else {
        "unknown".into()
    }
}

async fn listen(
    args: &Args,
    local: PeerId,
    deadline: Instant,
    state: &Arc<Mutex<State>>,
    changes: &mut watch::Receiver<u64>,
    send: &impl Fn(Cmd) -> Result<(), String>,
    mut incoming: libp2p_stream::IncomingStreams,
) -> Result<Flow, String> {
    let failures_before = state.lock().unwrap().failures.len();
    send(Cmd::Listen(args.relay.clone().with(Protocol::P2pCircuit)))?;
    wait_until(state, changes, deadline, |s| {
        s.reservation.is_some() || s.failures.len() > failures_before
    })
    .await;
    let limit = {
        let s = state.lock().unwrap();
        match &s.reservation {
            Some((_, limit)) => limit.clone(),
            None => return Err(format!("reserve: {}", s.failures.join("; "))),
        }
    };
    let ready_at = Instant::now();
    eprintln!(
        "{}",
        serde_json::json!({ "event": "ready", "peerId": local.to_string(), "reservation": { "limit": limit } })
    );
    let remaining = deadline.saturating_duration_since(Instant::now());
    let next = tokio::select! {
        next = tokio::time::timeout(remaining, incoming.next()) => next.ok().flatten(),
        _ = stopped(changes) => None,
    };
    let Some((peer, stream)) = next else {
        if STOP.load(Ordering::SeqCst) {
            return Ok(Flow {
                echo: None,
                connect_from: ready_at,
            });
        }
        return Err(format!("timeout: no echo stream within {}", args.timeout));
    };
    let echo = serve_echo(stream, via(state, peer)).await;
    if args.wait_close {
        wait_until(state, changes, deadline, |s| {
            s.first_relayed().is_some_and(|c| c.closed.is_some())
        })
        .await;
    }
    // Exiting at once would close our connection to the relay under the echo's last bytes
    // (the relay resets a circuit whose end goes away): wait for the dialer to hang up first.
    let linger = (Instant::now() + Duration::from_secs(10)).min(deadline);
    wait_until(state, changes, linger, |s| s.peer_gone(peer)).await;
    Ok(Flow {
        echo: Some(echo),
        connect_from: ready_at,
    })
}

/// Writes back every byte read until the dialer closes its side.
async fn serve_echo(stream: libp2p::Stream, via: String) -> EchoResult {
    let started = Instant::now();
    let mut res = EchoResult {
        via,
        ..Default::default()
    };
    let (mut r, mut w) = stream.split();
    let mut buf = vec![0u8; 64 * 1024];
    let error = loop {
        match r.read(&mut buf).await {
            Ok(0) => break w.close().await.err(),
            Ok(k) => {
                res.received += k;
                if let Err(e) = w.write_all(&buf[..k]).await {
                    break Some(e);
                }
                res.sent += k;
            }
            Err(e) => break Some(e),
        }
    };
    res.bytes = res.received;
    res.ms = ms(started.elapsed());
    res.intact = error.is_none() && res.sent == res.received;
    res.error = error.map(|e| e.to_string());
    res
}

async fn dial(
    args: &Args,
    deadline: Instant,
    state: &Arc<Mutex<State>>,
    changes: &mut watch::Receiver<u64>,
    send: &impl Fn(Cmd) -> Result<(), String>,
    control: &mut libp2p_stream::Control,
) -> Result<Flow, String> {
    let target = args.dial.expect("--dial checked in main");
    let circuit = args
        .relay
        .clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(target));
    let failures_before = state.lock().unwrap().failures.len();
    let connect_from = Instant::now();
    send(Cmd::Dial(circuit))?;
    wait_until(state, changes, deadline, |s| {
        s.conns.values().any(|c| c.peer == target && c.relayed)
            || s.failures.len() > failures_before
    })
    .await;
    {
        let s = state.lock().unwrap();
        if !s.conns.values().any(|c| c.peer == target && c.relayed) {
            return Err(format!("connect through relay: {}", s.failures.join("; ")));
        }
    }
    // The circuit's limit comes in the relay client's event beside the connection.
    wait_until(
        state,
        changes,
        (Instant::now() + Duration::from_secs(1)).min(deadline),
        |s| s.outbound_limit.is_some(),
    )
    .await;
    if args.holepunch {
        let wait = (Instant::now() + parse_timeout(&args.holepunch_wait)).min(deadline);
        if wait_until(state, changes, wait, |s| s.first_direct().is_some()).await {
            // libp2p-stream opens a stream on any connection to the peer: close the relayed
            // ones so the echo moves to the direct connection, as an application would.
            let relayed: Vec<ConnectionId> = state
                .lock()
                .unwrap()
                .conns
                .iter()
                .filter(|(_, c)| c.peer == target && c.relayed && c.closed.is_none())
                .map(|(id, _)| *id)
                .collect();
            for id in relayed {
                send(Cmd::Close(id))?;
            }
            wait_until(state, changes, deadline, |s| {
                s.conns
                    .values()
                    .all(|c| c.peer != target || !c.relayed || c.closed.is_some())
            })
            .await;
        }
    }
    let echo = if args.echo > 0 {
        Some(echo(control, target, args.echo, via(state, target)).await)
    } else {
        None
    };
    if args.wait_close {
        wait_until(state, changes, deadline, |s| {
            s.first_relayed().is_some_and(|c| c.closed.is_some())
        })
        .await;
        if !state
            .lock()
            .unwrap()
            .first_relayed()
            .is_some_and(|c| c.closed.is_some())
        {
            return Err(format!(
                "relayed connection still open after {}",
                args.timeout
            ));
        }
    }
    Ok(Flow { echo, connect_from })
}

/// Sends `n` random bytes on a fresh echo stream while reading the echo back.
async fn echo(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    n: usize,
    via: String,
) -> EchoResult {
    let started = Instant::now();
    let mut res = EchoResult {
        bytes: n,
        via,
        ..Default::default()
    };
    let stream = match control.open_stream(peer, ECHO).await {
        Ok(s) => s,
        Err(e) => {
            res.error = Some(format!("open stream: {e}"));
            return res;
        }
    };
    let (mut r, mut w) = stream.split();
    let mut payload = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut payload);
    let write = async {
        let mut sent = 0;
        for chunk in payload.chunks(CHUNK_BYTES) {
            if let Err(e) = w.write_all(chunk).await {
                return (sent, Some(e));
            }
            sent += chunk.len();
        }
        (sent, w.close().await.err())
    };
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match r.read(&mut buf).await {
                Ok(0) => {
                    return (
                        got,
                        Some(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended")),
                    )
                }
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    };
    let ((sent, write_error), (got, read_error)) = futures::join!(write, read);
    res.sent = sent;
    res.received = got.len();
    res.ms = ms(started.elapsed());
    res.intact = got.len() == n && Sha256::digest(&got) == Sha256::digest(&payload);
    res.error = match (read_error, write_error) {
        (Some(e), _) => Some(format!("read after {} bytes: {e}", got.len())),
        (None, Some(e)) => Some(format!("write after {sent} bytes: {e}")),
        (None, None) if !res.intact => Some("echoed bytes differ from sent bytes".into()),
        _ => None,
    };
    res
}
