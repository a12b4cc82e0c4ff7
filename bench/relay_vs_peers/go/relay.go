package main

import (
	"flag"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// large stands for "no limit" where go-libp2p's relay wants a number.
const large = 1 << 30

// runRelay runs go-libp2p's circuit relay v2 service as go-libp2p-relay-daemon does
// (relay.New on a host with relaying off for itself), with every limit off to match hopd and
// the stock js relay in the bench: no circuit limit (relay.WithInfiniteLimits), reservation
// and circuit counts far above what the bench reaches, no resource manager limits and no
// connection manager trimming. The buffer each circuit copies through stays go-libp2p's
// default (2,048 bytes, as the daemon ships it) unless -buffer says otherwise. TCP, Noise
// and yamux only: the transports and security every client of the bench speaks (go-libp2p
// would otherwise offer TLS first and a go client would take it).
//
// Commands: {"setup":"reset"} forgets the setup times recorded so far; {"setup":"report"}
// answers {"setupMs":[...]} with each hop stream's time from its first bytes read (the
// CONNECT) to its first bytes written (the STATUS), recorded by wrapping the relay's own hop
// handler; {"stats":true} answers the bytes relayed and the CONNECT outcomes.
func runRelay(args []string) {
	flags := flag.NewFlagSet("relay", flag.ExitOnError)
	buffer := flags.Int("buffer", relay.DefaultResources().BufferSize, "bytes each circuit copies through")
	flags.Parse(args)

	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.UserAgent("peers-go-relay"),
	)
	if err != nil {
		fail("host: %v", err)
	}
	resources := relay.DefaultResources()
	resources.MaxReservations = large
	resources.MaxCircuits = large
	resources.MaxReservationsPerPeer = large
	resources.MaxReservationsPerIP = large
	resources.MaxReservationsPerASN = large
	resources.BufferSize = *buffer
	tracer := &countingTracer{}
	if _, err := relay.New(h,
		relay.WithResources(resources),
		relay.WithInfiniteLimits(),
		relay.WithMetricsTracer(tracer),
		// A public relay vouches for its public addresses only; this one listens on loopback,
		// and rust-libp2p refuses a reservation that names no address at all.
		relay.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }),
	); err != nil {
		fail("relay: %v", err)
	}
	timer := &setupTimer{}
	if err := timer.wrapHopHandler(h.Mux(), h.SetStreamHandler); err != nil {
		fail("wrap hop handler: %v", err)
	}

	addrs := []string{}
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	emit(map[string]any{"ready": true, "peerId": h.ID().String(), "addrs": addrs,
		"bufferBytes": *buffer})
	commands(func(command map[string]any) {
		switch {
		case command["setup"] == "reset":
			timer.take()
			emit(map[string]any{"setupReset": true})
		case command["setup"] == "report":
			emit(map[string]any{"setupMs": timer.take()})
		case command["stats"] == true:
			emit(map[string]any{
				"relayedBytes": tracer.bytes.Load(),
				"connectOk":    tracer.connectOk.Load(),
				"connectFail":  tracer.connectFail.Load(),
				"reservations": tracer.reservations.Load(),
			})
		}
	})
	h.Close()
}

// countingTracer counts what the bench checks: bytes relayed (to compare with what the
// clients moved), CONNECT outcomes and reservations granted. One atomic add per copied
// buffer.
type countingTracer struct {
	bytes, connectOk, connectFail, reservations atomic.Int64
}

func (t *countingTracer) RelayStatus(bool)               {}
func (t *countingTracer) ConnectionOpened()              {}
func (t *countingTracer) ConnectionClosed(time.Duration) {}
func (t *countingTracer) ConnectionRequestHandled(status pbv2.Status) {
	if status == pbv2.Status_OK {
		t.connectOk.Add(1)
	} else {
		t.connectFail.Add(1)
	}
}
func (t *countingTracer) ReservationAllowed(bool)               { t.reservations.Add(1) }
func (t *countingTracer) ReservationClosed(int)                 {}
func (t *countingTracer) ReservationRequestHandled(pbv2.Status) {}
func (t *countingTracer) BytesTransferred(n int)                { t.bytes.Add(int64(n)) }

// setupTimer records, per hop stream, the time from the relay reading the request's first
// bytes to the relay writing its answer's first bytes: for a CONNECT, request decoded →
// STOP exchanged with the target → STATUS written, the span hopd's
// hopd_circuit_setup_seconds covers.
type setupTimer struct {
	mu      sync.Mutex
	samples []float64
}

func (t *setupTimer) take() []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	taken := t.samples
	t.samples = []float64{}
	sort.Float64s(taken)
	return taken
}

// wrapHopHandler puts a timing stream around every hop stream the relay's own handler
// serves. go-libp2p has no getter for a registered handler, so it asks the mux to
// negotiate the hop protocol over a scripted connection, which hands back the handler the
// relay registered, then registers a wrapper that calls it.
func (t *setupTimer) wrapHopHandler(
	mux protocol.Switch,
	setHandler func(protocol.ID, network.StreamHandler),
) error {
	_, handler, err := mux.Negotiate(newScriptedNegotiation(proto.ProtoIDv2Hop))
	if err != nil {
		return err
	}
	setHandler(proto.ProtoIDv2Hop, func(s network.Stream) {
		_ = handler(proto.ProtoIDv2Hop, &timedStream{Stream: s, timer: t})
	})
	return nil
}

// timedStream notes when its first bytes were read and when its first bytes were written.
type timedStream struct {
	network.Stream
	timer   *setupTimer
	readAt  time.Time
	written bool
}

func (s *timedStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if n > 0 && s.readAt.IsZero() {
		s.readAt = time.Now()
	}
	return n, err
}

func (s *timedStream) Write(p []byte) (int, error) {
	if !s.written && !s.readAt.IsZero() {
		s.written = true
		ms := float64(time.Since(s.readAt).Microseconds()) / 1000
		s.timer.mu.Lock()
		s.timer.samples = append(s.timer.samples, ms)
		s.timer.mu.Unlock()
	}
	return s.Stream.Write(p)
}

// scriptedNegotiation is the dialer's side of a multistream-select negotiation for one
// protocol, read from a buffer; what the mux writes back is discarded.
type scriptedNegotiation struct {
	script []byte
}

func newScriptedNegotiation(p protocol.ID) *scriptedNegotiation {
	line := func(s string) []byte {
		// A multistream message: uvarint length (one byte here), the text, a newline.
		return append([]byte{byte(len(s) + 1)}, append([]byte(s), '\n')...)
	}
	return &scriptedNegotiation{script: append(line("/multistream/1.0.0"), line(string(p))...)}
}

func (n *scriptedNegotiation) Read(p []byte) (int, error) {
	if len(n.script) == 0 {
		return 0, io.EOF
	}
	k := copy(p, n.script)
	n.script = n.script[k:]
	return k, nil
}

func (n *scriptedNegotiation) Write(p []byte) (int, error) { return len(p), nil }
func (n *scriptedNegotiation) Close() error                { return nil }
