package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// TestMain stops a Keycloak that keycloaktest had to start for the test.
func TestMain(m *testing.M) { keycloaktest.Main(m) }

var soakDurationFlag = flag.Duration("soak.duration", 20*time.Second,
	"how long TestSoak runs (default: $TOKENWARDEN_SOAK_DURATION, else 3m under CI=true, else 20s)")

// EnvSoakDuration overrides the default duration of TestSoak.
const EnvSoakDuration = "TOKENWARDEN_SOAK_DURATION"

// soakDuration is -soak.duration when given, else $TOKENWARDEN_SOAK_DURATION,
// else 3 minutes under CI=true, else 20 seconds.
func soakDuration(t *testing.T) time.Duration {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "soak.duration" })
	switch {
	case set:
		return *soakDurationFlag
	case os.Getenv(EnvSoakDuration) != "":
		d, err := time.ParseDuration(os.Getenv(EnvSoakDuration))
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive Go duration", EnvSoakDuration, os.Getenv(EnvSoakDuration))
		}
		return d
	case testenv.CI():
		return 3 * time.Minute
	}
	return 20 * time.Second
}

// Shape of the run.
const (
	clientGoroutines = 8                      // traffic goroutines (the machine has 2 cores)
	validPoolSize    = 24                     // live tokens in circulation, one Keycloak session each
	revokeEvery      = 300 * time.Millisecond // one logout per interval
	rotateEvery      = 70 * time.Second       // at the soonest; see replica.mayRotate
	redisDownFor     = 3 * time.Second
	afterRotation    = 10 * time.Second // traffic after a rotation before the run may end
	overtime         = 3 * time.Minute  // the most a run goes past its duration to get there
	shortLifespan    = 1                // seconds: the access-token lifespan of the short-lived client
)

// Heap cap (see heapCap).
const (
	heapBase     = 64 << 20
	heapPerEntry = 64 << 10
)

// heapCap is the bound on the peak live heap: heapBase for the two
// replicas, Keycloak and Redis clients, HTTP connections and the test's
// own bookkeeping, plus heapPerEntry for every live entry, where an entry
// is a token obtained during the run (held by the test, cached by both
// replicas' verifier and introspection caches) or a revocation (a jti and
// a session entry in both mirrors and a stream record). Both terms are
// generous by an order of magnitude; the cap catches growth with the
// request count (a leak per request), which the entries do not follow.
func heapCap(tokens, revocations int64) uint64 {
	return heapBase + uint64(tokens+revocations)*heapPerEntry
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: not with -short")
	}
	duration := soakDuration(t)
	ignore := goleak.IgnoreCurrent()
	goroutinesBefore := runtime.NumGoroutine()

	kc := keycloaktest.New(t)
	redisSrv := startRedisServer(t)
	realm := kc.IsolatedRealm(t, "")
	shortClient := realm.CloneClient(t, keycloaktest.MobileClientID, nil)
	realm.SetClientAttributes(t, shortClient, map[string]string{"access.token.lifespan": fmt.Sprint(shortLifespan)})
	var users []keycloaktest.User
	for range 4 {
		_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
			ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
		users = append(users, u)
	}

	replicasStarted := time.Now()
	prefix := randomName("tw-soak-")
	a := startReplica(t, "A", realm, redisSrv.addr(), prefix)
	b := startReplica(t, "B", realm, redisSrv.addr(), prefix)
	replicas := [2]*replica{a, b}
	closed := false
	closeReplicas := func() {
		if !closed {
			closed = true
			a.close()
			b.close()
		}
	}
	t.Cleanup(closeReplicas)

	transport := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	var window outage
	errs := newErrorLog(&window)
	st := &stats{}
	p := &pool{}
	tr := &traffic{hc: hc, replicas: replicas, pool: p, stats: st, errs: errs}
	m := &minter{hc: testenv.HTTPClient(), tokenURL: realm.TokenURL(), users: users, rotatedKids: map[string]bool{}}

	// Before the run: a fresh token is accepted by both replicas, and so is
	// a fresh token of the short-lived client (so that its later refusals
	// are for expiry alone).
	setupCtx, setupCancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer setupCancel()
	rng := newRand(1)
	for _, c := range []string{keycloaktest.MobileClientID, shortClient} {
		tk, err := m.mint(setupCtx, c, rng)
		if err != nil {
			t.Fatal(err)
		}
		for i := range replicas {
			if o, ok := tr.send(setupCtx, classValid, i, tk.raw, tk); !ok || o.status != http.StatusOK {
				t.Fatalf("setup: replica %s answered %d to a fresh token of client %s", replicas[i].name, o.status, c)
			}
		}
		if c == shortClient {
			p.addExpiring(tk)
		}
	}
	for p.size() < validPoolSize {
		tk, err := m.mint(setupCtx, keycloaktest.MobileClientID, rng)
		if err != nil {
			t.Fatal(err)
		}
		p.addValid(tk, false, rng)
	}
	*st = stats{} // the setup requests are not part of the run

	// Heap sampling every 100 ms.
	var peakAlloc, peakInuse atomic.Uint64
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peakAlloc.Load() {
				peakAlloc.Store(ms.HeapAlloc)
			}
			if ms.HeapInuse > peakInuse.Load() {
				peakInuse.Store(ms.HeapInuse)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
		}
	})

	// The run.
	t.Logf("soak: %s, %d client goroutines, redis-server %s, realm %s", duration, clientGoroutines, redisSrv.addr(), realm.Realm)
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var workers, probes sync.WaitGroup
	prop := &propagation{}
	for i := range clientGoroutines {
		workers.Go(func() { tr.client(runCtx, uint64(100+i)) })
	}
	workers.Go(func() { tr.revoker(runCtx, revokeEvery, prop, &probes) })
	workers.Go(func() { mintLoop(runCtx, m, p, shortClient, errs) })

	start := time.Now()
	end := start.Add(duration)
	nextRotation := start.Add(duration / 5)
	restartAt := start.Add(duration / 2)
	restarts := 0
	var rotations atomic.Int64
	var rotating atomic.Bool
	var rotatedAt atomic.Int64 // Unix nanoseconds of the last completed rotation
	var rotator sync.WaitGroup
	rotT := &goroutineTB{TB: t}
	for {
		now := time.Now()
		// The run ends at its duration once it has done what it is for: a
		// Redis restart and a rotation followed by afterRotation of traffic
		// (a loaded Keycloak can take tens of seconds to rotate), and at
		// the latest overtime past its duration.
		done := !now.Before(end) && restarts > 0 && !rotating.Load() && rotations.Load() > 0 &&
			now.Sub(time.Unix(0, rotatedAt.Load())) > afterRotation
		if done || now.After(end.Add(overtime)) || rotT.failed() {
			break
		}
		n := int(rotations.Load())
		switch {
		case !rotating.Load() && !now.Before(nextRotation) && (now.Before(end.Add(-afterRotation)) || n == 0) &&
			a.mayRotate(n, now) && b.mayRotate(n, now):
			// Off the test goroutine, so that the traffic and the restart
			// go on while Keycloak rotates.
			rotating.Store(true)
			rotator.Go(func() {
				defer rotating.Store(false)
				kid := realm.RotateKeys(rotT)
				m.addRotatedKid(kid)
				rotatedAt.Store(time.Now().UnixNano())
				rotations.Add(1)
				t.Logf("soak: %s: key rotated in (started at %s)", time.Since(start).Round(time.Millisecond), now.Sub(start).Round(time.Millisecond))
			})
			nextRotation = now.Add(rotateEvery)
		case restarts == 0 && !now.Before(restartAt):
			window.begin(time.Now())
			redisSrv.kill()
			time.Sleep(redisDownFor)
			if err := redisSrv.start(); err != nil {
				t.Fatalf("redis-server restart: %v", err)
			}
			restarts++
			healthy := waitHealthy(a, b, time.Minute)
			window.finish(time.Now())
			t.Logf("soak: %s: redis-server killed, restarted after %s, both stores healthy %s after the kill (%v)",
				restartAt.Sub(start).Round(time.Millisecond), redisDownFor, time.Since(restartAt).Round(time.Millisecond), healthy)
			if !healthy {
				t.Errorf("the stores did not recover from the Redis restart within a minute")
			}
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	rotator.Wait()
	for _, e := range rotT.errors() {
		t.Error("key rotation: " + e)
	}
	stopRun()
	workers.Wait()
	elapsed := time.Since(start)
	probes.Wait()

	// Every revocation reached both replicas: a final sweep, after the
	// probes, must be refused everywhere.
	sweepCtx, sweepCancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer sweepCancel()
	for _, tk := range p.allRevoked() {
		for i := range replicas {
			if o, ok := tr.send(sweepCtx, classRevoked, i, tk.raw, tk); ok && o.status != http.StatusUnauthorized {
				t.Errorf("final sweep: replica %s answered %d to a revoked token", replicas[i].name, o.status)
			}
		}
	}
	requests := int64(0)
	for i := range st.byClass {
		requests += st.byClass[i].Load()
	}

	jwks := a.jwksFetches.Load() + b.jwksFetches.Load()
	jwksLimit := maxJWKSFetches(int(rotations.Load()), time.Since(replicasStarted))
	intro := a.introspections.Load() + b.introspections.Load()
	logLines := replicaLogs(replicas, errs)
	degradedOutside := degradedOutsideWindow(replicas, &window, start)
	stopSampling()
	sampler.Wait()

	closeReplicas()
	transport.CloseIdleConnections()
	m.hc.CloseIdleConnections()
	realm.HTTPClient.CloseIdleConnections()
	redisSrv.kill()
	leakErr := goleak.Find(ignore,
		// Keep-alive connections of the keycloaktest and gocloak clients,
		// which outlive the test by design.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
	goroutinesAfter := runtime.NumGoroutine()

	// Report.
	injected, other, otherKinds, injectedKinds := errs.counts()
	p50, p99, nProp := prop.percentiles(false)
	s50, s99, nSteady := prop.percentiles(true)
	revocations := int64(len(p.allRevoked()))
	minted := p.minted.Load() + int64(validPoolSize) + 2
	limit := heapCap(minted, revocations)
	var verdicts, classes, statuses []string
	for v := range numVerdicts {
		verdicts = append(verdicts, fmt.Sprintf("%s=%d", verdictNames[v], st.byVerdict[v].Load()))
	}
	for c := range numClasses {
		classes = append(classes, fmt.Sprintf("%s=%d", classNames[c], st.byClass[c].Load()))
	}
	st.byStatus.Range(func(k, v any) bool {
		statuses = append(statuses, fmt.Sprintf("%d=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(statuses)
	t.Logf("soak: sent by class: %s", strings.Join(classes, " "))
	t.Logf("soak: answers by status: %s", strings.Join(statuses, " "))
	t.Logf("soak: injected errors (Redis outage): %v; replica warnings in the outage: %d", injectedKinds, logLines.injected)
	for _, h := range [][]string{healthLines(a), healthLines(b)} {
		for _, l := range h {
			t.Log("soak: " + l)
		}
	}
	t.Logf("soak: duration=%s requests=%d rps=%.0f decisions[%s] wrong=%d errors=%d injected=%d heap_peak_alloc=%.1fMiB heap_peak_inuse=%.1fMiB heap_cap=%.0fMiB goroutines=%d/%d propagation_p50=%s propagation_p99=%s (n=%d; outside the outage p50=%s p99=%s n=%d) revocations=%d tokens=%d rotations=%d redis_restarts=%d jwks_fetches=%d introspections=%d",
		elapsed.Round(time.Millisecond), requests, float64(requests)/elapsed.Seconds(), strings.Join(verdicts, " "),
		st.wrong.Load(), other+logLines.other+degradedOutside, injected, mib(peakAlloc.Load()), mib(peakInuse.Load()), mib(limit),
		goroutinesBefore, goroutinesAfter, p50, p99, nProp, s50, s99, nSteady, revocations, minted, rotations.Load(), restarts, jwks, intro)

	// Verdicts.
	for _, e := range st.examples {
		t.Errorf("wrong decision: %s", e)
	}
	if n := st.wrong.Load(); n > 0 {
		t.Errorf("%d wrong decisions", n)
	}
	if other > 0 {
		t.Errorf("errors beyond the injected ones: %v", otherKinds)
	}
	for _, l := range logLines.otherLines {
		t.Errorf("replica warning outside the Redis outage: %s", l)
	}
	if degradedOutside > 0 {
		t.Errorf("a store became degraded %d times outside the Redis outage", degradedOutside)
	}
	if prop.lost > 0 {
		t.Errorf("%d revocations never reached the other replica within %s", prop.lost, propagationBound)
	}
	if peakAlloc.Load() > limit {
		t.Errorf("peak heap %.1f MiB above the cap %.1f MiB (%d tokens, %d revocations)", mib(peakAlloc.Load()), mib(limit), minted, revocations)
	}
	if jwks > jwksLimit {
		t.Errorf("%d JWKS fetches, more than the %d that start-up, %d rotations and scheduled refreshes explain: forged or garbage tokens caused fetches", jwks, jwksLimit, rotations.Load())
	}
	if leakErr != nil {
		t.Errorf("goroutines leaked: %v", leakErr)
	}
	// The run must have exercised what it claims.
	for _, need := range []struct {
		what string
		n    int64
	}{
		{"valid tokens accepted", st.byVerdict[vValid].Load()},
		{"revoked tokens refused", st.byVerdict[vRevoked].Load()},
		{"expired tokens refused", st.byVerdict[vExpired].Load()},
		{"forged tokens refused", st.byVerdict[vForged].Load()},
		{"garbage refused", st.byVerdict[vGarbage].Load()},
		{"tokens of a rotated key accepted", st.byVerdict[vValidNewKey].Load()},
		{"answers while a store was degraded", st.byVerdict[vValidDegraded].Load()},
		{"propagation samples", int64(nProp)},
		{"introspection calls (degraded policy)", intro},
		{"Redis restarts", int64(restarts)},
		{"key rotations", rotations.Load()},
	} {
		if need.n == 0 {
			t.Errorf("the run had no %s", need.what)
		}
	}
}

// maxJWKSFetches is how many key-set fetches the two replicas may make in
// d: each fetches at start, once for the first token of every rotated-in
// key (rotations are further apart than the unknown-kid cooldown), and on
// the refresh schedule (every 3/4 of the 5 min default lifetime, since
// Keycloak sends no max-age). Forged tokens keep a known kid and garbage has
// none, so neither may add a fetch.
func maxJWKSFetches(rotations int, d time.Duration) int64 {
	refreshes := int64(d / (5 * time.Minute * 3 / 4))
	return 2 * (1 + int64(rotations) + refreshes)
}

// mintLoop keeps the valid pool at validPoolSize, replaces a random valid
// token with a fresh one every 500 ms (so that tokens of a rotated-in key
// enter the traffic), retires tokens 30 s before they expire, and adds a
// token of the short-lived client every 2 s.
func mintLoop(ctx context.Context, m *minter, p *pool, shortClient string, errs *errorLog) {
	rng := newRand(2)
	var lastRoll, lastShort time.Time
	for ctx.Err() == nil {
		now := time.Now()
		p.retire(now, 30*time.Second)
		client, replace := "", false
		switch {
		case p.size() < validPoolSize:
			client = keycloaktest.MobileClientID
		case now.Sub(lastShort) > 2*time.Second:
			client, lastShort = shortClient, now
		case now.Sub(lastRoll) > 500*time.Millisecond:
			client, replace, lastRoll = keycloaktest.MobileClientID, true, now
		default:
			time.Sleep(20 * time.Millisecond)
			continue
		}
		tk, err := m.mint(ctx, client, rng)
		if err != nil {
			if ctx.Err() == nil {
				errs.add("password grant", now, time.Now())
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		p.minted.Add(1)
		if client == shortClient {
			p.addExpiring(tk)
		} else {
			p.addValid(tk, replace, rng)
		}
	}
}

// waitHealthy waits until neither store is degraded.
func waitHealthy(a, b *replica, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if !a.store.Degraded() && !b.store.Degraded() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

type logSummary struct {
	injected, other int
	otherLines      []string
}

// replicaLogs sorts the replicas' warnings into those of the outage window
// and the others.
func replicaLogs(replicas [2]*replica, errs *errorLog) logSummary {
	var s logSummary
	for _, r := range replicas {
		for _, rec := range r.logs.snapshot() {
			if errs.window.overlaps(rec.time, rec.time) {
				s.injected++
				continue
			}
			s.other++
			if len(s.otherLines) < 20 {
				s.otherLines = append(s.otherLines, fmt.Sprintf("%s %s %s: %s", r.name, rec.time.Format("15:04:05.000"), rec.level, rec.msg))
			}
		}
	}
	return s
}

// degradedOutsideWindow counts the stores' turns to degraded after start
// that fall outside the outage window.
func degradedOutsideWindow(replicas [2]*replica, w *outage, start time.Time) int {
	n := 0
	for _, r := range replicas {
		for _, h := range r.health.snapshot() {
			if h.Degraded && h.Since.After(start) && !w.overlaps(h.Since, h.Since) {
				n++
			}
		}
	}
	return n
}

func healthLines(r *replica) []string {
	var out []string
	for _, h := range r.health.snapshot() {
		out = append(out, fmt.Sprintf("store %s at %s: degraded=%v %s", r.name, h.Since.Format("15:04:05.000"), h.Degraded, h.Reason))
	}
	return out
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// goroutineTB lets keycloaktest helpers run off the test goroutine: a
// failure is recorded and ends that goroutine (runtime.Goexit) instead of
// calling FailNow, which only the test goroutine may call. The test
// reports the recorded failures.
type goroutineTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (g *goroutineTB) Helper() {}

func (g *goroutineTB) Errorf(format string, args ...any) {
	g.mu.Lock()
	g.errs = append(g.errs, fmt.Sprintf(format, args...))
	g.mu.Unlock()
}

func (g *goroutineTB) Error(args ...any) { g.Errorf("%s", fmt.Sprint(args...)) }

func (g *goroutineTB) Fatalf(format string, args ...any) {
	g.Errorf(format, args...)
	runtime.Goexit()
}

func (g *goroutineTB) Fatal(args ...any) { g.Fatalf("%s", fmt.Sprint(args...)) }

func (g *goroutineTB) FailNow() {
	g.Errorf("failed")
	runtime.Goexit()
}

func (g *goroutineTB) failed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.errs) > 0
}

func (g *goroutineTB) errors() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.errs)
}
