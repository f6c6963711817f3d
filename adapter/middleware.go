package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// TokenVerifier verifies an access token locally (signature, issuer,
// audience, type, lifetime) and returns its claims. *oidc.Verifier and
// *oidc.MultiVerifier satisfy it; errors wrap the oidc sentinels.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*oidc.Claims, error)
}

// OutagePolicy says what to do when introspection was required and the
// authorization server could not answer.
type OutagePolicy int

const (
	// RejectOnOutage answers 503 with Retry-After. It is the default.
	RejectOnOutage OutagePolicy = iota
	// UnsafeAllowOnOutage lets the request through on local verification
	// alone when policy-driven introspection fails: a token revoked at the
	// authorization server (and not deny-listed here) is accepted until it
	// expires. It never applies while the deny-list is degraded.
	UnsafeAllowOnOutage
)

// IntrospectionPolicy says when a locally verified token must also be
// introspected. The zero value introspects only while the deny-list is
// degraded. The triggers add up: any one that fires means introspection.
type IntrospectionPolicy struct {
	// Always introspects every request.
	Always bool
	// Route introspects requests for which it returns true (for example a
	// path prefix of sensitive routes). It runs before the handler, on the
	// request as the middleware sees it.
	Route func(*http.Request) bool
	// OlderThan introspects tokens issued more than this long ago (by iat).
	// A token without iat counts as old.
	OlderThan time.Duration
	// When introspects tokens for which it returns true, e.g. Lightweight
	// or MissingClaim("realm_access").
	When func(*oidc.Claims) bool

	// UnsafeTrustDegradedStore skips the introspection that a degraded
	// deny-list otherwise forces: while the store has not resynchronised,
	// a token revoked on another replica may be accepted here.
	UnsafeTrustDegradedStore bool
}

// Lightweight reports whether c looks like a Keycloak lightweight access
// token: no realm roles, no client roles and no scope. Roles then come only
// from introspection.
func Lightweight(c *oidc.Claims) bool {
	return len(c.RealmRoles) == 0 && len(c.ClientRoles) == 0 && c.Scope == ""
}

// MissingClaim returns a trigger for IntrospectionPolicy.When that fires when
// the token's payload lacks the top-level claim name. It decodes the payload
// on every call: prefer Lightweight when it fits.
func MissingClaim(name string) func(*oidc.Claims) bool {
	return func(c *oidc.Claims) bool {
		var m map[string]jsonRaw
		if err := c.Decode(&m); err != nil {
			return true
		}
		_, ok := m[name]
		return !ok
	}
}

// Config configures the middleware. Only Verifier is required;
// every other zero value is a safe default.
type Config struct {
	// Verifier verifies tokens locally. Required.
	Verifier TokenVerifier
	// Store is the deny-list checked for every verified token: a Redis
	// store for replicas. Nil means a private revocation Memory store
	// (one process only), which Close closes; Store() returns it so the
	// handlers of this package can share it. A store passed in is not
	// closed by the Authenticator.
	Store revocation.Store
	// Introspector is consulted when Policy asks for it; use an
	// *introspect.Cache in front of an *introspect.Client. Without one, a
	// request that needs introspection is answered 503. An inactive answer
	// deny-lists the token's jti in Store, so every replica learns it.
	Introspector introspect.Introspector
	// Policy says when to introspect.
	Policy IntrospectionPolicy
	// IntrospectionOutage is the policy when introspection fails.
	IntrospectionOutage OutagePolicy

	// Extractor configures RFC 6750 token extraction; the zero value reads
	// the Authorization header only.
	Extractor Extractor
	// Require lists requirements every request must meet (403
	// insufficient_scope otherwise). Per-route requirements: Require.
	Require []Requirement

	// Realm is the realm of the WWW-Authenticate challenge; default "api".
	Realm string
	// ErrorWriter writes refusal bodies; nil means WriteJSONError.
	ErrorWriter ErrorWriter
	// RetryAfter is sent with 503 answers; zero means 5 seconds.
	RetryAfter time.Duration

	// Logger receives operational messages (never a token); nil discards.
	Logger *slog.Logger
	// Metrics receives counters; nil means NopMetrics.
	Metrics Metrics
	// Audit receives security events, at most AuditRate per second with
	// bursts of AuditBurst (defaults 10 and 50); nil disables auditing.
	Audit      AuditFunc
	AuditRate  float64
	AuditBurst int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator is the request pipeline: RFC 6750 extraction, local
// verification (with the verifier's cache), the deny-list, policy-driven
// introspection, requirements, and the claims in the request context. It
// is safe for concurrent use. Close it when it owns its store.
type Authenticator struct {
	common
	lastLog   atomic.Int64 // unix nanoseconds of the last outage log line
	cfg       Config
	strictJWS bool // the verifier accepts only canonical base64url JWS
	require   Requirement
	hasReq    bool
	ownsStore bool
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("adapter: invalid configuration")

// New checks cfg and returns an Authenticator. cfg is copied.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Verifier == nil {
		return nil, fmt.Errorf("%w: Verifier is required", ErrConfig)
	}
	a := &Authenticator{cfg: cfg}
	switch cfg.Verifier.(type) {
	case *oidc.Verifier, *oidc.MultiVerifier:
		// These reject any token that is not three canonical base64url
		// segments, a subset of RFC 6750's b64token: the alphabet check
		// can wait for a failed verification.
		a.strictJWS = true
	}
	if cfg.Store == nil {
		a.cfg.Store = revocation.NewMemory(revocation.Config{Now: cfg.Now, Logger: cfg.Logger})
		a.ownsStore = true
	}
	a.common = newCommon(cfg.Realm, cfg.ErrorWriter, cfg.RetryAfter, cfg.Logger, cfg.Metrics, cfg.Audit, cfg.AuditRate, cfg.AuditBurst, cfg.Now)
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

// Store returns the deny-list the Authenticator checks, for the logout,
// back-channel logout and Keycloak admin handlers.
func (a *Authenticator) Store() revocation.Store { return a.cfg.Store }

// Close closes the store when the Authenticator created it (Config.Store
// was nil). It is idempotent.
func (a *Authenticator) Close() error {
	if a.ownsStore {
		return a.cfg.Store.Close()
	}
	return nil
}

// Middleware returns the pipeline of a new Authenticator as net/http
// middleware. Config.Store must be set: nobody could close a private one.
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Middleware needs Config.Store (or use New and Close)", ErrConfig)
	}
	a, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return a.Middleware, nil
}

// Middleware wraps next: only requests with a valid, unrevoked token that
// meets the configured requirements reach it, with the claims in the
// request context (FromContext).
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.handler(next, false)
}

// Introspected is Middleware that always introspects, for mounting on the
// routes where a revocation at the authorization server must be seen at
// once (the refresh token revoked by the app, a disabled user).
func (a *Authenticator) Introspected(next http.Handler) http.Handler {
	return a.handler(next, true)
}

// Require returns middleware enforcing reqs on requests that passed the
// Authenticator, with its realm and error writer.
func (a *Authenticator) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return Require(a.realm, a.cfg.ErrorWriter, reqs...)
}

func (a *Authenticator) handler(next http.Handler, forceIntrospect bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, e := a.authenticate(r, forceIntrospect)
		if e != nil {
			a.refuse(w, r, e)
			return
		}
		a.metrics.Decision(OutcomeAllow, ReasonOK)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

// Authenticate runs the pipeline on r without a handler: it returns the
// claims, or the refusal that Middleware would send. It does not count
// metrics.
func (a *Authenticator) Authenticate(r *http.Request) (*oidc.Claims, *AuthError) {
	return a.authenticate(r, false)
}

func (a *Authenticator) authenticate(r *http.Request, forceIntrospect bool) (*oidc.Claims, *AuthError) {
	token, err := a.cfg.Extractor.extract(r, !a.strictJWS)
	if err != nil {
		return nil, extractError(err)
	}
	ctx := r.Context()
	c, err := a.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		if a.strictJWS && !isB64Token(token) {
			return nil, extractError(ErrMalformedBearer)
		}
		e := verifyError(err)
		e.RetryAfter = a.retry
		if e.Status == http.StatusUnauthorized {
			a.audit.emit(ctx, a.event(r, AuditVerificationFailed, e.Reason, nil))
		} else {
			a.logLimited(ctx, slog.LevelWarn, "adapter: token verification unavailable", slog.String("error", err.Error()))
		}
		return nil, e
	}

	// Deny-list: O(1), in memory.
	reason := a.cfg.Store.Check(TokenOf(c))
	degraded := a.cfg.Store.Degraded()
	a.metrics.StoreDegraded(degraded)
	if reason.Revoked() {
		if a.audit != nil {
			ev := a.event(r, AuditRevokedTokenPresented, ReasonRevoked, c)
			ev.Detail = reason.String()
			a.audit.emit(ctx, ev)
		}
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "token revoked", Reason: ReasonRevoked}
	}

	// Introspection policy.
	mustDegraded := degraded && !a.cfg.Policy.UnsafeTrustDegradedStore
	if mustDegraded || forceIntrospect || a.policyWants(r, c) {
		ic, e := a.introspect(r, token, c, mustDegraded)
		if e != nil {
			return nil, e
		}
		c = ic
	}

	if a.hasReq {
		if e := a.require.check(c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

func (a *Authenticator) policyWants(r *http.Request, c *oidc.Claims) bool {
	p := &a.cfg.Policy
	switch {
	case p.Always:
		return true
	case p.Route != nil && p.Route(r):
		return true
	case p.OlderThan > 0 && (c.IssuedAt.IsZero() || a.now().Sub(c.IssuedAt) > p.OlderThan):
		return true
	case p.When != nil && p.When(c):
		return true
	}
	return false
}

// introspect asks the introspector and returns the claims to use. strict
// means the deny-list cannot be trusted, so no outage policy applies.
func (a *Authenticator) introspect(r *http.Request, token string, local *oidc.Claims, strict bool) (*oidc.Claims, *AuthError) {
	ctx := r.Context()
	if a.cfg.Introspector == nil {
		// Never fail open: without an introspector a token that needs
		// confirmation cannot be confirmed.
		if !strict {
			a.logLimited(ctx, slog.LevelError, "adapter: the introspection policy fired but no Introspector is configured")
		}
		return nil, a.unavailable(ReasonNoIntrospector, nil)
	}
	start := a.now()
	res, err := a.cfg.Introspector.Introspect(ctx, token, "access_token")
	d := a.now().Sub(start)
	switch {
	case err == nil:
		a.metrics.Introspection("active", d)
		if res == nil || res.Claims == nil {
			return local, nil
		}
		ic := res.Claims
		if !sameToken(local, ic) {
			a.log.LogAttrs(ctx, slog.LevelWarn, "adapter: introspection answer does not match the verified token")
			return nil, &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
				Description: "invalid token", Reason: ReasonInactive}
		}
		return ic, nil
	case errors.Is(err, introspect.ErrInactive), errors.Is(err, introspect.ErrRejected):
		a.metrics.Introspection("inactive", d)
		// Every replica learns through the deny-list; drop cached results.
		if rerr := a.denyToken(ctx, local); rerr != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "adapter: could not deny-list an inactive token", slog.String("error", rerr.Error()))
		}
		a.forget(token)
		a.audit.emit(ctx, a.event(r, AuditInactiveToken, ReasonInactive, local))
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "token revoked", Reason: ReasonInactive, Err: err}
	default:
		a.metrics.Introspection("error", d)
		a.logLimited(ctx, slog.LevelWarn, "adapter: introspection failed", slog.String("error", err.Error()))
		if !strict && a.cfg.IntrospectionOutage == UnsafeAllowOnOutage {
			return local, nil
		}
		return nil, a.unavailable(ReasonIntrospectionDown, err)
	}
}

// sameToken checks that an introspection answer describes the locally
// verified token.
func sameToken(local, ic *oidc.Claims) bool {
	eq := func(a, b string) bool { return a == "" || b == "" || a == b }
	return eq(local.Issuer, ic.Issuer) && eq(local.Subject, ic.Subject) && eq(local.ID, ic.ID)
}

// forget evicts token from the verifier's and the introspector's caches.
func (a *Authenticator) forget(token string) {
	forget(a.cfg.Verifier, token)
	if a.cfg.Introspector != nil {
		forget(a.cfg.Introspector, token)
	}
}

// denyToken deny-lists c by (iss, jti). A token without jti cannot be
// keyed alone: it is left to the introspector's negative cache.
func (a *Authenticator) denyToken(ctx context.Context, c *oidc.Claims) error {
	if c.ID == "" {
		return nil
	}
	return a.cfg.Store.RevokeToken(ctx, c.Issuer, c.ID, c.Expiry)
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

// extractError maps an extraction failure to its RFC 6750 answer.
func extractError(err error) *AuthError {
	switch {
	case errors.Is(err, ErrNoCredentials):
		return &AuthError{Status: http.StatusUnauthorized, Reason: ReasonNoCredentials, Err: err}
	case errors.Is(err, ErrMultipleTokens):
		return &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "token sent more than once", Reason: ReasonMultipleTokens, Err: err}
	case errors.Is(err, ErrTokenTooLarge):
		return &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "token too large", Reason: ReasonTokenTooLarge, Err: err}
	case errors.Is(err, ErrBodyTooLarge):
		return &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "request body too large", Reason: ReasonMalformedRequest, Err: err}
	default:
		return &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "malformed authorization", Reason: ReasonMalformedRequest, Err: err}
	}
}

// verifyError maps a verification failure: a failed check is 401
// invalid_token; keys that cannot be had are 503.
func verifyError(err error) *AuthError {
	switch {
	case errors.Is(err, oidc.ErrExpired):
		return &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "token expired", Reason: ReasonExpired, Err: err}
	case isTokenFault(err):
		return &AuthError{Status: http.StatusUnauthorized, Code: CodeInvalidToken,
			Description: "invalid token", Reason: ReasonInvalidToken, Err: err}
	default:
		return &AuthError{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
			Description: "authorization temporarily unavailable", Reason: ReasonKeysUnavailable, Err: err}
	}
}

// logLimited logs an outage message at most once a second: an outage
// touches every request, and one line says it.
func (a *Authenticator) logLimited(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	now := a.now().UnixNano()
	last := a.lastLog.Load()
	if now-last < int64(time.Second) || !a.lastLog.CompareAndSwap(last, now) {
		return
	}
	a.log.LogAttrs(ctx, level, msg, attrs...)
}
