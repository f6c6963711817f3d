// Package relay is a TCP relay that tests put between a client and a server
// to cut or stall the link between them, as a network would.
package relay

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay forwards the TCP connections made to Addr to a target. It stops
// when the test that made it ends.
type Relay struct {
	l      net.Listener
	target string
	stall  atomic.Bool
	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]struct{}
}

// New starts a relay on a free loopback port to target (host:port).
func New(tb testing.TB, target string) *Relay {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &Relay{l: l, target: target, conns: map[net.Conn]struct{}{}}
	go r.accept()
	tb.Cleanup(r.close)
	return r
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.l.Addr().String() }

// Port is the relay's port.
func (r *Relay) Port() int { return r.l.Addr().(*net.TCPAddr).Port }

// Stall holds back, while on, what the target sends; what the client sends
// still reaches the target. Held data is dropped if the link is cut or the
// relay stops, as a network that lost it would.
func (r *Relay) Stall(on bool) { r.stall.Store(on) }

// Cut, while on, puts the target out of reach: the open connections are
// closed, and new ones are closed as soon as they are accepted.
func (r *Relay) Cut(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = on
	if on {
		r.closeConns()
	}
}

func (r *Relay) accept() {
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		go r.relay(c)
	}
}

func (r *Relay) relay(c net.Conn) {
	t, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	if !r.track(c, t) {
		c.Close()
		t.Close()
		return
	}
	go func() { _, _ = io.Copy(t, c); t.Close() }()
	r.forward(c, t)
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, t)
	r.mu.Unlock()
}

// track registers a relayed pair; false while the link is cut or the relay
// has stopped.
func (r *Relay) track(c, t net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cut || r.closed {
		return false
	}
	r.conns[c], r.conns[t] = struct{}{}, struct{}{}
	return true
}

// forward copies from the target to the client, holding data while stalled.
func (r *Relay) forward(c, t net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := t.Read(buf)
		for n > 0 && r.stall.Load() {
			time.Sleep(time.Millisecond)
			if r.down() {
				return
			}
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *Relay) down() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut || r.closed
}

func (r *Relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.l.Close()
	r.closeConns()
}

// closeConns closes every relayed connection; r.mu is held.
func (r *Relay) closeConns() {
	for c := range r.conns {
		c.Close()
	}
}
