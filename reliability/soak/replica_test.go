package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// Routes of a replica.
const (
	routeAPI    = "/api/orders"
	routeLogout = "/auth/logout"
)

// headerDegraded is set by the replica's test wrapper on answers given
// while its store was, or may have been, degraded.
const headerDegraded = "X-Soak-Store-Degraded"

// verifierLeeway is the replicas' clock-skew tolerance on exp. It is
// shorter than the 30 s default so that tokens of the short-lived client
// count as expired a few seconds after their exp.
const verifierLeeway = 5 * time.Second

// replica is one API instance wired like examples/capacitor-backend: key
// set and introspection endpoints from discovery, a verifier with its
// cache, an introspection cache in front of the backend client, a
// revocation.Redis store with its own mirror, the middleware and the
// LogoutHandler, on its own loopback listener.
type replica struct {
	name  string
	url   string
	srv   *http.Server
	store *revocation.Redis
	rc    *redis.Client
	keys  *oidc.RemoteKeySet
	cache *introspect.Cache
	auth  *adapter.Authenticator
	logs  *countingHandler

	jwksFetches    atomic.Int64
	unknownKid     atomic.Int64 // fetches caused by an unknown kid
	lastUnknownKid atomic.Int64 // start of the last one, Unix nanoseconds
	introspections atomic.Int64 // requests that reached Keycloak's introspection endpoint
	degradedSeen   atomic.Int64 // Degraded() answers "true" given to the middleware
	health         healthLog
	served         sync.WaitGroup
}

// startReplica builds and serves a replica against realm and the Redis at
// redisAddr (deny-list under prefix). It is stopped by close.
func startReplica(t *testing.T, name string, realm *keycloaktest.Keycloak, redisAddr, prefix string) *replica {
	t.Helper()
	r := &replica{name: name, logs: &countingHandler{}}
	log := slog.New(r.logs).With("replica", name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	disc, err := oidc.Discover(ctx, oidc.DiscoveryConfig{Issuer: realm.IssuerURL(), InsecureAllowHTTP: true, Logger: log})
	if err != nil {
		t.Fatalf("%s: discovery: %v", name, err)
	}
	r.keys, err = disc.NewRemoteKeySet(oidc.KeySetConfig{InsecureAllowHTTP: true, Logger: log,
		UnknownKidCooldown: unknownKidCooldown,
		Observe: func(ev oidc.FetchEvent) {
			r.jwksFetches.Add(1)
			if ev.Reason == "unknown_kid" {
				r.lastUnknownKid.Store(ev.Start.UnixNano())
				r.unknownKid.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: realm.IssuerURL(), Keys: r.keys,
		Audience: []string{keycloaktest.BackendClientID}, Leeway: verifierLeeway,
		Logout: oidc.LogoutTokenConfig{Audience: []string{keycloaktest.MobileClientID}}})
	if err != nil {
		t.Fatal(err)
	}

	// No go-redis retries: the store's follower then sees a killed Redis at
	// once (with the default three retries it can ride through a short
	// outage without ever reporting degraded), and a failed revocation is a
	// 503 that the client retries. The timeouts are generous because the
	// test shares two cores with everything else; only a silent partition,
	// which this test does not inject, would be noticed later for it.
	r.rc = redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	r.store, err = revocation.NewRedis(revocation.RedisConfig{Client: r.rc, KeyPrefix: prefix,
		Config: revocation.Config{MaxTokenLifetime: 10 * time.Minute, Logger: log,
			Observe: r.health.record}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.WaitHealthy(ctx); err != nil {
		t.Fatalf("%s: store not healthy: %v", name, err)
	}

	backend, err := introspect.New(introspect.ConfigFromDiscovery(disc, introspect.Config{
		ClientID: keycloaktest.BackendClientID, ClientSecret: keycloaktest.BackendClientSecret,
		Audience: []string{keycloaktest.BackendClientID}, InsecureAllowHTTP: true, Logger: log,
		Observe: func(ev introspect.Event) {
			if ev.Endpoint == introspect.EndpointIntrospection {
				r.introspections.Add(1)
			}
		}}))
	if err != nil {
		t.Fatal(err)
	}
	r.cache, err = introspect.NewCache(backend, introspect.CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mobile, err := introspect.New(introspect.ConfigFromDiscovery(disc, introspect.Config{
		ClientID: keycloaktest.MobileClientID, AuthMethod: introspect.AuthNone, InsecureAllowHTTP: true, Logger: log}))
	if err != nil {
		t.Fatal(err)
	}

	// The middleware sees the store through watchedStore, which counts the
	// degraded answers it gives; the default policy introspects every
	// request while the store is degraded.
	r.auth, err = adapter.New(ctx, adapter.Config{Verifier: verifier, Store: watchedStore{r.store, &r.degradedSeen},
		Introspector: r.cache, Realm: "soak", Logger: log,
		Revokers: map[string]adapter.Revoker{keycloaktest.MobileClientID: mobile},
		Logout:   adapter.LogoutOptions{RevokeSession: true},
		Require:  []adapter.Requirement{adapter.RequireClientRole(keycloaktest.BackendClientID, "reader")}})
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET "+routeAPI, r.markDegraded(r.auth.Middleware(http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))))
	mux.Handle("POST "+routeLogout, r.auth.LogoutHandler())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + l.Addr().String()
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.served.Add(1)
	go func() {
		defer r.served.Done()
		if err := r.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.logs.add(slog.LevelError, fmt.Sprintf("serve: %v", err))
		}
	}()
	return r
}

// close stops the listener and everything the replica started.
func (r *replica) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	r.served.Wait()
	_ = r.auth.Close()
	_ = r.cache.Close()
	_ = r.store.Close()
	_ = r.rc.Close()
	r.keys.Close()
}

// watchedStore counts the degraded answers the middleware receives.
type watchedStore struct {
	*revocation.Redis
	seen *atomic.Int64
}

func (s watchedStore) Degraded() bool {
	d := s.Redis.Degraded()
	if d {
		s.seen.Add(1)
	}
	return d
}

// markDegraded flags an answer with headerDegraded when the store was
// degraded before the middleware ran, when it is when the answer is
// written, or when the middleware was told "degraded" by any request in
// between. It may flag an answer given on a healthy store during a
// degraded period (the oracle then allows more), never the reverse.
func (r *replica) markDegraded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen := r.degradedSeen.Load()
		before := r.store.Degraded()
		next.ServeHTTP(&degradedWriter{ResponseWriter: w, flag: func() bool {
			return before || r.store.Degraded() || r.degradedSeen.Load() != seen
		}}, req)
	})
}

type degradedWriter struct {
	http.ResponseWriter
	flag    func() bool
	written bool
}

func (d *degradedWriter) WriteHeader(code int) {
	if !d.written {
		d.written = true
		if d.flag() {
			d.Header().Set(headerDegraded, "1")
		}
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *degradedWriter) Write(b []byte) (int, error) {
	if !d.written {
		d.WriteHeader(http.StatusOK)
	}
	return d.ResponseWriter.Write(b)
}

// healthLog records a store's health changes.
type healthLog struct {
	mu      sync.Mutex
	changes []revocation.Health
}

func (h *healthLog) record(s revocation.Health) {
	h.mu.Lock()
	h.changes = append(h.changes, s)
	h.mu.Unlock()
}

func (h *healthLog) snapshot() []revocation.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]revocation.Health(nil), h.changes...)
}

// countingHandler is a slog.Handler that keeps the warnings and errors of a
// replica (they never carry a token) with their time.
type countingHandler struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	time  time.Time
	level slog.Level
	msg   string
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *countingHandler) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" || a.Key == "reason" {
			msg += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, logRecord{time: rec.Time, level: rec.Level, msg: msg})
	h.mu.Unlock()
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) add(l slog.Level, msg string) {
	h.mu.Lock()
	h.records = append(h.records, logRecord{time: time.Now(), level: l, msg: msg})
	h.mu.Unlock()
}

func (h *countingHandler) snapshot() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.records...)
}

// mayRotate reports whether a key rotated in now will be fetched by this
// replica at its first token: the previous rotations' keys have been
// fetched (one unknown-kid fetch each) and unknownKidCooldown (plus a
// margin) has passed since the last such fetch. A key rotated in
// sooner is refused (401) until the cooldown ends: the documented price of
// bounding the fetches an attacker's random kids can cause. Keycloak
// publishes a key before it signs with it when rotated the recommended
// way; keycloaktest.RotateKeys makes it active at once.
func (r *replica) mayRotate(rotations int, now time.Time) bool {
	if r.unknownKid.Load() < int64(rotations) {
		return false
	}
	last := r.lastUnknownKid.Load()
	return last == 0 || now.Sub(time.Unix(0, last)) > unknownKidCooldown+5*time.Second
}

// unknownKidCooldown is the replicas' KeySetConfig.UnknownKidCooldown (the
// default).
const unknownKidCooldown = 15 * time.Second
