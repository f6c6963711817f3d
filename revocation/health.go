package revocation

import (
	"sync"
	"sync/atomic"
	"time"
)

// healthState holds a Health value, readable without locks through
// degraded, and calls a callback on each change, in order.
type healthState struct {
	degraded atomic.Bool
	mu       sync.Mutex // guards cur
	cur      Health
	notify   sync.Mutex // serialises callbacks so they arrive in order
	cb       func(Health)
	changed  chan struct{} // closed and replaced on every change; guarded by mu
}

// wait returns a channel closed at the next change.
func (h *healthState) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

func (h *healthState) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// set records the state and reports whether it changed.
func (h *healthState) set(degraded bool, reason string, now time.Time) bool {
	if !degraded {
		reason = ""
	}
	h.mu.Lock()
	if h.cur.Degraded == degraded && h.cur.Reason == reason && !h.cur.Since.IsZero() {
		h.mu.Unlock()
		return false
	}
	if h.cur.Degraded != degraded || h.cur.Since.IsZero() {
		h.cur.Since = now
	}
	h.cur.Degraded, h.cur.Reason = degraded, reason
	h.degraded.Store(degraded)
	snap := h.cur
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
	h.notify.Lock()
	h.mu.Unlock()
	if h.cb != nil {
		h.cb(snap)
	}
	h.notify.Unlock()
	return true
}
