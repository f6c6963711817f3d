package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// Config configures New. With Issuer and Audience (and Clients for the
// handlers) New builds every part from the issuer's discovery document;
// each part can be passed instead. Every other zero value is a safe default.
type Config struct {
	// Issuer is the issuer exactly as tokens carry it in iss, e.g.
	// "https://sso.example.com/realms/acme". New discovers it (OpenID
	// Connect Discovery) when it has a part to build: the key set and the
	// Verifier when Verifier is nil, the Introspector when it is nil and
	// ClientSecret is set, a revoker for each of Clients that Revokers
	// lacks; Close closes them. It also names the issuer of Keycloak admin
	// messages when the Verifier does not (an *oidc.Verifier does).
	Issuer string
	// InternalURL is the scheme://host[:port] at which this process
	// reaches the issuer when that differs from the issuer's host (a
	// Docker network): see oidc.DiscoveryConfig.InternalURL.
	InternalURL string
	// Audience is the API's client id: an access token's aud must contain
	// it. It is also the client that introspects (with ClientSecret) and a
	// resource Keycloak admin messages may name. Required when New builds
	// the Verifier or the Introspector.
	Audience string
	// Clients are the client ids of the apps that call the API (a mobile
	// app's public client). For the Verifier New builds, a back-channel
	// logout token's aud must name one of them (default: Audience) and a
	// Keycloak admin message may name one as its resource; LogoutHandler
	// revokes their tokens at the discovered revocation endpoint as public
	// clients.
	Clients []string
	// ClientSecret is the secret of the Audience client. With it, and no
	// Introspector, New builds an introspect.Client behind an
	// introspect.Cache as the Introspector.
	ClientSecret string
	// HTTPClient makes the discovery, key-set, introspection and revocation
	// requests of the parts New builds; nil means private clients with
	// timeouts. It is never modified.
	HTTPClient *http.Client
	// InsecureAllowHTTP permits plain http issuer and endpoint URLs, for
	// development only: anyone on the path could substitute the keys.
	InsecureAllowHTTP bool

	// Verifier verifies access tokens; nil means the one New builds from
	// Issuer. An *oidc.Verifier also verifies the back-channel logout
	// tokens and the Keycloak admin messages of the handlers; an
	// *oidc.MultiVerifier the logout tokens.
	Verifier TokenVerifier
	// Store is the deny-list checked for every verified token: a Redis
	// store for replicas. Nil means a private revocation Memory store (one
	// process only), which Close closes. A store passed in is not closed.
	Store revocation.Store
	// Introspector is consulted when Policy asks for it; use an
	// *introspect.Cache in front of an *introspect.Client. Without one, a
	// request that needs introspection is answered 503. An inactive answer
	// deny-lists the token in Store, so every replica learns it.
	Introspector introspect.Introspector
	// Revokers revoke tokens at the authorization server for
	// LogoutHandler, by client id (the access token's azp: Keycloak lets a
	// client revoke only its own tokens). They take precedence over the
	// ones New builds for Clients.
	Revokers map[string]Revoker

	// Policy says when to introspect, and what to do when introspection
	// fails.
	Policy IntrospectionPolicy
	// Extractor configures RFC 6750 token extraction for the middleware
	// and LogoutHandler; the zero value reads the Authorization header
	// only.
	Extractor Extractor
	// Require lists requirements every request must meet (403
	// insufficient_scope otherwise). Per-route requirements: Require.
	Require []Requirement
	// DPoP says where access tokens must be DPoP-bound (RFC 9449) and how
	// proofs are checked. The zero value accepts a DPoP-bound token with
	// its proof next to Bearer tokens, refuses a bound token sent as
	// Bearer, and records proofs in Store.
	DPoP DPoPPolicy
	// Logout configures LogoutHandler.
	Logout LogoutOptions
	// MaxBodyBytes caps the body the handlers read (the logout form, the
	// logout token, the admin message); zero means 16 KiB.
	MaxBodyBytes int64

	// Realm is the realm of the WWW-Authenticate challenge; default "api".
	Realm string
	// ErrorWriter writes refusal bodies; nil means WriteJSONError.
	ErrorWriter ErrorWriter
	// RetryAfter is sent with 503 answers; zero means 5 seconds.
	RetryAfter time.Duration

	// Logger receives operational messages (never a token); nil discards.
	Logger *slog.Logger
	// RequireKeysAtStart makes New wait, bounded by its ctx, until the key
	// set it builds holds a usable key, and fail (wrapping
	// oidc.ErrKeysUnavailable) when it cannot: a process that could only
	// answer 503 then fails to start. Without it the first fetch runs in
	// the background, and an unreachable JWKS shows as keys_unavailable on
	// requests and in Ready. It needs the key set New builds (Verifier nil).
	RequireKeysAtStart bool

	// Metrics receives counters and the events of the parts New builds;
	// nil discards them.
	Metrics Metrics
	// Audit receives security events, at most AuditRate per second with
	// bursts of AuditBurst (defaults 10 and 50); nil disables auditing.
	Audit      AuditFunc
	AuditRate  float64
	AuditBurst int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("adapter: invalid configuration")

// Authenticator is the request pipeline (Middleware, Introspected,
// Authenticate) and the handlers through which revocations arrive
// (LogoutHandler, BackchannelLogoutHandler, KeycloakAdminHandler), sharing
// one store, logger, clock, metrics and audit trail. It is safe for
// concurrent use. Close releases what New built.
type Authenticator struct {
	cfg          Config // copied; Store, Verifier, Introspector resolved
	revokers     map[string]Revoker
	logoutTokens logoutTokenVerifier // nil: the Verifier cannot verify logout tokens
	adminActions adminActionVerifier // nil: the Verifier cannot verify admin messages
	adminIssuer  string
	caches       []forgetter // the verifier's and the introspector's, when they have one
	strictJWS    bool        // the verifier accepts only canonical base64url JWS
	require      Requirement
	hasReq       bool

	ch      challenger
	dpop    *dpop.Verifier
	retry   time.Duration
	maxBody int64
	log     *slog.Logger
	metrics Metrics
	audit   *auditor
	now     func() time.Time
	logs    logLimiter

	builtVerifier bool               // New built the Verifier: settings are named by Config field
	keys          *oidc.RemoteKeySet // the key set New built, for Ready; nil otherwise
	readyFetch    atomic.Int64       // unix nanoseconds of Ready's last fetch

	closers   []func() error // what New built, in order
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and returns an Authenticator. cfg is copied. ctx bounds
// the discovery request, when there is one; it is not kept. An error from
// discovery wraps oidc.ErrDiscovery.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	a := &Authenticator{cfg: cfg, ch: challenger{realm: cfg.Realm}, retry: cfg.RetryAfter, maxBody: cfg.MaxBodyBytes,
		log: cfg.Logger, metrics: cfg.Metrics, now: cfg.Now}
	if a.ch.realm == "" {
		a.ch.realm = "api"
	}
	if a.retry <= 0 {
		a.retry = 5 * time.Second
	}
	if a.maxBody <= 0 {
		a.maxBody = 16 << 10
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.metrics == nil {
		a.metrics = nopMetrics{}
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.audit = newAuditor(cfg.Audit, cfg.AuditRate, cfg.AuditBurst, a.metrics, a.now)
	a.cfg.Clients = slices.Clone(cfg.Clients)
	a.revokers = make(map[string]Revoker, len(cfg.Revokers)+len(cfg.Clients))
	for k, v := range cfg.Revokers {
		a.revokers[k] = v
	}
	if a.toBuild() {
		if err := a.discover(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	if a.cfg.Store == nil {
		st := revocation.NewMemory(revocation.Config{Now: cfg.Now, Logger: cfg.Logger})
		a.cfg.Store = st
		a.closers = append(a.closers, st.Close)
	}
	if err := a.useDPoP(); err != nil {
		a.Close()
		return nil, err
	}
	a.useVerifier()
	if f, ok := a.cfg.Introspector.(forgetter); ok {
		a.caches = append(a.caches, f)
	}
	if cfg.RequireKeysAtStart {
		if err := a.requireKeys(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.cfg.Require = append([]Requirement(nil), cfg.Require...)
	switch len(a.cfg.Require) {
	case 0:
	case 1:
		a.require, a.hasReq = a.cfg.Require[0], true
	default:
		a.require, a.hasReq = All(a.cfg.Require...), true
	}
	return a, nil
}

// toBuild reports whether Config leaves New a part to build from the
// issuer's discovery document.
func (a *Authenticator) toBuild() bool {
	cfg := &a.cfg
	if cfg.Verifier == nil || (cfg.Introspector == nil && cfg.ClientSecret != "") {
		return true
	}
	for _, id := range cfg.Clients {
		if a.revokers[id] == nil {
			return true
		}
	}
	return false
}

// discover builds the parts Config leaves nil from the issuer's discovery
// document, with Keycloak's defaults: the verifier, the introspector and
// the revokers.
func (a *Authenticator) discover(ctx context.Context) error {
	cfg := &a.cfg
	switch {
	case cfg.Issuer == "":
		return fmt.Errorf("%w: Issuer is required to build the Verifier, Introspector or revokers (or pass them)", ErrConfig)
	case cfg.Audience == "" && (cfg.Verifier == nil || cfg.Introspector == nil && cfg.ClientSecret != ""):
		return fmt.Errorf("%w: Audience is required with Issuer: the API's client id, which access tokens' aud must contain", ErrConfig)
	}
	disc, err := oidc.Discover(ctx, oidc.DiscoveryConfig{Issuer: cfg.Issuer, InternalURL: cfg.InternalURL,
		HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	if cfg.Verifier == nil {
		keys, err := disc.NewRemoteKeySet(oidc.KeySetConfig{Now: cfg.Now, Logger: cfg.Logger, Observe: a.metrics.KeySetFetch})
		if err != nil {
			return err
		}
		a.closers = append(a.closers, func() error { keys.Close(); return nil })
		a.keys = keys
		v, err := oidc.NewVerifier(oidc.VerifierConfig{
			Issuer:         disc.Issuer,
			Keys:           keys,
			Audience:       []string{cfg.Audience},
			Logout:         oidc.LogoutTokenConfig{Audience: cfg.Clients},
			AdminResources: append([]string{cfg.Audience}, cfg.Clients...),
			Now:            cfg.Now,
		})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		cfg.Verifier = v
		a.builtVerifier = true
	}

	base := introspect.Config{HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP,
		Now: cfg.Now, Logger: cfg.Logger}
	if cfg.Introspector == nil && cfg.ClientSecret != "" {
		ic := base
		ic.ClientID, ic.ClientSecret = cfg.Audience, cfg.ClientSecret
		ic = introspect.ConfigFromDiscovery(disc, ic)
		if ic.IntrospectionURL == "" {
			return fmt.Errorf("%w: %s advertises no introspection_endpoint for ClientSecret to use", ErrConfig, disc.Issuer)
		}
		client, err := introspect.New(ic)
		if err != nil {
			return err
		}
		cache, err := introspect.NewCache(client, introspect.CacheConfig{Now: cfg.Now, Observe: a.metrics.IntrospectionCache})
		if err != nil {
			return err
		}
		a.closers = append(a.closers, cache.Close)
		cfg.Introspector = cache
	}
	for _, id := range cfg.Clients {
		if a.revokers[id] != nil {
			continue
		}
		if disc.RevocationEndpoint == "" {
			a.log.Warn("adapter: the issuer advertises no revocation_endpoint: LogoutHandler needs Config.Revokers", "issuer", disc.Issuer)
			break
		}
		rc := base
		rc.ClientID, rc.AuthMethod = id, introspect.AuthNone
		rv, err := introspect.New(introspect.ConfigFromDiscovery(disc, rc))
		if err != nil {
			return err
		}
		a.revokers[id] = rv
	}
	return nil
}

// useVerifier records what the verifier can do besides Verify.
func (a *Authenticator) useVerifier() {
	switch a.cfg.Verifier.(type) {
	case *oidc.Verifier, *oidc.MultiVerifier:
		// These reject any token that is not three canonical base64url
		// segments, a subset of RFC 6750's b64token: the alphabet check
		// can wait for a failed verification.
		a.strictJWS = true
	}
	if f, ok := a.cfg.Verifier.(forgetter); ok {
		a.caches = append(a.caches, f)
	}
	a.logoutTokens, _ = a.cfg.Verifier.(logoutTokenVerifier)
	a.adminActions, _ = a.cfg.Verifier.(adminActionVerifier)
	if is, ok := a.cfg.Verifier.(interface{ Issuer() string }); ok {
		a.adminIssuer = is.Issuer()
	}
	if a.adminIssuer == "" {
		a.adminIssuer = a.cfg.Issuer
	}
}

// readyRefreshInterval is the least time between two fetches Ready starts.
const readyRefreshInterval = 5 * time.Second

// requireKeys waits for the key set New built to hold a usable key.
func (a *Authenticator) requireKeys(ctx context.Context) error {
	if a.keys == nil {
		return fmt.Errorf("%w: RequireKeysAtStart needs the key set New builds from Config.Issuer (Config.Verifier nil); "+
			"with a Verifier of your own, refresh its key set (oidc.RemoteKeySet.Refresh) before New", ErrConfig)
	}
	if err := a.keysReady(ctx); err != nil {
		return fmt.Errorf("adapter: RequireKeysAtStart: %w", err)
	}
	return nil
}

// Ready reports whether the Authenticator can decide requests now, for a
// readiness probe: nil when it can, else an error that says what is
// missing. It checks
//
//   - discovery: done by New, which fails without it;
//   - the key set New built: it must hold at least one usable key within
//     its lifetime or stale-if-error window; when it holds none, Ready
//     fetches the JWKS (bounded by ctx; at most once per 5 seconds however
//     often Ready is called) before it answers, and fails with an error
//     wrapping oidc.ErrKeysUnavailable;
//   - the store: a degraded deny-list (Store().Health() says why) is not
//     an error while requests can still be decided, each one confirmed by
//     introspection; it is one, wrapping revocation.ErrUnavailable, when
//     there is no Introspector to do that (every request would get 503).
//
// A Verifier passed in Config is not looked into: check its key set
// yourself (oidc.RemoteKeySet.Refresh). Ready is cheap when all is well
// and safe to call from several goroutines.
func (a *Authenticator) Ready(ctx context.Context) error {
	var errs []error
	if a.keys != nil {
		errs = append(errs, a.keysReady(ctx))
	}
	if h := a.cfg.Store.Health(); h.Degraded && a.cfg.Introspector == nil && !a.cfg.Policy.UnsafeTrustDegradedStore {
		errs = append(errs, fmt.Errorf("%w: the deny-list is degraded (%s) and no Introspector can confirm tokens meanwhile: "+
			"set Config.ClientSecret or Config.Introspector", revocation.ErrUnavailable, h.Reason))
	}
	return errors.Join(errs...)
}

// keysReady checks that the key set New built holds a usable key, and
// fetches the JWKS when it holds none.
func (a *Authenticator) keysReady(ctx context.Context) error {
	usable := func() bool {
		st := a.keys.Stats()
		return st.Keys > 0 && !a.now().After(st.StaleUntil)
	}
	if usable() {
		return nil
	}
	now := a.now().UnixNano()
	last := a.readyFetch.Load()
	if now-last < int64(readyRefreshInterval) || !a.readyFetch.CompareAndSwap(last, now) {
		// A probe, or anyone who reaches it, must not turn into a stream of
		// fetches: the key set retries on its own meanwhile.
		why := "no usable signing key"
		if st := a.keys.Stats(); st.LastError != "" {
			why += ": " + st.LastError
		}
		return fmt.Errorf("%w: %s", oidc.ErrKeysUnavailable, why)
	}
	if err := a.keys.Refresh(ctx); err != nil {
		if errors.Is(err, oidc.ErrKeysUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %w", oidc.ErrKeysUnavailable, err)
	}
	if !usable() {
		return fmt.Errorf("%w: the JWKS holds no usable signing key", oidc.ErrKeysUnavailable)
	}
	return nil
}

// Store returns the deny-list the Authenticator checks and its handlers
// write.
func (a *Authenticator) Store() revocation.Store { return a.cfg.Store }

// Close closes what New built: the key set, the introspection cache and the
// private store. Parts passed in Config are left open. It is idempotent.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		for i := len(a.closers) - 1; i >= 0; i-- {
			errs = append(errs, a.closers[i]())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// logoutTokenVerifier verifies an OpenID Connect back-channel logout token.
// *oidc.Verifier and *oidc.MultiVerifier implement it.
type logoutTokenVerifier interface {
	VerifyLogoutToken(ctx context.Context, raw string) (*oidc.LogoutClaims, error)
}

// adminActionVerifier verifies the body of a Keycloak admin-URL request.
// *oidc.Verifier implements it (and checks the resource against its
// AdminResources: New sets Config.Audience and Config.Clients).
type adminActionVerifier interface {
	VerifyAdminAction(ctx context.Context, body string) (*oidc.AdminAction, error)
}

// forgetter is a cache that can drop a revoked token: *introspect.Cache,
// and the verified-token cache of the oidc verifiers.
type forgetter interface{ Forget(token string) }

// forget evicts token from the verifier's and the introspector's caches.
func (a *Authenticator) forget(token string) {
	for _, c := range a.caches {
		c.Forget(token)
	}
}

func (a *Authenticator) unavailable(reason Reason, err error) *AuthError {
	return &AuthError{Status: http.StatusServiceUnavailable, Code: codeTemporarilyUnavailable,
		Description: "temporarily unavailable", Reason: reason, RetryAfter: a.retry, Err: err}
}

// refuse counts and writes an RFC 6750 refusal.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, e *AuthError) {
	oc := OutcomeDeny
	if e.Status == http.StatusServiceUnavailable {
		oc = OutcomeUnavailable
	}
	a.metrics.Decision(oc, e.Reason)
	writeAuthError(w, r, &a.ch, a.cfg.ErrorWriter, e)
}

// fail counts and writes a JSON error for the handlers whose senders are
// not OAuth clients (back-channel logout, Keycloak admin).
func (a *Authenticator) fail(w http.ResponseWriter, status int, desc string, reason Reason) {
	oc, retry, code := OutcomeDeny, time.Duration(0), codeInvalidRequest
	if status == http.StatusServiceUnavailable {
		oc, retry, code, desc = OutcomeUnavailable, a.retry, codeTemporarilyUnavailable, "temporarily unavailable"
	}
	a.metrics.Decision(oc, reason)
	writeJSONError(w, status, code, desc, retry)
}

// succeed counts a handler's success and answers status with no body.
func (a *Authenticator) succeed(w http.ResponseWriter, status int) {
	a.metrics.Decision(OutcomeAllow, ReasonOK)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

func (a *Authenticator) event(r *http.Request, k AuditKind, reason Reason, c *oidc.Claims) AuditEvent {
	ev := AuditEvent{Kind: k, Reason: reason, Method: r.Method, RemoteAddr: r.RemoteAddr}
	if r.URL != nil {
		ev.Path = r.URL.Path
	}
	if c != nil {
		ev.Issuer, ev.Subject, ev.SessionID, ev.TokenID = c.Issuer, c.Subject, c.SessionID, c.ID
	}
	return ev
}

// mount returns h, first logging at error level what h lacks, if
// anything: the Config field to set.
func (a *Authenticator) mount(h http.Handler, missing string) http.Handler {
	if missing != "" {
		a.log.Error(missing)
	}
	return h
}

// accept answers 405 to anything but POST, and 503 while the handler lacks
// a prerequisite (logged at most once a second). It reports whether the
// handler goes on.
func (a *Authenticator) accept(w http.ResponseWriter, r *http.Request, missing string) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		a.fail(w, http.StatusMethodNotAllowed, "POST required", ReasonMalformedRequest)
		return false
	}
	if missing != "" {
		a.logLimited(r.Context(), slog.LevelError, missing)
		a.fail(w, http.StatusServiceUnavailable, "", ReasonNotConfigured)
		return false
	}
	return true
}

// refuseMessage answers a logout token or an admin message (about) that
// did not verify: 503 when the keys could not be had, else 400, logged
// with its explanation and audited as a failed verification whose Detail
// starts with detail.
func (a *Authenticator) refuseMessage(w http.ResponseWriter, r *http.Request, err error, raw, about, detail string) {
	ctx := r.Context()
	if !isTokenFault(err) {
		a.logLimited(ctx, slog.LevelWarn, "adapter: "+about+": keys unavailable", slog.String("error", err.Error()))
		a.fail(w, http.StatusServiceUnavailable, "", ReasonKeysUnavailable)
		return
	}
	e := &AuthError{Reason: ReasonInvalidToken, Err: err}
	a.explain(e, err, about)
	a.logRefusal(ctx, r, about, e, raw)
	ev := a.event(r, AuditVerificationFailed, ReasonInvalidToken, nil)
	ev.Detail = detail
	if x := e.explanation(); x != "" {
		ev.Detail += " " + x
	}
	a.audit.emit(ctx, ev)
	a.fail(w, http.StatusBadRequest, "invalid "+about, ReasonInvalidToken)
}
