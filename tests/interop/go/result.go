package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// result is the one JSON line every interop client prints (schema "hopd-interop/1",
// docs/INTEROP.md). Absent parts are null.
type result struct {
	mu            sync.Mutex
	started       time.Time
	Schema        string             `json:"schema"`
	Impl          string             `json:"impl"`
	Version       string             `json:"version"`
	Role          string             `json:"role"`
	PeerID        string             `json:"peerId"`
	Relay         string             `json:"relay"`
	OK            bool               `json:"ok"`
	Errors        []string           `json:"errors"`
	RelayPingMs   float64            `json:"relayPingMs"`
	Reservation   *reservationResult `json:"reservation"`
	Connect       *connectResult     `json:"connect"`
	Echo          *echoResult        `json:"echo"`
	Holepunch     *holepunchResult   `json:"holepunch"`
	Closed        *closedResult      `json:"closed"`
	ObservedAddrs []string           `json:"observedAddrs"`
	ListenAddrs   []string           `json:"listenAddrs"`
	TotalMs       float64            `json:"totalMs"`
}

type limitResult struct {
	DurationS *int64  `json:"durationS"`
	DataBytes *uint64 `json:"dataBytes"`
}

type reservationResult struct {
	Ms        float64      `json:"ms"`
	ExpiresAt int64        `json:"expiresAt"`
	Limit     *limitResult `json:"limit"`
	Addrs     []string     `json:"addrs"`
}

type connectResult struct {
	Ms         float64      `json:"ms"`
	Relayed    bool         `json:"relayed"`
	RemoteAddr string       `json:"remoteAddr"`
	Limit      *limitResult `json:"limit"`
}

type echoResult struct {
	Bytes    int     `json:"bytes"`
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	Intact   bool    `json:"intact"`
	Ms       float64 `json:"ms"`
	Via      string  `json:"via"`
	Error    string  `json:"error,omitempty"`
	// FirstError is set when a first attempt failed because its connection was closed under it
	// before any byte came back, and the echo ran again on another open connection.
	FirstError string `json:"firstError,omitempty"`
	// connClosed: the stream's connection was closed when the attempt ended.
	connClosed bool
}

type holepunchResult struct {
	Direct        bool             `json:"direct"`
	DirectAfterMs *float64         `json:"directAfterMs"`
	DirectAddr    string           `json:"directAddr,omitempty"`
	Events        []map[string]any `json:"events"`
}

type closedResult struct {
	AfterMs float64 `json:"afterMs"`
}

func newResult(o options) *result {
	role := "dial"
	if o.listen {
		role = "listen"
	}
	return &result{
		started:       time.Now(),
		Schema:        "hopd-interop/1",
		Impl:          "go",
		Version:       "go-libp2p " + goLibp2pVersion(),
		Role:          role,
		Relay:         o.relay,
		Errors:        []string{},
		ObservedAddrs: []string{},
		ListenAddrs:   []string{},
	}
}

func (r *result) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// print writes the result line and returns the exit code: 0 when nothing failed.
func (r *result) print() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.TotalMs = ms(time.Since(r.started))
	r.OK = len(r.Errors) == 0
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(os.Stdout, "{\"schema\":\"hopd-interop/1\",\"impl\":\"go\",\"ok\":false,\"errors\":[%q]}\n", err.Error())
		return 1
	}
	fmt.Fprintln(os.Stdout, string(line))
	if r.OK {
		return 0
	}
	return 1
}
