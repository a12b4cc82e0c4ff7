// Command interop-go is hopd's stock go-libp2p relay client for the interop matrix: it reserves
// a slot on a circuit relay v2 (--listen) or dials a reserved peer through it (--dial), echoes
// bytes over the circuit (or over the direct connection DCUtR opened, with --holepunch), and
// prints one JSON line of results in the schema every interop client shares
// (docs/INTEROP.md). Only go-libp2p's public API is used: circuitv2 client, identify, ping,
// holepunch, TCP, QUIC and WebSockets.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
)

// EchoProtocol is the echo protocol every interop client serves and dials.
const EchoProtocol = "/hopd-test/echo/1.0.0"

const chunkBytes = 16 * 1024

func main() {
	os.Exit(run())
}

type options struct {
	relay     string
	listen    bool
	dial      string
	echo      int
	holepunch bool
	waitClose bool
	// holepunchWait: how long the dialer waits for a direct connection before the echo.
	holepunchWait time.Duration
	autorelay     bool
	timeout       time.Duration
	binds         []string
}

func parseFlags() (options, error) {
	var o options
	var binds string
	flag.StringVar(&o.relay, "relay", "", "relay multiaddr, with /p2p/<relay peer id>")
	flag.BoolVar(&o.listen, "listen", false, "reserve a slot on the relay and serve echo")
	flag.StringVar(&o.dial, "dial", "", "peer id to dial through the relay")
	flag.IntVar(&o.echo, "echo", 0, "bytes to echo through the connection (dial side)")
	flag.BoolVar(&o.holepunch, "holepunch", false, "enable DCUtR and wait for a direct connection")
	flag.BoolVar(&o.waitClose, "wait-close", false, "after the echo, wait until the relayed connection closes")
	flag.BoolVar(&o.autorelay, "autorelay", false, "listen side: let autorelay reserve (EnableAutoRelayWithStaticRelays) instead of reserving directly")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up after this long")
	flag.DurationVar(&o.holepunchWait, "holepunch-wait", 10*time.Second, "dial side, with --holepunch: how long to wait for a direct connection before the echo")
	flag.StringVar(&binds, "bind", "", "comma-separated listen multiaddrs of this client")
	flag.Parse()
	if binds != "" {
		o.binds = strings.Split(binds, ",")
	} else if o.holepunch {
		o.binds = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}
	}
	if o.relay == "" || o.listen == (o.dial != "") {
		return o, errors.New("usage: interop-go --relay MULTIADDR (--listen | --dial PEERID) [--echo BYTES] [--holepunch [--holepunch-wait 10s]] [--wait-close] [--timeout 60s] [--bind ADDRS]")
	}
	return o, nil
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r := newResult(o)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		cancel()
	}()

	relayInfo, err := peer.AddrInfoFromString(o.relay)
	if err != nil {
		r.fail("relay address: %v", err)
		return r.print()
	}
	h, tracer, err := newHost(o, relayInfo)
	if err != nil {
		r.fail("host: %v", err)
		return r.print()
	}
	defer h.Close()
	r.PeerID = h.ID().String()
	watch := watchConnections(h, r)
	defer watch.close()

	if err := h.Connect(ctx, *relayInfo); err != nil {
		r.fail("connect to relay: %v", err)
		return r.print()
	}
	if res := <-ping.Ping(ctx, h, relayInfo.ID); res.Error == nil {
		r.RelayPingMs = ms(res.RTT)
	} else {
		r.fail("ping relay: %v", res.Error)
	}
	if o.holepunch {
		if err := waitHolePunchReady(ctx, h); err != nil {
			r.fail("hole punching never became ready: %v", err)
			return r.print()
		}
	}
	if o.listen {
		listen(ctx, h, o, relayInfo, r, watch)
	} else {
		dial(ctx, h, o, relayInfo, r, watch)
	}
	r.Holepunch = tracer.summary(o.holepunch, watch)
	r.ObservedAddrs = watch.observedFor(relayInfo.ID)
	for _, a := range h.Addrs() {
		r.ListenAddrs = append(r.ListenAddrs, a.String())
	}
	return r.print()
}

func newHost(o options, relayInfo *peer.AddrInfo) (host.Host, *punchTracer, error) {
	tracer := &punchTracer{started: time.Now()}
	opts := []libp2p.Option{
		libp2p.NoListenAddrs,
		libp2p.ListenAddrStrings(o.binds...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Transport(websocket.New),
		libp2p.EnableRelay(),
		libp2p.Ping(true),
		libp2p.UserAgent("hopd-interop-go/" + goLibp2pVersion()),
	}
	if o.holepunch {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(tracer)))
	}
	if o.autorelay {
		// As a node configured with a known relay runs: autorelay reserves once AutoNAT
		// says the node is not publicly reachable (EvtLocalReachabilityChanged).
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays([]peer.AddrInfo{*relayInfo},
			autorelay.WithBootDelay(0)))
	}
	h, err := libp2p.New(opts...)
	return h, tracer, err
}

// waitHolePunchReady waits until the host serves DCUtR. go-libp2p's hole punch service
// registers its handler only once the host knows a public address of its own (identify's
// observed address from the relay), polling for one with a backoff; a peer that dials or is
// dialed before that refuses the other side's DCUtR stream and the hole punch is lost. A node
// that has been up for a while is past this point; a client started for one test is not.
func waitHolePunchReady(ctx context.Context, h host.Host) error {
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalProtocolsUpdated))
	if err != nil {
		return err
	}
	defer sub.Close()
	for !slices.Contains(h.Mux().Protocols(), holepunch.Protocol) {
		select {
		case <-sub.Out():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitCircuitAddrs waits until the host advertises a /p2p-circuit address: autorelay holds a
// reservation.
func waitCircuitAddrs(ctx context.Context, h host.Host) ([]string, error) {
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	for {
		var circuits []string
		for _, a := range h.Addrs() {
			if isRelayed(a) {
				circuits = append(circuits, a.String())
			}
		}
		if len(circuits) > 0 {
			return circuits, nil
		}
		select {
		case <-sub.Out():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func listen(ctx context.Context, h host.Host, o options, relayInfo *peer.AddrInfo, r *result, watch *connWatch) {
	done := make(chan struct{})
	var once sync.Once
	h.SetStreamHandler(EchoProtocol, func(s network.Stream) {
		serveEcho(s, r)
		once.Do(func() { close(done) })
	})
	started := time.Now()
	if o.autorelay {
		addrs, err := waitCircuitAddrs(ctx, h)
		if err != nil {
			r.fail("autorelay: no reservation: %v", err)
			return
		}
		r.Reservation = &reservationResult{Ms: ms(time.Since(started)), Addrs: addrs}
	} else {
		rsvp, err := client.Reserve(ctx, h, *relayInfo)
		if err != nil {
			r.fail("reserve: %v", err)
			return
		}
		addrs := make([]string, 0, len(rsvp.Addrs))
		for _, a := range rsvp.Addrs {
			addrs = append(addrs, a.String())
		}
		r.Reservation = &reservationResult{
			Ms:        ms(time.Since(started)),
			ExpiresAt: rsvp.Expiration.Unix(),
			Limit:     limitOf(rsvp.LimitDuration, rsvp.LimitData),
			Addrs:     addrs,
		}
	}
	ready, _ := json.Marshal(map[string]any{"event": "ready", "peerId": h.ID().String(), "reservation": r.Reservation})
	fmt.Fprintln(os.Stderr, string(ready))
	readyAt := time.Now()
	defer func() {
		// The inbound circuit: its address and the limit the STOP CONNECT carried.
		watch.mu.Lock()
		c, at := watch.firstRelayed()
		watch.mu.Unlock()
		if c != nil {
			r.Connect = &connectResult{
				Ms:         ms(at.Sub(readyAt)),
				Relayed:    true,
				RemoteAddr: c.RemoteMultiaddr().String(),
				Limit:      statLimit(c.Stat()),
			}
			r.Closed = watch.relayedClosedAfter(c.RemotePeer())
		}
	}()
	select {
	case <-done:
		if o.waitClose {
			watch.waitRelayedClosed(ctx)
		}
		// Exiting at once would close our connection to the relay under the echo's last
		// bytes (the relay resets a circuit whose end goes away): wait for the dialer to
		// hang up first.
		watch.waitPeerGone(ctx, 10*time.Second)
	case <-ctx.Done():
		// Stopped by a signal or the timeout: report what happened so far.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Echo == nil {
			r.fail("timeout: no echo stream within %s", o.timeout)
		}
	}
}

func dial(ctx context.Context, h host.Host, o options, relayInfo *peer.AddrInfo, r *result, watch *connWatch) {
	target, err := peer.Decode(o.dial)
	if err != nil {
		r.fail("peer id: %v", err)
		return
	}
	circuit, err := ma.NewMultiaddr(fmt.Sprintf("%s/p2p-circuit", o.relay))
	if err != nil {
		r.fail("circuit address: %v", err)
		return
	}
	started := time.Now()
	limitedCtx := network.WithAllowLimitedConn(ctx, "hopd interop")
	if err := h.Connect(limitedCtx, peer.AddrInfo{ID: target, Addrs: []ma.Multiaddr{circuit}}); err != nil {
		r.fail("connect through relay: %v", err)
		return
	}
	r.Connect = watch.connectResult(target, ms(time.Since(started)))
	if o.holepunch {
		watch.waitDirect(ctx, o.holepunchWait)
	}
	if o.echo > 0 {
		r.Echo = echoOnce(limitedCtx, h, target, o.echo)
		// Both peers dial each other's addresses at once in a hole punch; a dialer drops the
		// connections that lost its own race, and the other side may have opened its stream on
		// one of them (seen: go picks the QUIC connection rust's dial race then closes, 1 in
		// ~50 attempts). That loses nothing the peers had agreed on: run the echo once more on
		// a connection that is still open, and say so in the result.
		if first := r.Echo; first.Error != "" && first.Received == 0 && first.connClosed {
			if o.holepunch {
				watch.waitDirect(ctx, 2*time.Second)
			}
			if h.Network().Connectedness(target) == network.Connected {
				r.Echo = echoOnce(limitedCtx, h, target, o.echo)
				r.Echo.FirstError = first.Error
			}
		}
		if r.Echo.Error != "" {
			r.Errors = append(r.Errors, "echo: "+r.Echo.Error)
		}
	}
	if o.waitClose {
		watch.waitRelayedClosed(ctx)
		if watch.relayedClosedAfter(target) == nil {
			r.fail("relayed connection still open after %s", o.timeout)
		}
	}
	r.Closed = watch.relayedClosedAfter(target)
}

// echoOnce sends n random bytes on a fresh echo stream while reading the echo back.
func echoOnce(ctx context.Context, h host.Host, target peer.ID, n int) *echoResult {
	started := time.Now()
	res := &echoResult{Bytes: n}
	s, err := h.NewStream(ctx, target, EchoProtocol)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer s.Close()
	defer func() { res.connClosed = s.Conn().IsClosed() }()
	res.Via = via(s.Conn())
	payload := make([]byte, n)
	_, _ = rand.Read(payload)
	received := make([]byte, 0, n)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64*1024)
		for len(received) < n {
			k, err := s.Read(buf)
			received = append(received, buf[:k]...)
			// A QUIC stream can hand over its last bytes together with EOF.
			if err != nil && !(errors.Is(err, io.EOF) && len(received) >= n) {
				readErr <- err
				return
			}
		}
		readErr <- nil
	}()
	var writeErr error
	for off := 0; off < n && writeErr == nil; off += chunkBytes {
		k, err := s.Write(payload[off:min(n, off+chunkBytes)])
		res.Sent += k
		writeErr = err
	}
	if writeErr == nil {
		writeErr = s.CloseWrite()
	}
	err = <-readErr
	res.Received = len(received)
	res.Ms = ms(time.Since(started))
	res.Intact = res.Received == n && sha256.Sum256(received) == sha256.Sum256(payload)
	switch {
	case err != nil:
		res.Error = fmt.Sprintf("read after %d bytes: %v", res.Received, err)
	case writeErr != nil:
		res.Error = fmt.Sprintf("write after %d bytes: %v", res.Sent, writeErr)
	case !res.Intact:
		res.Error = "echoed bytes differ from sent bytes"
	}
	return res
}

// serveEcho writes back every byte it reads until the dialer closes its side.
func serveEcho(s network.Stream, r *result) {
	started := time.Now()
	res := &echoResult{Via: via(s.Conn())}
	buf := make([]byte, 64*1024)
	var err error
	for {
		var k int
		k, err = s.Read(buf)
		res.Received += k
		if k > 0 {
			w, werr := s.Write(buf[:k])
			res.Sent += w
			if werr != nil {
				err = werr
				break
			}
		}
		if err != nil {
			break
		}
	}
	res.Bytes = res.Received
	res.Ms = ms(time.Since(started))
	// A dialer that got every byte back hangs up: over QUIC its close (code 0) can reach us
	// before the end of its stream does, and over TCP its exit can reset the connection
	// under our last read (seen in CI: "connection reset by peer" after a full echo). Either
	// way every byte read was written back; whether all of them came back intact is the
	// dialer's result to say, and the suite checks it there.
	hungUp := res.Received > 0 && res.Sent == res.Received && errors.Is(err, network.ErrReset)
	if errors.Is(err, io.EOF) || hungUp {
		// Every byte read was written back: the echo is done. The dialer may hang up before
		// our close reaches it, so an error from closing is not a failed echo.
		err = nil
		_ = s.Close()
	} else {
		_ = s.Reset()
	}
	res.Intact = err == nil && res.Sent == res.Received
	if err != nil {
		res.Error = err.Error()
	}
	r.mu.Lock()
	r.Echo = res
	if res.Error != "" {
		r.Errors = append(r.Errors, "echo: "+res.Error)
	}
	r.mu.Unlock()
}

func via(c network.Conn) string {
	if isRelayed(c.RemoteMultiaddr()) {
		return "relayed"
	}
	return "direct"
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

func limitOf(duration time.Duration, data uint64) *limitResult {
	l := &limitResult{}
	if duration > 0 {
		s := int64(duration / time.Second)
		l.DurationS = &s
	}
	if data > 0 {
		l.DataBytes = &data
	}
	return l
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

func goLibp2pVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/libp2p/go-libp2p" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// connWatch follows the host's connections to one peer (relayed and direct) and the addresses
// peers observed for us in identify.
type connWatch struct {
	mu       sync.Mutex
	changed  chan struct{}
	opened   map[network.Conn]time.Time
	closed   map[network.Conn]time.Time
	observed map[peer.ID][]string
	sub      event.Subscription
	notifiee *network.NotifyBundle
	net      network.Network
}

func watchConnections(h host.Host, r *result) *connWatch {
	w := &connWatch{
		changed:  make(chan struct{}),
		opened:   map[network.Conn]time.Time{},
		closed:   map[network.Conn]time.Time{},
		observed: map[peer.ID][]string{},
		net:      h.Network(),
	}
	w.notifiee = &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			w.update(func() { w.opened[c] = time.Now() })
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			w.update(func() { w.closed[c] = time.Now() })
		},
	}
	h.Network().Notify(w.notifiee)
	if sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted)); err == nil {
		w.sub = sub
		go func() {
			for e := range sub.Out() {
				evt := e.(event.EvtPeerIdentificationCompleted)
				if evt.ObservedAddr != nil {
					w.update(func() {
						w.observed[evt.Peer] = append(w.observed[evt.Peer], evt.ObservedAddr.String())
					})
				}
			}
		}()
	} else {
		r.fail("subscribe identify: %v", err)
	}
	return w
}

func (w *connWatch) close() {
	w.net.StopNotify(w.notifiee)
	if w.sub != nil {
		_ = w.sub.Close()
	}
}

func (w *connWatch) update(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitFor blocks until cond holds (checked under the lock), ctx ends or the wait passes.
func (w *connWatch) waitFor(ctx context.Context, wait time.Duration, cond func() bool) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, changed := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// firstRelayed is the first relayed connection the host saw (to or from the other client).
func (w *connWatch) firstRelayed() (network.Conn, time.Time) {
	var best network.Conn
	var at time.Time
	for c, t := range w.opened {
		if isRelayed(c.RemoteMultiaddr()) && (best == nil || t.Before(at)) {
			best, at = c, t
		}
	}
	return best, at
}

// firstDirect is the first direct connection to the peer at the other end of the first
// relayed connection: the one DCUtR (or a plain dial) opened.
func (w *connWatch) firstDirect() (network.Conn, time.Time) {
	relayed, _ := w.firstRelayed()
	var best network.Conn
	var at time.Time
	if relayed == nil {
		return nil, at
	}
	for c, t := range w.opened {
		if c.RemotePeer() == relayed.RemotePeer() && !isRelayed(c.RemoteMultiaddr()) &&
			(best == nil || t.Before(at)) {
			best, at = c, t
		}
	}
	return best, at
}

// waitDirect waits until a direct connection to the peer at the other end of the first
// relayed one is open. The first one may already be gone: in a hole punch both peers dial, and
// each drops the connections that lost its own dial race.
func (w *connWatch) waitDirect(ctx context.Context, wait time.Duration) {
	w.waitFor(ctx, wait, func() bool {
		relayed, _ := w.firstRelayed()
		if relayed == nil {
			return false
		}
		for c := range w.opened {
			if _, gone := w.closed[c]; !gone && c.RemotePeer() == relayed.RemotePeer() &&
				!isRelayed(c.RemoteMultiaddr()) {
				return true
			}
		}
		return false
	})
}

// waitPeerGone waits until every connection to the other client (relayed or direct) closed.
func (w *connWatch) waitPeerGone(ctx context.Context, wait time.Duration) {
	w.waitFor(ctx, wait, func() bool {
		relayed, _ := w.firstRelayed()
		if relayed == nil {
			return true
		}
		for c := range w.opened {
			if _, gone := w.closed[c]; !gone && c.RemotePeer() == relayed.RemotePeer() {
				return false
			}
		}
		return true
	})
}

func (w *connWatch) waitRelayedClosed(ctx context.Context) {
	w.waitFor(ctx, time.Hour, func() bool {
		c, _ := w.firstRelayed()
		if c == nil {
			return false
		}
		_, gone := w.closed[c]
		return gone
	})
}

func (w *connWatch) relayedClosedAfter(target peer.ID) *closedResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, opened := w.firstRelayed()
	if c == nil {
		return nil
	}
	closedAt, gone := w.closed[c]
	if !gone {
		return nil
	}
	return &closedResult{AfterMs: ms(closedAt.Sub(opened))}
}

func (w *connWatch) connectResult(target peer.ID, elapsed float64) *connectResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := &connectResult{Ms: elapsed}
	for _, c := range w.net.ConnsToPeer(target) {
		res.RemoteAddr = c.RemoteMultiaddr().String()
		res.Relayed = isRelayed(c.RemoteMultiaddr())
		if res.Relayed {
			res.Limit = statLimit(c.Stat())
			break
		}
	}
	return res
}

// statLimit is the limit the circuit client read from the relay's answer (HOP STATUS or STOP
// CONNECT) and keeps in the connection's stats.
func statLimit(stat network.ConnStats) *limitResult {
	if !stat.Limited {
		return nil
	}
	duration, _ := stat.Extra[client.StatLimitDuration].(time.Duration)
	data, _ := stat.Extra[client.StatLimitData].(uint64)
	return limitOf(duration, data)
}

func (w *connWatch) observedFor(p peer.ID) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.observed[p]...)
}

// punchTracer keeps go-libp2p's hole punch events for the report.
type punchTracer struct {
	mu      sync.Mutex
	started time.Time
	events  []map[string]any
}

func (t *punchTracer) Trace(evt *holepunch.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, map[string]any{
		"type":  evt.Type,
		"atMs":  ms(time.Unix(0, evt.Timestamp).Sub(t.started)),
		"event": evt.Evt,
	})
}

func (t *punchTracer) summary(enabled bool, w *connWatch) *holepunchResult {
	if !enabled {
		return nil
	}
	t.mu.Lock()
	events := append([]map[string]any{}, t.events...)
	t.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	res := &holepunchResult{Events: events}
	direct, directAt := w.firstDirect()
	relayed, relayedAt := w.firstRelayed()
	if direct != nil {
		res.Direct = true
		res.DirectAddr = direct.RemoteMultiaddr().String()
		if relayed != nil {
			after := ms(directAt.Sub(relayedAt))
			res.DirectAfterMs = &after
		}
	}
	return res
}
