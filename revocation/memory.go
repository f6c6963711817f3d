package revocation

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kind is the type of a deny-list entry. The values are part of the Redis
// stream format: never renumber them.
type kind uint8

const (
	kindToken   kind = 1 // (iss, jti): value unused, until = exp + leeway
	kindSession kind = 2 // (iss, sid): value = revocation time
	kindSubject kind = 3 // (iss, sub): value = not-before
	kindIssuer  kind = 4 // (iss): value = not-before, id empty
	kindClient  kind = 5 // (iss, client): value = not-before
	kindSeen    kind = 6 // replay guard, local to a Memory store
	kindCount        = 7
)

func (k kind) valid() bool { return k >= kindToken && k <= kindClient }

const maxIssuers = 1024

type issuerState struct {
	tabs     [kindCount]table // by kind; kindIssuer's is unused
	nbf      atomic.Int64     // issuer not-before (unix ns), 0 = none
	mu       sync.Mutex       // guards nbfUntil and writes of nbf
	nbfUntil int64
}

// Memory is an in-memory deny-list: the embedded default, and the local
// mirror of the Redis store. It is safe for concurrent use. Check takes no
// lock and never allocates: entries live in open-addressing tables with
// wait-free reads (see table). A background goroutine sweeps expired
// entries until Close; writers wait for the sweep of one table, checks
// never do.
type Memory struct {
	cfg       Config
	max       int64
	seed      maphash.Seed
	issuers   atomic.Pointer[issuerSet]
	issuersMu sync.Mutex // serialises issuer creation
	count     atomic.Int64
	lostUntil atomic.Int64 // a refused revocation could match tokens until then (unix ns)
	health    healthState

	closeOnce sync.Once
	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store and starts its sweeper; call Close to
// stop it.
func NewMemory(cfg Config) *Memory {
	m := newMemory(cfg)
	go m.sweepLoop()
	return m
}

func newMemory(cfg Config) *Memory {
	cfg = cfg.withDefaults()
	m := &Memory{
		cfg:  cfg,
		max:  int64(cfg.MaxEntries),
		seed: maphash.MakeSeed(),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	m.health.cb = cfg.Observe
	m.issuers.Store(&issuerSet{})
	m.health.set(false, "", cfg.Now())
	return m
}

// Len returns the number of entries held (each issuer not-before excluded).
func (m *Memory) Len() int { return int(m.count.Load()) }

// Health reports whether revocations were refused for lack of room that
// could still match live tokens, or the store is full.
func (m *Memory) Health() Health { return m.health.get() }

// Degraded reports Health().Degraded without locking.
func (m *Memory) Degraded() bool { return m.health.degraded.Load() }

// Close stops the sweeper. Checks keep working on the data held; new
// revocations fail with ErrClosed.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.stop)
	})
	<-m.done
	return nil
}

func (m *Memory) now() int64 { return nanos(m.cfg.Now()) }

// Check reports whether t is refused and why. It does no I/O and does not
// allocate.
func (m *Memory) Check(t Token) Match {
	is := m.issuers.Load().get(t.Issuer)
	if is == nil {
		return NoMatch
	}
	return is.check(m.seed, &t)
}

func (is *issuerState) check(seed maphash.Seed, t *Token) Match {
	if t.ID != "" {
		if _, ok := is.tabs[kindToken].lookup(seed, t.ID); ok {
			return TokenMatch
		}
	}
	hasIat := !t.IssuedAt.IsZero()
	var iat int64
	if hasIat {
		iat = nanos(t.IssuedAt)
	}
	if t.SessionID != "" {
		if at, ok := is.tabs[kindSession].lookup(seed, t.SessionID); ok && (!hasIat || iat <= at) {
			return SessionMatch
		}
	}
	if t.Subject != "" {
		if nbf, ok := is.tabs[kindSubject].lookup(seed, t.Subject); ok && (!hasIat || iat < nbf) {
			return SubjectMatch
		}
	}
	if nbf := is.nbf.Load(); nbf != 0 && (!hasIat || iat < nbf) {
		return IssuerMatch
	}
	if t.ClientID != "" {
		if nbf, ok := is.tabs[kindClient].lookup(seed, t.ClientID); ok && (!hasIat || iat < nbf) {
			return ClientMatch
		}
	}
	return NoMatch
}

// RevokeToken refuses (iss, jti) until exp + Leeway; a zero exp means
// now + MaxTokenLifetime. An exp already past (beyond Leeway) is a no-op.
func (m *Memory) RevokeToken(_ context.Context, iss, jti string, exp time.Time) error {
	return m.revoke(kindToken, iss, jti, exp)
}

// RevokeSession refuses every token of (iss, sid) with iat <= at, and
// every one without iat, until at + MaxTokenLifetime + Leeway. Pass the
// provider's time (the logout token's iat) when there is one.
func (m *Memory) RevokeSession(_ context.Context, iss, sid string, at time.Time) error {
	return m.revoke(kindSession, iss, sid, at)
}

// RevokeSubject refuses every token of (iss, sub) with iat < notBefore, and
// every one without iat, until notBefore + MaxTokenLifetime + Leeway.
func (m *Memory) RevokeSubject(_ context.Context, iss, sub string, notBefore time.Time) error {
	return m.revoke(kindSubject, iss, sub, notBefore)
}

// SetIssuerNotBefore refuses every token of iss with iat < notBefore (or
// without iat) until notBefore + MaxTokenLifetime + Leeway.
func (m *Memory) SetIssuerNotBefore(_ context.Context, iss string, notBefore time.Time) error {
	return m.revoke(kindIssuer, iss, "", notBefore)
}

// SetClientNotBefore refuses every token of iss with ClientID == clientID
// and iat < notBefore (or without iat).
func (m *Memory) SetClientNotBefore(_ context.Context, iss, clientID string, notBefore time.Time) error {
	return m.revoke(kindClient, iss, clientID, notBefore)
}

func (m *Memory) revoke(k kind, iss, id string, t time.Time) error {
	if m.closed.Load() {
		return ErrClosed
	}
	v, until, err := m.cfg.entry(k, iss, id, t, m.now())
	if err != nil {
		return err
	}
	return m.put(k, iss, id, v, until)
}

// entry validates a revocation and computes its value and end of life,
// both in unix nanoseconds.
func (c *Config) entry(k kind, iss, id string, t time.Time, now int64) (v, until int64, err error) {
	if k == kindIssuer {
		id = "-"
	}
	if !validID(iss, id) {
		return 0, 0, fmt.Errorf("%w: empty or oversized identifier", ErrInvalid)
	}
	life, leeway := int64(c.MaxTokenLifetime), int64(c.Leeway)
	if k == kindToken {
		if t.IsZero() {
			return 0, satAdd(now, life+leeway), nil
		}
		return 0, satAdd(nanos(t), leeway), nil
	}
	if t.IsZero() {
		return 0, 0, fmt.Errorf("%w: zero time", ErrInvalid)
	}
	v = nanos(t)
	return v, satAdd(v, life+leeway), nil
}

// put stores an entry whose value and end of life are already computed.
// Stored values only tighten: the larger value and the later end win.
func (m *Memory) put(k kind, iss, id string, v, until int64) error {
	if until <= m.now() {
		return nil // matches no live token
	}
	is, err := m.issuer(iss)
	if err != nil {
		m.refused(until)
		return err
	}
	if k == kindIssuer {
		is.mu.Lock()
		if v > is.nbf.Load() {
			is.nbf.Store(v)
		}
		is.nbfUntil = max(is.nbfUntil, until)
		is.mu.Unlock()
		return nil
	}
	if !k.valid() {
		return fmt.Errorf("%w: unknown entry kind", ErrInvalid)
	}
	_, err = is.tabs[k].upsert(key(maphash.String(m.seed, id)), v, until, func() error { return m.reserve(until) })
	return err
}

// SeenOnce records (iss, jti) until exp + Leeway and reports whether this
// is the first time it was seen. A full store answers (false, ErrFull).
func (m *Memory) SeenOnce(_ context.Context, iss, jti string, exp time.Time) (bool, error) {
	if m.closed.Load() {
		return false, ErrClosed
	}
	now := m.now()
	_, until, err := m.cfg.entry(kindToken, iss, jti, exp, now)
	if err != nil {
		return false, err
	}
	if until <= now {
		// Already expired: the caller's verifier refuses it anyway; answer
		// "not first" so an expired message is never acted on.
		return false, nil
	}
	is, err := m.issuer(iss)
	if err != nil {
		return false, err
	}
	return is.tabs[kindSeen].claim(key(maphash.String(m.seed, jti)), until, now, func() error {
		if m.count.Add(1) > m.max {
			m.count.Add(-1)
			return fmt.Errorf("%w (%d entries)", ErrFull, m.max)
		}
		return nil
	})
}

// issuerSet is an immutable set of issuers, replaced on each addition.
// Most deployments trust one to a few issuers: a short list compares
// strings faster than a map hashes them.
type issuerSet struct {
	names  []string
	states []*issuerState
	m      map[string]*issuerState // when there are more than smallSet
}

const smallSet = 4

func (s *issuerSet) get(iss string) *issuerState {
	if s.m != nil {
		return s.m[iss]
	}
	for i, n := range s.names {
		if n == iss {
			return s.states[i]
		}
	}
	return nil
}

func (m *Memory) issuer(iss string) (*issuerState, error) {
	if is := m.issuers.Load().get(iss); is != nil {
		return is, nil
	}
	m.issuersMu.Lock()
	defer m.issuersMu.Unlock()
	cur := m.issuers.Load()
	if is := cur.get(iss); is != nil {
		return is, nil
	}
	if len(cur.names) >= maxIssuers {
		return nil, fmt.Errorf("%w (%d issuers)", ErrFull, maxIssuers)
	}
	is := &issuerState{}
	next := &issuerSet{
		names:  append(cur.names[:len(cur.names):len(cur.names)], strings.Clone(iss)),
		states: append(cur.states[:len(cur.states):len(cur.states)], is),
	}
	if len(next.names) > smallSet {
		next.m = make(map[string]*issuerState, len(next.names))
		for i, n := range next.names {
			next.m[n] = next.states[i]
		}
	}
	m.issuers.Store(next)
	return is, nil
}

// reserve counts one new entry, or records the refusal and fails.
func (m *Memory) reserve(until int64) error {
	if n := m.count.Add(1); n < m.max {
		return nil
	} else if n == m.max {
		m.refreshHealth() // full from now on: report it before the first refusal
		return nil
	}
	m.count.Add(-1)
	m.refused(until)
	return fmt.Errorf("%w (%d entries)", ErrFull, m.max)
}

func (m *Memory) refused(until int64) {
	for {
		cur := m.lostUntil.Load()
		if until <= cur || m.lostUntil.CompareAndSwap(cur, until) {
			break
		}
	}
	m.cfg.Logger.Warn("revocation: deny-list full, revocation refused", "max_entries", m.max)
	m.refreshHealth()
}

// refreshHealth re-derives the health from the counters and the clock.
func (m *Memory) refreshHealth() {
	now := m.now()
	switch {
	case m.lostUntil.Load() > now:
		m.health.set(true, "deny-list full: revocations were refused", m.cfg.Now())
	case m.count.Load() >= m.max:
		m.health.set(true, "deny-list full", m.cfg.Now())
	default:
		m.health.set(false, "", m.cfg.Now())
	}
}

func (m *Memory) sweepLoop() {
	defer close(m.done)
	tick := time.NewTicker(m.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sweep(m.stop)
		}
	}
}

// sweep removes entries whose end of life is past, one table at a time.
// Checks never wait for it. It returns early when stop closes.
func (m *Memory) sweep(stop <-chan struct{}) {
	for _, is := range m.issuers.Load().states {
		now := m.now()
		is.mu.Lock()
		if is.nbfUntil != 0 && is.nbfUntil <= now {
			is.nbf.Store(0)
			is.nbfUntil = 0
		}
		is.mu.Unlock()
		for k := range is.tabs {
			select {
			case <-stop:
				return
			default:
			}
			if n := is.tabs[k].sweep(m.now()); n != 0 {
				m.count.Add(-int64(n))
			}
		}
	}
	m.refreshHealth()
}

// nanos is t.UnixNano clamped to the int64 range instead of undefined.
func nanos(t time.Time) int64 {
	const lim = math.MaxInt64 / int64(time.Second)
	switch s := t.Unix(); {
	case s >= lim:
		return math.MaxInt64
	case s <= -lim:
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
