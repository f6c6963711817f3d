package soak

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// token is one access token obtained from Keycloak and what happened to it.
type token struct {
	raw     string
	refresh string
	exp     time.Time
	newKey  bool

	mu          sync.Mutex
	revokeStart time.Time
	revokedAt   time.Time
	revokedOn   int
	refusedAt   [2]time.Time
}

// facts fills o with the token's state as the oracle needs it for an
// answer of replica o.replica.
func (tk *token) facts(o *observation) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	o.exp, o.newKey = tk.exp, tk.newKey
	o.revokeStart, o.revokedAt, o.revokedOn = tk.revokeStart, tk.revokedAt, tk.revokedOn
	o.refusedAt = tk.refusedAt[o.replica]
}

// noteRefusal records the first 401 of a replica for a token whose
// revocation had returned before the request was sent.
func (tk *token) noteRefusal(o observation) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if !tk.revokedAt.IsZero() && tk.revokedAt.Before(o.sent) && tk.refusedAt[o.replica].IsZero() {
		tk.refusedAt[o.replica] = o.recv
	}
}

// pool holds the tokens the traffic draws from.
type pool struct {
	mu       sync.Mutex
	valid    []*token // live, not being revoked
	revoked  []*token // a logout call returned 204
	expiring []*token // short-lived tokens and retired valid ones; sent once past exp
	minted   atomic.Int64
}

const maxExpiring = 256

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.valid)
}

func (p *pool) addValid(tk *token, replace bool, rng *rand.Rand) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if replace && len(p.valid) > 0 {
		p.valid[rng.IntN(len(p.valid))] = tk
		return
	}
	p.valid = append(p.valid, tk)
}

func (p *pool) addExpiring(tk *token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.expiring) >= maxExpiring {
		p.expiring = slices.Delete(p.expiring, 0, 1)
	}
	p.expiring = append(p.expiring, tk)
}

// retire moves valid tokens that expire within d to the expiring list.
func (p *pool) retire(now time.Time, d time.Duration) {
	p.mu.Lock()
	var keep, old []*token
	for _, tk := range p.valid {
		if tk.exp.Sub(now) < d {
			old = append(old, tk)
		} else {
			keep = append(keep, tk)
		}
	}
	p.valid = keep
	p.mu.Unlock()
	for _, tk := range old {
		p.addExpiring(tk)
	}
}

func (p *pool) pickValid(rng *rand.Rand) *token {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.valid) == 0 {
		return nil
	}
	return p.valid[rng.IntN(len(p.valid))]
}

// takeValid removes and returns a random valid token.
func (p *pool) takeValid(rng *rand.Rand) *token {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.valid) == 0 {
		return nil
	}
	i := rng.IntN(len(p.valid))
	tk := p.valid[i]
	p.valid = slices.Delete(p.valid, i, i+1)
	return tk
}

func (p *pool) addRevoked(tk *token) {
	p.mu.Lock()
	p.revoked = append(p.revoked, tk)
	p.mu.Unlock()
}

func (p *pool) pickRevoked(rng *rand.Rand) *token {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.revoked) == 0 {
		return nil
	}
	return p.revoked[rng.IntN(len(p.revoked))]
}

func (p *pool) allRevoked() []*token {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revoked)
}

// pickExpired returns a token past exp + leeway + expiryMargin, if any.
func (p *pool) pickExpired(rng *rand.Rand, now time.Time) *token {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.expiring) == 0 {
		return nil
	}
	for range 4 {
		tk := p.expiring[rng.IntN(len(p.expiring))]
		if now.After(tk.exp.Add(verifierLeeway + expiryMargin)) {
			return tk
		}
	}
	return nil
}

// minter obtains tokens from Keycloak with the password grant, one session
// each, so that logging one out never touches another.
type minter struct {
	hc       *http.Client
	tokenURL string
	users    []keycloaktest.User

	mu          sync.Mutex
	rotatedKids map[string]bool
}

func (m *minter) addRotatedKid(kid string) {
	m.mu.Lock()
	m.rotatedKids[kid] = true
	m.mu.Unlock()
}

func (m *minter) mint(ctx context.Context, clientID string, rng *rand.Rand) (*token, error) {
	u := m.users[rng.IntN(len(m.users))]
	form := url.Values{"grant_type": {"password"}, "client_id": {clientID}, "username": {u.Username},
		"password": {u.Password}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("password grant: status %d", resp.StatusCode)
	}
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("password grant: %w", err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := keycloaktest.UnverifiedClaims(body.AccessToken, &claims); err != nil || claims.Exp == 0 {
		return nil, errors.New("password grant: access token without exp")
	}
	var header struct {
		Kid string `json:"kid"`
	}
	h, _, _ := strings.Cut(body.AccessToken, ".")
	if b, err := base64.RawURLEncoding.DecodeString(h); err == nil {
		_ = json.Unmarshal(b, &header)
	}
	m.mu.Lock()
	newKey := m.rotatedKids[header.Kid]
	m.mu.Unlock()
	return &token{raw: body.AccessToken, refresh: body.RefreshToken, exp: time.Unix(claims.Exp, 0),
		newKey: newKey, revokedOn: -1}, nil
}

// forge alters three characters of the signature just before its last one
// (the last character of a base64url RS256 signature also carries padding
// bits; these three are all signature bits).
func forge(raw string) string {
	b := []byte(raw)
	for i := len(b) - 4; i < len(b)-1; i++ {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// garbage returns a string that is not a token: random base64url, a
// JWS-shaped string whose header is not JSON, printable characters outside
// the b64token syntax, an oversized string, or nothing.
func garbage(rng *rand.Rand) string {
	random := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	switch rng.IntN(5) {
	case 0:
		return random(b64url, 1+rng.IntN(400))
	case 1:
		// "_-" first: base64url of no JSON object.
		return "_-" + random(b64url, 20+rng.IntN(40)) + "." + random(b64url, 50+rng.IntN(200)) + "." + random(b64url, 342)
	case 2:
		return random(` !"#$%&'()*,;<>?@[\]^{|}`+b64url, 1+rng.IntN(200))
	case 3:
		return random(b64url, 17<<10)
	default:
		return ""
	}
}

// errorLog counts failures, separating those caused by the injected Redis
// outage from the others.
type errorLog struct {
	window   *outage
	mu       sync.Mutex
	injected map[string]int
	other    map[string]int
}

func newErrorLog(w *outage) *errorLog {
	return &errorLog{window: w, injected: map[string]int{}, other: map[string]int{}}
}

// add records a failure of kind what that began at start and ended at end.
func (e *errorLog) add(what string, start, end time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.window.overlaps(start, end) {
		e.injected[what]++
	} else {
		e.other[what]++
	}
}

func (e *errorLog) counts() (injected, other int, otherKinds map[string]int, injectedKinds map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.injected {
		injected += n
	}
	for _, n := range e.other {
		other += n
	}
	return injected, other, maps(e.other), maps(e.injected)
}

func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// outage is the injected Redis outage: from just before the kill until
// both stores are healthy again, plus a grace for the records that report
// the recovery.
type outage struct {
	mu         sync.Mutex
	start, end time.Time // end zero: still on
}

const outageGrace = 2 * time.Second

func (w *outage) begin(t time.Time) {
	w.mu.Lock()
	w.start, w.end = t, time.Time{}
	w.mu.Unlock()
}

func (w *outage) finish(t time.Time) {
	w.mu.Lock()
	w.end = t.Add(outageGrace)
	w.mu.Unlock()
}

func (w *outage) overlaps(start, end time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() || end.Before(w.start) {
		return false
	}
	return w.end.IsZero() || !start.After(w.end)
}

// stats are the oracle's counts.
type stats struct {
	byClass   [numClasses]atomic.Int64
	byVerdict [numVerdicts]atomic.Int64
	byStatus  sync.Map // int -> *atomic.Int64
	wrong     atomic.Int64

	mu       sync.Mutex
	examples []string
}

func (s *stats) record(o observation, v verdict, why string) {
	s.byClass[o.class].Add(1)
	s.byVerdict[v].Add(1)
	c, _ := s.byStatus.LoadOrStore(o.status, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if why == "" {
		return
	}
	s.wrong.Add(1)
	s.mu.Lock()
	if len(s.examples) < 20 {
		s.examples = append(s.examples, fmt.Sprintf("%s: class=%s verdict=%s replica=%d status=%d degraded=%v sent=%s rtt=%s exp_in=%s revoke_start=%s revoked=%s on=%d refused=%s",
			why, classNames[o.class], verdictNames[v], o.replica, o.status, o.degraded, o.sent.Format("15:04:05.000000"),
			o.recv.Sub(o.sent), rel(o.exp, o.sent), rel(o.revokeStart, o.sent), rel(o.revokedAt, o.sent), o.revokedOn, rel(o.refusedAt, o.sent)))
	}
	s.mu.Unlock()
}

// rel formats t relative to ref ("-" when t is zero).
func rel(t, ref time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(ref).String()
}

// traffic sends requests to the replicas and judges every answer.
type traffic struct {
	hc       *http.Client
	replicas [2]*replica
	pool     *pool
	stats    *stats
	errs     *errorLog
}

// send issues GET routeAPI with raw as the bearer token to replica rep,
// judges the answer and returns the observation (ok false on a transport
// error). tk is the token the request is about, nil for forged and
// garbage.
func (tr *traffic) send(ctx context.Context, c class, rep int, raw string, tk *token) (observation, bool) {
	o := observation{class: c, replica: rep}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tr.replicas[rep].url+routeAPI, nil)
	if err != nil {
		tr.errs.add("request: "+err.Error(), time.Now(), time.Now())
		return o, false
	}
	req.Header.Set("Authorization", "Bearer "+raw)
	o.sent = time.Now()
	resp, err := tr.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			tr.errs.add("transport", o.sent, time.Now())
		}
		return o, false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	o.recv = time.Now()
	o.status = resp.StatusCode
	o.degraded = resp.Header.Get(headerDegraded) != ""
	o.challenge = strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer")
	o.retryAfter = resp.Header.Get("Retry-After") != ""
	if tk != nil {
		tk.facts(&o)
	}
	v, why := judge(o, verifierLeeway)
	tr.stats.record(o, v, why)
	if tk != nil && o.status == http.StatusUnauthorized {
		tk.noteRefusal(o)
	}
	return o, true
}

// client is one traffic goroutine: it picks a class (valid 45 %, revoked
// 20 %, expired 10 %, forged 15 %, garbage 10 %; a class with no token
// yet falls back to garbage) and a replica at random, as fast as answers
// come.
func (tr *traffic) client(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	for ctx.Err() == nil {
		rep := rng.IntN(2)
		var tk *token
		c := classGarbage
		raw := ""
		switch n := rng.IntN(100); {
		case n < 45:
			if tk = tr.pool.pickValid(rng); tk != nil {
				c, raw = classValid, tk.raw
			}
		case n < 65:
			if tk = tr.pool.pickRevoked(rng); tk != nil {
				c, raw = classRevoked, tk.raw
			}
		case n < 75:
			if tk = tr.pool.pickExpired(rng, time.Now()); tk != nil {
				c, raw = classExpired, tk.raw
			}
		case n < 90:
			if base := tr.pool.pickValid(rng); base != nil {
				c, raw = classForged, forge(base.raw)
			}
		}
		if c == classGarbage {
			tk, raw = nil, garbage(rng)
		} else if c == classForged {
			tk = nil
		}
		tr.send(ctx, c, rep, raw, tk)
	}
}

// logout calls LogoutHandler on replica rep for tk; it reports whether the
// answer was 204.
func (tr *traffic) logout(ctx context.Context, rep int, tk *token) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tr.replicas[rep].url+routeLogout,
		strings.NewReader(url.Values{"refresh_token": {tk.refresh}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tk.raw)
	resp, err := tr.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// propagation collects, for revocations returned by one replica, the time
// until the other one refused the token.
type propagation struct {
	mu      sync.Mutex
	samples []time.Duration
	steady  []time.Duration // those that did not overlap the Redis outage
	lost    int
}

func (p *propagation) add(d time.Duration, outage bool) {
	p.mu.Lock()
	p.samples = append(p.samples, d)
	if !outage {
		p.steady = append(p.steady, d)
	}
	p.mu.Unlock()
}

func (p *propagation) addLost() {
	p.mu.Lock()
	p.lost++
	p.mu.Unlock()
}

// percentiles returns the p50 and p99 of all samples, or of those outside
// the Redis outage, and their number.
func (p *propagation) percentiles(steadyOnly bool) (p50, p99 time.Duration, n int) {
	p.mu.Lock()
	s := slices.Clone(p.samples)
	if steadyOnly {
		s = slices.Clone(p.steady)
	}
	p.mu.Unlock()
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), len(s)
}

// propagationBound is how long a probe waits for the other replica to
// refuse a revoked token before the revocation counts as lost. It is a
// liveness bound, not a speed claim: the stream follower resynchronises
// within seconds even across the Redis restart.
const propagationBound = 30 * time.Second

// revoker logs out a random valid token every interval on a random
// replica, retrying a failed call (the handler is idempotent) until it
// answers 204, and then probes the other replica until it refuses the
// token.
func (tr *traffic) revoker(ctx context.Context, every time.Duration, prop *propagation, probes *sync.WaitGroup) {
	rng := rand.New(rand.NewPCG(7, 0x10c0))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tk := tr.pool.takeValid(rng)
		if tk == nil {
			continue
		}
		rep := rng.IntN(2)
		start := time.Now()
		tk.mu.Lock()
		tk.revokeStart = start
		tk.mu.Unlock()
		for ctx.Err() == nil {
			// A logout call runs to its end even when the run stops: a
			// client going away mid-logout is not what this test injects.
			attempt := time.Now()
			lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			status, err := tr.logout(lctx, rep, tk)
			cancel()
			done := time.Now()
			if err == nil && status == http.StatusNoContent {
				tk.mu.Lock()
				tk.revokedAt, tk.revokedOn = done, rep
				tk.mu.Unlock()
				tr.pool.addRevoked(tk)
				probes.Add(1)
				go func() {
					defer probes.Done()
					tr.probe(tk, 1-rep, done, prop)
				}()
				break
			}
			if ctx.Err() != nil {
				return
			}
			what := fmt.Sprintf("logout status %d", status)
			if err != nil {
				what = "logout transport"
			}
			tr.errs.add(what, attempt, done)
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// probe sends tk to replica rep until it answers 401 and records the time
// since the logout call returned.
func (tr *traffic) probe(tk *token, rep int, returned time.Time, prop *propagation) {
	ctx, cancel := context.WithTimeout(context.Background(), propagationBound)
	defer cancel()
	for i := 0; ctx.Err() == nil; i++ {
		o, ok := tr.send(ctx, classPoll, rep, tk.raw, tk)
		if ok && o.status == http.StatusUnauthorized {
			prop.add(o.recv.Sub(returned), tr.errs.window.overlaps(returned, o.recv))
			return
		}
		if i > 50 {
			time.Sleep(time.Millisecond)
		}
	}
	prop.addLost()
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }
