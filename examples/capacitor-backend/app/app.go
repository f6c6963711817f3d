// Package app is the API behind an Ionic/Capacitor app that logs in with
// Keycloak (public client "mobile", PKCE; "mobile-dpop" for tokens bound to
// the app's key with DPoP): the protected routes, the logout,
// back-channel logout and Keycloak admin endpoints, health and metrics,
// wired from environment variables. The command in the parent directory
// runs it; the demo and the tests run it in-process.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/adapter"
	twprom "github.com/tokenwarden/tokenwarden/adapter/prometheus"
	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// Routes served by the backend (docs/capacitor.md names the same ones).
const (
	RouteProfile           = "/api/profile"
	RouteAdminReport       = "/api/admin/report"
	RouteLogout            = "/auth/logout"
	RouteBackchannelLogout = "/auth/backchannel-logout"
	RouteKeycloakAdmin     = "/auth/keycloak"
	RouteHealth            = "/healthz"
	RouteReady             = "/readyz"
	RouteMetrics           = "/metrics"
)

// App is the wired backend. Close releases what New started.
type App struct {
	cfg     Config
	handler http.Handler
	store   revocation.Store
	auth    *adapter.Authenticator
	closers []func() error
}

// New discovers the issuer, builds the pipeline and the handlers. It needs
// Keycloak to answer discovery.
func New(ctx context.Context, cfg Config, log *slog.Logger) (a *App, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a = &App{cfg: cfg}
	built := a // a is nil when an error is returned
	defer func() {
		if err != nil {
			_ = built.Close()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	metrics, err := twprom.New(twprom.Config{Registerer: reg})
	if err != nil {
		return nil, err
	}

	store, err := newStore(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	a.store = store
	policy, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	audit := func(_ context.Context, ev adapter.AuditEvent) {
		log.Info("audit", "kind", string(ev.Kind), "reason", string(ev.Reason), "method", ev.Method,
			"path", ev.Path, "remote", ev.RemoteAddr, "sub", ev.Subject, "sid", ev.SessionID, "detail", ev.Detail)
	}
	// From the issuer's discovery document New builds the key set, the
	// verifier (aud must contain Audience; logout tokens are addressed to
	// the mobile clients), the introspection client and cache (with the
	// secret) and the mobile clients' revokers; the store is ours, and
	// records DPoP proofs too.
	auth, err := adapter.New(ctx, adapter.Config{
		Issuer:      cfg.Issuer,
		InternalURL: cfg.InternalURL,
		Audience:    cfg.Audience,
		Clients:     []string{cfg.MobileClientID, cfg.DPoPClientID},
		DPoP: adapter.DPoPPolicy{
			Require: cfg.DPoP == DPoPRequire,
			Proof:   dpop.Config{ExternalURL: cfg.PublicURL, NonceSecret: cfg.DPoPNonceSecret},
		},
		ClientSecret:      cfg.ClientSecret,
		InsecureAllowHTTP: cfg.InsecureAllowHTTP,
		Store:             store,
		Policy:            policy,
		Logout:            adapter.LogoutOptions{RevokeSession: true},
		Realm:             "tokenwarden",
		Logger:            log,
		Metrics:           metrics,
		Audit:             audit,
		// Fail here rather than answer 503 to every request, when asked.
		RequireKeysAtStart: cfg.RequireKeysAtStart,
	})
	if err != nil {
		return nil, err
	}
	a.auth = auth
	a.closers = append(a.closers, auth.Close)

	mux := http.NewServeMux()
	mux.Handle("GET "+RouteProfile, auth.Middleware(http.HandlerFunc(profile)))
	mux.Handle("GET "+RouteAdminReport, auth.Middleware(auth.Require(adapter.RequireRealmRole("admin"))(http.HandlerFunc(report))))
	mux.Handle("POST "+RouteLogout, auth.LogoutHandler())
	mux.Handle("POST "+RouteBackchannelLogout, auth.BackchannelLogoutHandler())
	mux.Handle("POST "+RouteKeycloakAdmin+"/", auth.KeycloakAdminHandler())
	mux.HandleFunc("GET "+RouteHealth, a.health)
	mux.HandleFunc("GET "+RouteReady, a.ready)
	mux.Handle("GET "+RouteMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.handler = cors(cfg.CORSOrigins, accessLog(log, mux))
	return a, nil
}

func newStore(ctx context.Context, cfg Config, a *App) (revocation.Store, error) {
	if cfg.RedisURL == "" {
		m := revocation.NewMemory(revocation.Config{})
		a.closers = append(a.closers, m.Close)
		return m, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, EnvRedisURL, err)
	}
	rc := redis.NewClient(opts)
	a.closers = append(a.closers, rc.Close)
	s, err := revocation.NewRedis(revocation.RedisConfig{Client: rc, KeyPrefix: cfg.RedisKeyPrefix})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, s.Close)
	// A store that is still loading is degraded: the pipeline introspects
	// meanwhile, so there is no need to wait here beyond a short while.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = s.WaitHealthy(wctx)
	return s, nil
}

func (c Config) policy() (adapter.IntrospectionPolicy, error) {
	switch c.Introspect {
	case IntrospectDegraded:
		return adapter.IntrospectionPolicy{}, nil
	case IntrospectAlways:
		return adapter.IntrospectionPolicy{Always: true}, nil
	case IntrospectSensitive:
		return adapter.IntrospectionPolicy{Route: func(r *http.Request) bool {
			return strings.HasPrefix(r.URL.Path, "/api/admin/")
		}}, nil
	}
	d, err := c.policyOlderThan()
	return adapter.IntrospectionPolicy{OlderThan: d}, err
}

// Handler returns the backend's routes.
func (a *App) Handler() http.Handler { return a.handler }

// Config returns the configuration in effect, defaults filled in.
func (a *App) Config() Config { return a.cfg }

// Close stops the key set refresher, the caches and the store.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Serve serves on l until ctx is done, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, l net.Listener, log *slog.Logger) error {
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// Run reads the configuration through getenv, logs JSON to stdout, and
// serves until ctx is done (main cancels it on SIGINT or SIGTERM).
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	// go-redis logs connection failures through a process-wide logger of
	// its own: send them to the JSON log (the store reports its state too).
	redis.SetLogger(redisLogger{log})
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	cfg = a.Config()
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	store := "memory"
	if cfg.RedisURL != "" {
		store = "redis"
	}
	log.Info("listening", "addr", l.Addr().String(), "issuer", cfg.Issuer, "audience", cfg.Audience,
		"store", store, "introspect", cfg.Introspect, "introspection_client", cfg.ClientSecret != "")
	return a.Serve(ctx, l, log)
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// Profile is the body of GET /api/profile.
type Profile struct {
	Subject     string              `json:"sub"`
	Username    string              `json:"username,omitempty"`
	Email       string              `json:"email,omitempty"`
	RealmRoles  []string            `json:"realm_roles"`
	ClientRoles map[string][]string `json:"client_roles,omitempty"`
	Scope       string              `json:"scope,omitempty"`
	ExpiresAt   time.Time           `json:"expires_at"`
}

func profile(w http.ResponseWriter, r *http.Request) {
	c, _ := adapter.FromContext(r.Context())
	writeJSON(w, http.StatusOK, Profile{Subject: c.Subject, Username: c.PreferredUsername, Email: c.Email,
		RealmRoles: slices.Clip(c.RealmRoles), ClientRoles: c.ClientRoles, Scope: c.Scope, ExpiresAt: c.Expiry.UTC()})
}

func report(w http.ResponseWriter, r *http.Request) {
	c, _ := adapter.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"report": "quarterly numbers", "requested_by": c.PreferredUsername})
}

func (a *App) health(w http.ResponseWriter, _ *http.Request) {
	h := a.store.Health()
	body := map[string]any{"status": "ok", "store": map[string]any{"degraded": false}}
	if h.Degraded {
		// Still serving: the pipeline confirms every token by introspection
		// until the store has resynchronised.
		body["status"] = "degraded"
		body["store"] = map[string]any{"degraded": true, "reason": h.Reason, "since": h.Since.UTC()}
	}
	writeJSON(w, http.StatusOK, body)
}

// ready answers the readiness probe: 200 while the backend can decide
// requests (the realm's keys are loaded; a degraded store is reported but
// still served, each request introspected), 503 with the reason otherwise.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	body := map[string]any{"status": "ready", "store": map[string]any{"degraded": false}}
	if h := a.store.Health(); h.Degraded {
		body["store"] = map[string]any{"degraded": true, "reason": h.Reason, "since": h.Since.UTC()}
	}
	status := http.StatusOK
	if err := a.auth.Ready(ctx); err != nil {
		status = http.StatusServiceUnavailable
		body["status"], body["error"] = "not ready", err.Error()
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// cors answers the WebView's CORS for the allowed origins (docs/capacitor.md):
// no cookies, so no Allow-Credentials. The app reads the challenge and the
// DPoP nonce of a refusal, and sends its DPoP proofs in a DPoP header.
func cors(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, DPoP-Nonce")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs method, path, status and duration: never a header, so
// never a token.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration_ms", float64(time.Since(t0).Microseconds())/1000)
	})
}
