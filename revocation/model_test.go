package revocation

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// model is the deny-list semantics written as plainly as possible.
type model struct {
	now, life, leeway int64
	max               int
	e                 map[mkey]mval
}

type mkey struct {
	k       kind
	iss, id string
}

type mval struct{ v, until int64 }

func (m *model) count() int {
	n := 0
	for k := range m.e {
		if k.k != kindIssuer {
			n++
		}
	}
	return n
}

// revoke returns whether the model expects ErrFull.
func (m *model) revoke(k kind, iss, id string, t int64, zero bool) (full bool) {
	var v, until int64
	switch {
	case k == kindToken && zero:
		until = m.now + m.life + m.leeway
	case k == kindToken:
		until = t + m.leeway
	default:
		v, until = t, t+m.life+m.leeway
	}
	if until <= m.now {
		return false
	}
	key := mkey{k, iss, id}
	if old, ok := m.e[key]; ok {
		m.e[key] = mval{max(old.v, v), max(old.until, until)}
		return false
	}
	if k != kindIssuer && m.count() >= m.max {
		return true
	}
	m.e[key] = mval{v, until}
	return false
}

func (m *model) sweep() {
	for k, v := range m.e {
		if v.until <= m.now {
			delete(m.e, k)
		}
	}
}

func (m *model) check(t Token) Match {
	hasIat := !t.IssuedAt.IsZero()
	iat := t.IssuedAt.UnixNano()
	stale := func(k kind, id string, orEqual bool) bool {
		e, ok := m.e[mkey{k, t.Issuer, id}]
		if !ok {
			return false
		}
		return !hasIat || iat < e.v || (orEqual && iat == e.v)
	}
	if _, ok := m.e[mkey{kindToken, t.Issuer, t.ID}]; ok && t.ID != "" {
		return TokenMatch
	}
	if t.SessionID != "" && stale(kindSession, t.SessionID, true) {
		return SessionMatch
	}
	if t.Subject != "" && stale(kindSubject, t.Subject, false) {
		return SubjectMatch
	}
	if stale(kindIssuer, "", false) {
		return IssuerMatch
	}
	if t.ClientID != "" && stale(kindClient, t.ClientID, false) {
		return ClientMatch
	}
	return NoMatch
}

func TestMemoryModel(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("TOKENWARDEN_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (rerun with TOKENWARDEN_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for seq := range 300 {
		runModelSequence(t, rng, seq)
		if t.Failed() {
			return
		}
	}
}

func runModelSequence(t *testing.T, rng *rand.Rand, seq int) {
	ctx := context.Background()
	clk := newFakeClock()
	const life, leeway = time.Hour, time.Minute
	maxEntries := 4 + rng.IntN(20)
	s := NewMemory(Config{Now: clk.Now, MaxTokenLifetime: life, Leeway: leeway, MaxEntries: maxEntries, SweepInterval: time.Hour})
	defer s.Close()
	m := &model{life: int64(life), leeway: int64(leeway), max: maxEntries, e: map[mkey]mval{}}

	pick := func(prefix string, n int) string { return prefix + strconv.Itoa(rng.IntN(n)) }
	issuers := []string{"iss-a", "iss-b"}
	offset := func() time.Duration { // whole seconds, like iat, plus sometimes a fraction
		d := time.Duration(rng.IntN(3*3600)-2*3600) * time.Second
		if rng.IntN(4) == 0 {
			d += time.Duration(rng.IntN(1000)) * time.Millisecond
		}
		return d
	}
	for step := range 400 {
		m.now = clk.Now().UnixNano()
		iss := issuers[rng.IntN(len(issuers))]
		at := clk.Now().Add(offset())
		var err error
		var full bool
		desc := ""
		switch op := rng.IntN(10); op {
		case 0, 1:
			id := pick("j", 8)
			zero := rng.IntN(8) == 0
			exp := at
			if zero {
				exp = time.Time{}
			}
			desc = "RevokeToken " + iss + " " + id
			err = s.RevokeToken(ctx, iss, id, exp)
			full = m.revoke(kindToken, iss, id, at.UnixNano(), zero)
		case 2:
			id := pick("s", 4)
			desc = "RevokeSession " + iss + " " + id
			err = s.RevokeSession(ctx, iss, id, at)
			full = m.revoke(kindSession, iss, id, at.UnixNano(), false)
		case 3:
			id := pick("u", 4)
			desc = "RevokeSubject " + iss + " " + id
			err = s.RevokeSubject(ctx, iss, id, at)
			full = m.revoke(kindSubject, iss, id, at.UnixNano(), false)
		case 4:
			desc = "SetIssuerNotBefore " + iss
			err = s.SetIssuerNotBefore(ctx, iss, at)
			full = m.revoke(kindIssuer, iss, "", at.UnixNano(), false)
		case 5:
			id := pick("c", 3)
			desc = "SetClientNotBefore " + iss + " " + id
			err = s.SetClientNotBefore(ctx, iss, id, at)
			full = m.revoke(kindClient, iss, id, at.UnixNano(), false)
		case 6:
			d := time.Duration(rng.IntN(40)) * time.Minute
			clk.Advance(d)
			desc = "advance " + d.String()
		case 7:
			s.sweep(nil)
			m.sweep()
			desc = "sweep"
		default:
			desc = "check"
		}
		if full != errors.Is(err, ErrFull) || (!full && err != nil) {
			t.Fatalf("seq %d step %d %s: err = %v, model expects full=%v", seq, step, desc, err, full)
		}
		m.now = clk.Now().UnixNano()
		// Check a batch of random tokens after every step.
		for range 8 {
			tok := Token{Issuer: issuers[rng.IntN(len(issuers))]}
			if rng.IntN(2) == 0 {
				tok.ID = pick("j", 8)
			}
			if rng.IntN(2) == 0 {
				tok.SessionID = pick("s", 4)
			}
			if rng.IntN(2) == 0 {
				tok.Subject = pick("u", 4)
			}
			if rng.IntN(2) == 0 {
				tok.ClientID = pick("c", 3)
			}
			if rng.IntN(6) != 0 {
				tok.IssuedAt = clk.Now().Add(offset())
			}
			if got, want := s.Check(tok), m.check(tok); got != want {
				t.Fatalf("seq %d step %d after %s: Check(%+v) = %v, model says %v", seq, step, desc, tok, got, want)
			}
		}
		if s.Len() != m.count() {
			t.Fatalf("seq %d step %d after %s: Len = %d, model has %d", seq, step, desc, s.Len(), m.count())
		}
	}
}
