package oidc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// newTestKeySet builds a RemoteKeySet on srv with test defaults and closes it
// at the end of the test.
func newTestKeySet(t *testing.T, srv *jwksServer, clk *fakeClock, mod func(*KeySetConfig)) *RemoteKeySet {
	t.Helper()
	cfg := KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true, Now: clk.Now,
		MinRefresh: time.Hour, MaxRefresh: 2 * time.Hour, UnknownKidCooldown: time.Minute}
	if mod != nil {
		mod(&cfg)
	}
	ks, err := NewRemoteKeySet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return ks
}

func mustKey(t *testing.T, ks KeySource, kid string) *Key {
	t.Helper()
	k, err := ks.Key(context.Background(), kid)
	if err != nil {
		t.Fatalf("Key(%q): %v", kid, err)
	}
	if k.ID != kid {
		t.Fatalf("Key(%q) returned kid %q", kid, k.ID)
	}
	return k
}

func randomKid() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestRemoteKeySetKnownKidNeverFetches: after the first load, a known kid is
// answered 10,000 times without a single request.
func TestRemoteKeySetKnownKidNeverFetches(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	ks := newTestKeySet(t, srv, newFakeClock(), nil)
	mustKey(t, ks, "k1") // waits for the constructor's fetch
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d requests after the first load, want 1", got)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 1000 {
				if _, err := ks.Key(context.Background(), "k1"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, f := srv.requests.Load(), ks.Stats().Fetches; got != 1 || f != 1 {
		t.Fatalf("%d requests / %d fetches for a known kid, want 1 (the first load)", got, f)
	}
}

// TestRemoteKeySetRandomKidFlood: 10,000 random kids from 50 goroutines cause
// exactly one fetch per cooldown, and the fetch is shared by the waiters.
func TestRemoteKeySetRandomKidFlood(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, func(c *KeySetConfig) { c.NegativeCacheSize = 256 })
	mustKey(t, ks, "k1")
	srv.mu.Lock()
	srv.delay = 50 * time.Millisecond // let many callers pile up on the one fetch
	srv.mu.Unlock()

	flood := func() {
		var wg sync.WaitGroup
		var unknown atomic.Int64
		for range 50 {
			wg.Go(func() {
				for range 200 {
					k, err := ks.Key(context.Background(), randomKid())
					if k != nil || !errors.Is(err, ErrUnknownKey) {
						t.Errorf("random kid: %v, %v", k, err)
						return
					}
					unknown.Add(1)
				}
			})
		}
		wg.Wait()
		if unknown.Load() != 10000 {
			t.Fatalf("%d unknown answers, want 10000", unknown.Load())
		}
	}
	flood()
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests after 10,000 random kids, want 2 (first load + one per cooldown)", got)
	}
	// The negative cache is bounded.
	if n := ks.neg.Len(); n > 256 {
		t.Fatalf("negative cache holds %d entries, bound 256", n)
	}
	// Within the cooldown: still no fetch.
	clk.Advance(59 * time.Second)
	flood()
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests within the cooldown, want 2", got)
	}
	// Next cooldown window: exactly one more.
	clk.Advance(2 * time.Second)
	flood()
	if got := srv.requests.Load(); got != 3 {
		t.Fatalf("%d requests in the second cooldown window, want 3", got)
	}
	st := ks.Stats()
	if st.UnknownKidFetches != 2 || st.UnknownKidDenied == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The known kid still works and did not cause a fetch.
	mustKey(t, ks, "k1")
	if got := srv.requests.Load(); got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}
}

// TestRemoteKeySetNegativeCache: a kid found absent from a fresh set is
// answered from the negative cache, even after the cooldown, until the next
// load.
func TestRemoteKeySetNegativeCache(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, nil)
	mustKey(t, ks, "k1")
	if _, err := ks.Key(context.Background(), "ghost"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests, want 2", got)
	}
	clk.Advance(2 * time.Minute) // cooldown over
	for range 100 {
		if _, err := ks.Key(context.Background(), "ghost"); !errors.Is(err, ErrUnknownKey) {
			t.Fatal(err)
		}
	}
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests for a negatively cached kid, want 2", got)
	}
	if st := ks.Stats(); st.NegativeHits != 100 {
		t.Fatalf("negative hits %d, want 100", st.NegativeHits)
	}
	// A new load invalidates the negative entry: the kid now exists.
	srv.set(jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil), rsaJWK(&testRSAKey(t, 1).PublicKey, "ghost", nil)), 200, nil)
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustKey(t, ks, "ghost")
}

// TestRemoteKeySetRotation: a new kid causes exactly one refetch; the old key
// is served while it is listed and disappears once it is not.
func TestRemoteKeySetRotation(t *testing.T) {
	k1 := rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)
	k2 := rsaJWK(&testRSAKey(t, 1).PublicKey, "k2", nil)
	srv := newJWKSServer(t, jwksJSON(t, k1))
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, nil)
	mustKey(t, ks, "k1")

	srv.set(jwksJSON(t, k1, k2), 200, nil) // the IdP rotates: k2 active, k1 passive
	mustKey(t, ks, "k2")
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests after a new kid, want exactly 2", got)
	}
	for range 100 {
		mustKey(t, ks, "k1")
		mustKey(t, ks, "k2")
	}
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests while both keys are listed, want 2", got)
	}

	srv.set(jwksJSON(t, k2), 200, nil) // k1 removed upstream
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := ks.Key(context.Background(), "k1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("removed key: %v, want ErrUnknownKey", err)
	}
	mustKey(t, ks, "k2")
}

// TestRemoteKeySetStaleIfError: failed refreshes keep the last good keys for
// the stale window after their lifetime, then Key fails with
// ErrKeysUnavailable; a successful refresh recovers.
func TestRemoteKeySetStaleIfError(t *testing.T) {
	good := jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil))
	srv := newJWKSServer(t, good)
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, func(c *KeySetConfig) {
		c.MinRefresh, c.MaxRefresh, c.StaleIfError = 5*time.Minute, 5*time.Minute, 10*time.Minute
	})
	mustKey(t, ks, "k1")

	failures := []struct {
		name   string
		body   []byte
		status int
	}{
		{"500", []byte("oops"), 500},
		{"garbage", []byte("<html>"), 200},
		{"no usable key", jwksJSON(t, map[string]any{"kty": "oct", "k": "AAAA"}), 200},
	}
	for _, f := range failures {
		srv.set(f.body, f.status, nil)
		if err := ks.Refresh(context.Background()); err == nil {
			t.Fatalf("%s: refresh succeeded", f.name)
		}
		mustKey(t, ks, "k1") // last good keys kept
	}
	clk.Advance(5*time.Minute + 9*time.Minute) // expired 9 min ago, window 10 min
	mustKey(t, ks, "k1")
	clk.Advance(2 * time.Minute) // window over
	_, err := ks.Key(context.Background(), "k1")
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after the stale window: %v, want ErrKeysUnavailable", err)
	}
	if !strings.Contains(err.Error(), "no usable") {
		t.Fatalf("error %q does not carry the last fetch failure", err)
	}
	srv.set(good, 200, nil)
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustKey(t, ks, "k1")
	if st := ks.Stats(); st.FetchErrors != 3 || st.LastError != "" {
		t.Fatalf("stats %+v", st)
	}
}

func TestRemoteKeySetFirstFetchFails(t *testing.T) {
	srv := newJWKSServer(t, []byte("nope"))
	srv.set(nil, 503, nil)
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, nil)
	_, err := ks.Key(context.Background(), "k1")
	if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "answered 503") {
		t.Fatalf("%v, want ErrKeysUnavailable naming the status", err)
	}
	// The IdP comes back; the next unknown kid after the cooldown loads.
	srv.set(jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)), 200, nil)
	clk.Advance(2 * time.Minute)
	mustKey(t, ks, "k1")
}

// TestRemoteKeySetUnknownKidDuringOutage: a kid absent from the cached set
// while the JWKS cannot be fetched may be a key published during the
// outage: ErrKeysUnavailable (the caller answers 503), not ErrUnknownKey,
// also when the cooldown forbids another fetch. Once fetches succeed, an
// absent kid is ErrUnknownKey again.
func TestRemoteKeySetUnknownKidDuringOutage(t *testing.T) {
	k1 := rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)
	srv := newJWKSServer(t, jwksJSON(t, k1))
	clk := newFakeClock()
	ks := newTestKeySet(t, srv, clk, nil)
	mustKey(t, ks, "k1")
	srv.set(nil, http.StatusServiceUnavailable, nil)
	for i, what := range []string{"fetch failed", "cooldown after a failed fetch"} {
		_, err := ks.Key(context.Background(), "k2")
		if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrUnknownKey) || (i == 0 && !strings.Contains(err.Error(), "answered 503")) {
			t.Fatalf("%s: %v, want ErrKeysUnavailable, not ErrUnknownKey", what, err)
		}
	}
	mustKey(t, ks, "k1") // cached keys still served
	srv.set(jwksJSON(t, k1, rsaJWK(&testRSAKey(t, 1).PublicKey, "k2", nil)), http.StatusOK, nil)
	clk.Advance(2 * time.Minute)
	mustKey(t, ks, "k2")
	if _, err := ks.Key(context.Background(), "k3"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("absent from a fresh set: %v, want ErrUnknownKey", err)
	}
}

func TestRemoteKeySetCacheControl(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Minute},                             // none: MinRefresh
		{"no-cache", time.Minute},                     // Keycloak
		{"max-age=0", time.Minute},                    // no lifetime
		{"max-age=10", time.Minute},                   // below MinRefresh
		{"public, max-age=600", 10 * time.Minute},     // honoured
		{"max-age=86400", time.Hour},                  // above MaxRefresh
		{"max-age=600, no-store", time.Minute},        // no-store wins
		{`max-age="900"`, 15 * time.Minute},           // quoted
		{"max-age=abc", time.Minute},                  // invalid
		{"max-age=99999999999999999999", time.Minute}, // overflow
	}
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	ks := newTestKeySet(t, srv, newFakeClock(), func(c *KeySetConfig) { c.MinRefresh, c.MaxRefresh = time.Minute, time.Hour })
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Cache-Control", tt.header)
			}
			srv.set(nil, 200, h)
			if err := ks.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := ks.Stats()
			if got := st.ExpiresAt.Sub(st.LoadedAt); got != tt.want {
				t.Fatalf("lifetime %v, want %v", got, tt.want)
			}
		})
	}
	// Age is subtracted.
	h := http.Header{}
	h.Set("Cache-Control", "max-age=1200")
	h.Set("Age", "300")
	if d, ok := cacheMaxAge(h); !ok || d != 15*time.Minute {
		t.Fatalf("max-age 1200 age 300: %v %v", d, ok)
	}
}

func TestRemoteKeySetHTTPRules(t *testing.T) {
	jwks := jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil))
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer other.Close()
	// Same server on another host name: 127.0.0.1 vs localhost.
	otherHost := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	var hits atomic.Int64
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/cross":
			http.Redirect(w, r, other.URL+"/certs", http.StatusFound)
		case "/cross-name":
			http.Redirect(w, r, otherHost+"/certs", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/certs", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big":
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("a", 70<<10) + `"}`))
		case "/big-chunked":
			w.(http.Flusher).Flush() // no Content-Length
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("a", 70<<10) + `"}`))
		case "/certs":
			w.Write(jwks)
		}
	}))
	defer redir.Close()

	tests := []struct {
		name    string
		cfg     KeySetConfig
		wantNew error // constructor error
		wantKey error // Key error; nil means k1 loads
	}{
		{"http refused without the flag", KeySetConfig{URL: redir.URL + "/certs"}, ErrInsecureURL, nil},
		{"http allowed with the flag", KeySetConfig{URL: redir.URL + "/certs", InsecureAllowHTTP: true}, nil, nil},
		{"ftp refused", KeySetConfig{URL: "ftp://example.com/certs", InsecureAllowHTTP: true}, ErrInsecureURL, nil},
		{"credentials refused", KeySetConfig{URL: "https://u:p@example.com/certs"}, ErrInsecureURL, nil},
		{"relative refused", KeySetConfig{URL: "/certs"}, ErrInsecureURL, nil},
		{"empty refused", KeySetConfig{}, ErrInsecureURL, nil},
		{"redirect to another host refused", KeySetConfig{URL: redir.URL + "/cross", InsecureAllowHTTP: true}, nil, errRedirect},
		{"redirect to another host name refused", KeySetConfig{URL: redir.URL + "/cross-name", InsecureAllowHTTP: true}, nil, errRedirect},
		{"same-host redirect followed", KeySetConfig{URL: redir.URL + "/same", InsecureAllowHTTP: true}, nil, nil},
		{"redirect loop stopped", KeySetConfig{URL: redir.URL + "/loop", InsecureAllowHTTP: true}, nil, errRedirect},
		{"oversized body refused", KeySetConfig{URL: redir.URL + "/big", InsecureAllowHTTP: true}, nil, errBodyTooLarge},
		{"oversized chunked body refused", KeySetConfig{URL: redir.URL + "/big-chunked", InsecureAllowHTTP: true}, nil, errBodyTooLarge},
		{"raised body cap", KeySetConfig{URL: redir.URL + "/big", InsecureAllowHTTP: true, MaxBodyBytes: 1 << 20}, nil, ErrInvalidJWKS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := NewRemoteKeySet(tt.cfg)
			if !errors.Is(err, tt.wantNew) || (err == nil) != (tt.wantNew == nil) {
				t.Fatalf("NewRemoteKeySet: %v, want %v", err, tt.wantNew)
			}
			if err != nil {
				return
			}
			defer ks.Close()
			k, err := ks.Key(context.Background(), "k1")
			if tt.wantKey == nil {
				if err != nil || k == nil {
					t.Fatalf("Key: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantKey) || !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Key: %v, want ErrKeysUnavailable wrapping %v", err, tt.wantKey)
			}
		})
	}
}

// TestRemoteKeySetCallerClientUntouched: the caller's client is used through a
// copy; its fields are never modified.
func TestRemoteKeySetCallerClientUntouched(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	}))
	defer srv.Close()
	client := srv.Client()
	before := *client
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.URL + "/certs", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	mustKey(t, ks, "k1")
	if client.Transport != before.Transport || client.CheckRedirect != nil || client.Timeout != before.Timeout || client.Jar != before.Jar {
		t.Fatal("caller's client was modified")
	}
}

// TestRemoteKeySetWaitersHonourContext: a caller waiting for a slow fetch
// returns when its own context ends; the fetch goes on for the others and
// is not cancelled by that caller.
func TestRemoteKeySetWaitersHonourContext(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	release := make(chan struct{})
	srv.block = release
	ks := newTestKeySet(t, srv, newFakeClock(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := ks.Key(ctx, "k1"); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	close(release)
	mustKey(t, ks, "k1") // the shared fetch completed despite the cancel
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
}

func TestRemoteKeySetObserve(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t,
		rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil),
		rsaJWK(&testRSAKey(t, 1).PublicKey, "enc", map[string]any{"use": "enc"})))
	var mu sync.Mutex
	var events []FetchEvent
	ks := newTestKeySet(t, srv, newFakeClock(), func(c *KeySetConfig) {
		c.Observe = func(e FetchEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	mustKey(t, ks, "k1")
	ks.Key(context.Background(), "nope")
	srv.set(nil, 500, nil)
	ks.Refresh(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	want := []struct {
		reason  string
		status  int
		keys    int
		skipped int
		err     bool
	}{{"initial", 200, 1, 1, false}, {"unknown_kid", 200, 1, 1, false}, {"forced", 500, 0, 0, true}}
	for i, w := range want {
		e := events[i]
		if e.Reason != w.reason || e.Status != w.status || e.Keys != w.keys || e.Skipped != w.skipped || (e.Err != nil) != w.err || e.URL != srv.url() {
			t.Fatalf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

// TestRemoteKeySetClose: Close stops every goroutine, is idempotent, and
// a closed set fetches nothing.
func TestRemoteKeySetClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true, UnknownKidCooldown: -1})
	if err != nil {
		t.Fatal(err)
	}
	mustKey(t, ks, "k1")
	ks.Close()
	ks.Close()
	n := srv.requests.Load()
	if _, err := ks.Key(context.Background(), "other"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("%v", err)
	}
	mustKey(t, ks, "k1") // known keys still answered
	if err := ks.Refresh(context.Background()); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	if srv.requests.Load() != n {
		t.Fatal("a closed key set fetched")
	}
	srv.Close()
}

// TestRemoteKeySetCloseDuringFetch: Close cancels a fetch in flight.
func TestRemoteKeySetCloseDuringFetch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.URL, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ks.Close() // must not wait for the blocked handler
	close(block)
	srv.Close()
}

func TestRemoteKeySetBackgroundRefresh(t *testing.T) {
	// A lifetime of 40 ms is refreshed ahead (about 30 ms) by the goroutine,
	// without any Key call.
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	ks := newTestKeySet(t, srv, newFakeClock(), func(c *KeySetConfig) { c.MinRefresh, c.MaxRefresh = 40*time.Millisecond, 40*time.Millisecond })
	mustKey(t, ks, "k1")
	// Wait for the published generation, not the server's request count: a
	// request is counted before its answer is read and published.
	deadline := time.Now().Add(10 * time.Second)
	for ks.Stats().Generation < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("generation %d after %d requests: no background refresh", ks.Stats().Generation, srv.requests.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRemoteKeySetHotPathAllocs: a known kid, a negatively cached kid and an
// unknown kid refused by the cooldown cost no allocation.
func TestRemoteKeySetHotPathAllocs(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	ks := newTestKeySet(t, srv, newFakeClock(), nil)
	ctx := context.Background()
	mustKey(t, ks, "k1")
	if _, err := ks.Key(ctx, "absent"); !errors.Is(err, ErrUnknownKey) { // fetch, then negative entry
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kid  string
		ok   bool
	}{{"known", "k1", true}, {"negative cache", "absent", false}, {"cooldown", "never-seen", false}}
	for _, tt := range tests {
		allocs := testing.AllocsPerRun(1000, func() {
			k, err := ks.Key(ctx, tt.kid)
			if (err == nil) != tt.ok || (k != nil) != tt.ok {
				t.Fatalf("%s: %v %v", tt.name, k, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per call, want 0", tt.name, allocs)
		}
	}
	if got := srv.requests.Load(); got != 2 {
		t.Fatalf("%d requests, want 2", got)
	}
}

// TestRemoteKeySetBackgroundRetry: after a failed first fetch the goroutine
// retries on its own (backoff from 1 s) and loads the keys once the server
// recovers, without any Key call paying for it.
func TestRemoteKeySetBackgroundRetry(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
	srv.set(nil, http.StatusServiceUnavailable, nil)
	ks := newTestKeySet(t, srv, newFakeClock(), nil)
	deadline := time.Now().Add(5 * time.Second)
	for ks.Stats().FetchErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first fetch never failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.set(nil, http.StatusOK, nil)
	deadline = time.Now().Add(10 * time.Second)
	for ks.Stats().Keys == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no retry: stats %+v", ks.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := ks.Stats(); st.UnknownKidFetches != 0 || st.Fetches != 2 {
		t.Fatalf("stats %+v: want the retry to be the goroutine's second fetch", st)
	}
	mustKey(t, ks, "k1")
}

// TestRemoteKeySetUnknownAlgorithm: a misspelt algorithm in the allow-list
// is a configuration error, not a silent "allow everything".
func TestRemoteKeySetUnknownAlgorithm(t *testing.T) {
	for _, algs := range [][]string{{"rs256"}, {"HS256"}, {RS256, "none"}} {
		ks, err := NewRemoteKeySet(KeySetConfig{URL: "https://sso.example/certs", Algorithms: algs})
		if err == nil {
			ks.Close()
			t.Fatalf("%q accepted", algs)
		}
	}
}
