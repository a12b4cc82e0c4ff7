package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// newClient is a stock go-libp2p relay client: TCP, Noise, yamux, the circuit v2 client
// transport (libp2p.EnableRelay, the default), no listen address of its own.
func newClient() host.Host {
	h, err := libp2p.New(
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.EnableRelay(),
		libp2p.UserAgent("peers-go-client"),
	)
	if err != nil {
		fail("host: %v", err)
	}
	return h
}

func relayInfo(relayAddr string) peer.AddrInfo {
	info, err := peer.AddrInfoFromString(relayAddr)
	if err != nil {
		fail("relay address %q: %v", relayAddr, err)
	}
	return *info
}

// runSink reserves a slot on the relay and serves the sink protocol until stdin closes.
func runSink(relayAddr string) {
	h := newClient()
	defer h.Close()
	h.SetStreamHandler(SinkProtocol, serveSink)
	info := relayInfo(relayAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.Connect(ctx, info); err != nil {
		fail("connect to relay: %v", err)
	}
	if _, err := client.Reserve(ctx, h, info); err != nil {
		fail("reserve: %v", err)
	}
	emit(map[string]any{"ready": true, "peerId": h.ID().String()})
	commands(func(map[string]any) {})
}

// serveSink reads a stream to its end and answers the byte count.
func serveSink(s network.Stream) {
	defer s.Close()
	buf := make([]byte, ChunkBytes)
	var count uint64
	for {
		n, err := s.Read(buf)
		count += uint64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Reset()
			return
		}
	}
	var answer [8]byte
	binary.BigEndian.PutUint64(answer[:], count)
	if _, err := s.Write(answer[:]); err != nil {
		s.Reset()
	}
}

// runSource dials the sink through the relay and, on each {"go":N}, streams N bytes to it.
func runSource(relayAddr, target string) {
	h := newClient()
	defer h.Close()
	info := relayInfo(relayAddr)
	sink, err := peer.Decode(target)
	if err != nil {
		fail("peer id %q: %v", target, err)
	}
	circuit, err := ma.NewMultiaddr(relayAddr + "/p2p-circuit")
	if err != nil {
		fail("circuit address: %v", err)
	}
	ctx := network.WithAllowLimitedConn(context.Background(), "bench")
	dialCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := h.Connect(dialCtx, info); err != nil {
		fail("connect to relay: %v", err)
	}
	if err := h.Connect(dialCtx, peer.AddrInfo{ID: sink, Addrs: []ma.Multiaddr{circuit}}); err != nil {
		fail("connect through relay: %v", err)
	}
	emit(map[string]any{"ready": true})
	chunk := make([]byte, ChunkBytes)
	commands(func(command map[string]any) {
		n, ok := command["go"].(float64)
		if !ok {
			return
		}
		started := time.Now()
		if err := sendRound(ctx, h, sink, chunk, uint64(n)); err != nil {
			emit(map[string]any{"done": true, "error": err.Error()})
			return
		}
		emit(map[string]any{"done": true, "bytes": uint64(n),
			"elapsedMs": float64(time.Since(started).Microseconds()) / 1000})
	})
}

// sendRound opens one sink stream, writes n bytes and checks the sink's count.
func sendRound(ctx context.Context, h host.Host, sink peer.ID, chunk []byte, n uint64) error {
	s, err := h.NewStream(ctx, sink, SinkProtocol)
	if err != nil {
		return fmt.Errorf("new stream: %w", err)
	}
	defer s.Close()
	for sent := uint64(0); sent < n; {
		size := min(uint64(len(chunk)), n-sent)
		if _, err := s.Write(chunk[:size]); err != nil {
			s.Reset()
			return fmt.Errorf("write after %d bytes: %w", sent, err)
		}
		sent += size
	}
	if err := s.CloseWrite(); err != nil {
		return fmt.Errorf("close write: %w", err)
	}
	var answer [8]byte
	if _, err := io.ReadFull(s, answer[:]); err != nil {
		return fmt.Errorf("read count: %w", err)
	}
	if got := binary.BigEndian.Uint64(answer[:]); got != n {
		return fmt.Errorf("sink counted %d bytes of %d", got, n)
	}
	return nil
}
