package revocation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is an injectable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemorySemantics(t *testing.T) {
	clk := newFakeClock()
	now := clk.Now()
	sec := time.Second
	const iss, other = "https://kc/realms/a", "https://kc/realms/b"
	type op func(s *Memory) error
	ctx := context.Background()
	tests := []struct {
		name string
		ops  []op
		tok  Token
		want Match
	}{
		{"nothing revoked", nil, Token{Issuer: iss, ID: "j1", IssuedAt: now}, NoMatch},
		{"jti revoked", []op{func(s *Memory) error { return s.RevokeToken(ctx, iss, "j1", now.Add(time.Minute)) }},
			Token{Issuer: iss, ID: "j1", IssuedAt: now}, TokenMatch},
		{"jti of another issuer", []op{func(s *Memory) error { return s.RevokeToken(ctx, other, "j1", now.Add(time.Minute)) }},
			Token{Issuer: iss, ID: "j1", IssuedAt: now}, NoMatch},
		{"jti with unknown exp", []op{func(s *Memory) error { return s.RevokeToken(ctx, iss, "j1", time.Time{}) }},
			Token{Issuer: iss, ID: "j1"}, TokenMatch},
		{"jti already expired is a no-op", []op{func(s *Memory) error { return s.RevokeToken(ctx, iss, "j1", now.Add(-time.Hour)) }},
			Token{Issuer: iss, ID: "j1"}, NoMatch},
		{"session: iat before", []op{func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, SessionID: "s1", IssuedAt: now.Add(-sec)}, SessionMatch},
		{"session: iat equal is refused", []op{func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, SessionID: "s1", IssuedAt: now}, SessionMatch},
		{"session: iat after passes", []op{func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, SessionID: "s1", IssuedAt: now.Add(sec)}, NoMatch},
		{"session: no iat is refused", []op{func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, SessionID: "s1"}, SessionMatch},
		{"session: other sid", []op{func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, SessionID: "s2", IssuedAt: now.Add(-sec)}, NoMatch},
		{"session: a lower time never lowers it", []op{
			func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) },
			func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now.Add(-time.Hour)) }},
			Token{Issuer: iss, SessionID: "s1", IssuedAt: now.Add(-sec)}, SessionMatch},
		{"subject: iat before", []op{func(s *Memory) error { return s.RevokeSubject(ctx, iss, "alice", now) }},
			Token{Issuer: iss, Subject: "alice", IssuedAt: now.Add(-sec)}, SubjectMatch},
		{"subject: iat equal passes (keycloak rule)", []op{func(s *Memory) error { return s.RevokeSubject(ctx, iss, "alice", now) }},
			Token{Issuer: iss, Subject: "alice", IssuedAt: now}, NoMatch},
		{"subject: no iat is refused", []op{func(s *Memory) error { return s.RevokeSubject(ctx, iss, "alice", now) }},
			Token{Issuer: iss, Subject: "alice"}, SubjectMatch},
		{"subject: only moves forward", []op{
			func(s *Memory) error { return s.RevokeSubject(ctx, iss, "alice", now) },
			func(s *Memory) error { return s.RevokeSubject(ctx, iss, "alice", now.Add(-time.Hour)) }},
			Token{Issuer: iss, Subject: "alice", IssuedAt: now.Add(-sec)}, SubjectMatch},
		{"issuer not-before", []op{func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) }},
			Token{Issuer: iss, Subject: "bob", IssuedAt: now.Add(-sec)}, IssuerMatch},
		{"issuer not-before: iat equal passes", []op{func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) }},
			Token{Issuer: iss, IssuedAt: now}, NoMatch},
		{"issuer not-before: other issuer unaffected", []op{func(s *Memory) error { return s.SetIssuerNotBefore(ctx, other, now) }},
			Token{Issuer: iss, IssuedAt: now.Add(-sec)}, NoMatch},
		{"client not-before", []op{func(s *Memory) error { return s.SetClientNotBefore(ctx, iss, "mobile", now) }},
			Token{Issuer: iss, ClientID: "mobile", IssuedAt: now.Add(-sec)}, ClientMatch},
		{"client not-before: other client", []op{func(s *Memory) error { return s.SetClientNotBefore(ctx, iss, "mobile", now) }},
			Token{Issuer: iss, ClientID: "backend", IssuedAt: now.Add(-sec)}, NoMatch},
		{"max(issuer, client): client later", []op{
			func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now.Add(-time.Hour)) },
			func(s *Memory) error { return s.SetClientNotBefore(ctx, iss, "mobile", now) }},
			Token{Issuer: iss, ClientID: "mobile", IssuedAt: now.Add(-time.Minute)}, ClientMatch},
		{"max(issuer, client): issuer later", []op{
			func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) },
			func(s *Memory) error { return s.SetClientNotBefore(ctx, iss, "mobile", now.Add(-time.Hour)) }},
			Token{Issuer: iss, ClientID: "mobile", IssuedAt: now.Add(-time.Minute)}, IssuerMatch},
		{"issuer not-before only moves forward", []op{
			func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) },
			func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now.Add(-time.Hour)) }},
			Token{Issuer: iss, IssuedAt: now.Add(-sec)}, IssuerMatch},
		{"issuer not-before: no iat is refused", []op{func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) }},
			Token{Issuer: iss}, IssuerMatch},
		{"jti wins over the others", []op{
			func(s *Memory) error { return s.RevokeToken(ctx, iss, "j1", now.Add(time.Minute)) },
			func(s *Memory) error { return s.RevokeSession(ctx, iss, "s1", now) }},
			Token{Issuer: iss, ID: "j1", SessionID: "s1", IssuedAt: now}, TokenMatch},
		{"unknown issuer", []op{func(s *Memory) error { return s.SetIssuerNotBefore(ctx, iss, now) }},
			Token{Issuer: "https://evil", IssuedAt: now.Add(-sec)}, NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewMemory(Config{Now: clk.Now})
			defer s.Close()
			for _, o := range tt.ops {
				if err := o(s); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Check(tt.tok); got != tt.want {
				t.Fatalf("Check = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMemoryInvalid(t *testing.T) {
	ctx := context.Background()
	s := NewMemory(Config{})
	defer s.Close()
	now := time.Now()
	long := strings.Repeat("x", MaxIDLen+1)
	tests := []struct {
		name string
		err  error
	}{
		{"empty issuer", s.RevokeToken(ctx, "", "j", now)},
		{"empty jti", s.RevokeToken(ctx, "iss", "", now)},
		{"oversized jti", s.RevokeToken(ctx, "iss", long, now)},
		{"oversized issuer", s.SetIssuerNotBefore(ctx, long+long, now)},
		{"zero session time", s.RevokeSession(ctx, "iss", "sid", time.Time{})},
		{"zero subject not-before", s.RevokeSubject(ctx, "iss", "sub", time.Time{})},
		{"zero issuer not-before", s.SetIssuerNotBefore(ctx, "iss", time.Time{})},
		{"empty client", s.SetClientNotBefore(ctx, "iss", "", now)},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, tt.err)
		}
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after invalid calls", s.Len())
	}
}

func TestMemoryOverflow(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	var mu sync.Mutex
	var changes []Health
	s := NewMemory(Config{MaxEntries: 3, Now: clk.Now, MaxTokenLifetime: time.Hour, Leeway: -1,
		Observe: func(h Health) { mu.Lock(); changes = append(changes, h); mu.Unlock() }})
	defer s.Close()
	now := clk.Now()
	for _, j := range []string{"a", "b"} {
		if err := s.RevokeToken(ctx, "iss", j, now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeSession(ctx, "iss", "sid", now); err != nil { // until now+1h
		t.Fatal(err)
	}
	if !s.Degraded() {
		t.Fatal("a full store must report degraded")
	}
	// A new entry is refused loudly; the old ones stay.
	err := s.RevokeToken(ctx, "iss", "c", now.Add(30*time.Minute))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("RevokeToken on a full store = %v, want ErrFull", err)
	}
	for _, j := range []string{"a", "b"} {
		if s.Check(Token{Issuer: "iss", ID: j}) != TokenMatch {
			t.Fatalf("old entry %q evicted", j)
		}
	}
	if s.Check(Token{Issuer: "iss", ID: "c"}) != NoMatch {
		t.Fatal("refused entry stored")
	}
	// Updating an existing entry still works when full.
	if err := s.RevokeToken(ctx, "iss", "a", now.Add(20*time.Minute)); err != nil {
		t.Fatalf("tightening an existing entry on a full store: %v", err)
	}
	// The replay guard fails closed when full.
	if first, err := s.SeenOnce(ctx, "iss", "logout", now.Add(time.Minute)); first || !errors.Is(err, ErrFull) {
		t.Fatalf("SeenOnce on a full store = %v, %v; want false, ErrFull", first, err)
	}
	// After a and b expire there is room again, but the store stays
	// degraded until the refused entry (until +30 min) could match nothing.
	clk.Advance(21 * time.Minute)
	s.sweep(nil)
	if s.Len() != 1 {
		t.Fatalf("Len after sweep = %d, want 1", s.Len())
	}
	if !s.Degraded() {
		t.Fatal("healthy while a refused revocation may still match a live token")
	}
	if h := s.Health(); !strings.Contains(h.Reason, "refused") {
		t.Fatalf("reason = %q", h.Reason)
	}
	clk.Advance(10 * time.Minute)
	s.sweep(nil)
	if s.Degraded() {
		t.Fatalf("still degraded: %+v", s.Health())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) < 3 || !changes[1].Degraded || changes[len(changes)-1].Degraded {
		t.Fatalf("health changes = %+v, want healthy → degraded … → healthy", changes)
	}
}

func TestMemorySweep(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	const life, leeway = time.Hour, time.Minute
	s := NewMemory(Config{Now: clk.Now, MaxTokenLifetime: life, Leeway: leeway})
	defer s.Close()
	now := clk.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.RevokeToken(ctx, "iss", "j", now.Add(5*time.Minute)))
	must(s.RevokeSession(ctx, "iss", "sid", now))
	must(s.RevokeSubject(ctx, "iss", "sub", now.Add(10*time.Minute)))
	must(s.SetClientNotBefore(ctx, "iss", "mobile", now))
	must(s.SetIssuerNotBefore(ctx, "iss2", now))
	if first, err := s.SeenOnce(ctx, "iss", "lt", now.Add(5*time.Minute)); !first || err != nil {
		t.Fatalf("SeenOnce = %v, %v", first, err)
	}
	old := now.Add(-time.Second)
	tok := func(r Match) Token {
		switch r {
		case TokenMatch:
			return Token{Issuer: "iss", ID: "j"}
		case SessionMatch:
			return Token{Issuer: "iss", SessionID: "sid", IssuedAt: old}
		case SubjectMatch:
			return Token{Issuer: "iss", Subject: "sub", IssuedAt: old}
		case ClientMatch:
			return Token{Issuer: "iss", ClientID: "mobile", IssuedAt: old}
		default:
			return Token{Issuer: "iss2", IssuedAt: old}
		}
	}
	steps := []struct {
		at      time.Duration // since now
		len     int
		present []Match
		gone    []Match
	}{
		{5*time.Minute + leeway - time.Nanosecond, 5, []Match{TokenMatch, SessionMatch, SubjectMatch, ClientMatch, IssuerMatch}, nil},
		{5*time.Minute + leeway, 3, []Match{SessionMatch, SubjectMatch, ClientMatch, IssuerMatch}, []Match{TokenMatch}},
		{life + leeway - time.Nanosecond, 3, []Match{SessionMatch, SubjectMatch, ClientMatch, IssuerMatch}, nil},
		{life + leeway, 1, []Match{SubjectMatch}, []Match{SessionMatch, ClientMatch, IssuerMatch}},
		{10*time.Minute + life + leeway, 0, nil, []Match{SubjectMatch}},
	}
	for _, st := range steps {
		clk.ns.Store(now.Add(st.at).UnixNano())
		s.sweep(nil)
		if s.Len() != st.len {
			t.Fatalf("at +%v: Len = %d, want %d", st.at, s.Len(), st.len)
		}
		for _, r := range st.present {
			if got := s.Check(tok(r)); got != r {
				t.Fatalf("at +%v: %v swept early (Check = %v)", st.at, r, got)
			}
		}
		for _, r := range st.gone {
			if got := s.Check(tok(r)); got != NoMatch {
				t.Fatalf("at +%v: %v not swept (Check = %v)", st.at, r, got)
			}
		}
	}
}

func TestMemorySeenOnce(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := NewMemory(Config{Now: clk.Now, Leeway: -1})
	defer s.Close()
	exp := clk.Now().Add(2 * time.Minute)
	for i, want := range []bool{true, false, false} {
		first, err := s.SeenOnce(ctx, "iss", "lt-1", exp)
		if err != nil || first != want {
			t.Fatalf("call %d: SeenOnce = %v, %v; want %v", i, first, err, want)
		}
	}
	if first, _ := s.SeenOnce(ctx, "iss", "lt-1", clk.Now().Add(-time.Second)); first {
		t.Fatal("an expired message reported as first")
	}
	clk.Advance(3 * time.Minute)
	if first, _ := s.SeenOnce(ctx, "iss", "lt-1", clk.Now().Add(time.Minute)); !first {
		t.Fatal("an expired guard entry still blocks")
	}
}

func TestMemoryCloseStopsSweeper(t *testing.T) {
	s := NewMemory(Config{SweepInterval: time.Millisecond})
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := s.RevokeToken(context.Background(), "iss", "j", time.Time{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("RevokeToken after Close = %v, want ErrClosed", err)
	}
	// goleak in TestMain checks no goroutine survives.
}

func TestMemoryConcurrent(t *testing.T) {
	// Checks while writers and the sweeper run; meaningful under -race.
	clk := newFakeClock()
	s := NewMemory(Config{Now: clk.Now, SweepInterval: time.Millisecond, MaxTokenLifetime: time.Minute})
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				id := string(rune('a'+w)) + "-" + string(rune('a'+i%26))
				now := clk.Now()
				_ = s.RevokeToken(ctx, "iss", id, now.Add(time.Second))
				_ = s.RevokeSession(ctx, "iss", id, now)
				if s.Check(Token{Issuer: "iss", ID: id}) != TokenMatch {
					t.Error("own revocation not visible")
					return
				}
				clk.Advance(time.Millisecond)
			}
		})
	}
	wg.Wait()
}
