// Command peers-go is bench/relay_vs_peers.ts's go-libp2p side: go-libp2p's own circuit
// relay v2 service (the relay users would pick instead of hopd) and stock go-libp2p relay
// clients that move bytes through a relay. Only go-libp2p's public API. One mode per
// process, speaking JSON lines (reports on stdout, commands on stdin; exits when stdin
// closes):
//
//	peers-go relay [-buffer 2048]     go-libp2p's relay v2 service, limits off (see relay.go)
//	peers-go sink RELAY               reserves on RELAY, serves the sink protocol
//	peers-go source RELAY PEERID      dials PEERID through RELAY; {"go":N} streams N bytes
//
// The sink protocol (/hopd-bench/sink/1.0.0, the same in every client language of the bench):
// the source opens a stream, writes N bytes in 64 KiB writes and closes its write side; the
// sink reads to the end, answers the count as 8 bytes big-endian and closes; the source
// checks the count. One stream per round, on one relayed connection.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// SinkProtocol is the bench's one-way bulk protocol.
const SinkProtocol = "/hopd-bench/sink/1.0.0"

// ChunkBytes is the size of each write the source makes.
const ChunkBytes = 64 * 1024

var stdoutMu sync.Mutex

// emit writes one JSON line on stdout.
func emit(message map[string]any) {
	line, err := json.Marshal(message)
	if err != nil {
		panic(err)
	}
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

// commands yields each JSON object read from stdin, one per line, until stdin closes.
func commands(handle func(map[string]any)) {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		var command map[string]any
		if json.Unmarshal(scanner.Bytes(), &command) == nil {
			handle(command)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peers-go: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: peers-go relay [-buffer N] | sink RELAY | source RELAY PEERID")
	}
	switch os.Args[1] {
	case "relay":
		runRelay(os.Args[2:])
	case "sink":
		if len(os.Args) != 3 {
			fail("usage: peers-go sink RELAY")
		}
		runSink(os.Args[2])
	case "source":
		if len(os.Args) != 4 {
			fail("usage: peers-go source RELAY PEERID")
		}
		runSource(os.Args[2], os.Args[3])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
