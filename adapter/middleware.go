package adapter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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

// IntrospectionPolicy says when a locally verified token must also be
// introspected, and what to do when introspection fails. The zero value
// introspects only while the deny-list is degraded, and answers 503 when
// introspection fails. The triggers add up: any one that fires means
// introspection. An answer an introspect.Cache holds may be served for its
// bounded lifetime, also while the deny-list is degraded.
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

	// UnsafeAllowOnOutage lets the request through on local verification
	// alone when policy-driven introspection fails (the default answers
	// 503 with Retry-After): a token revoked at the authorization server
	// (and not deny-listed here) is then accepted until it expires. It
	// never applies while the deny-list is degraded.
	UnsafeAllowOnOutage bool

	// UnsafeTrustDegradedStore skips the introspection that a degraded
	// deny-list otherwise forces: while the store has not resynchronised,
	// a token revoked on another replica may be accepted here.
	UnsafeTrustDegradedStore bool
}

// Lightweight reports whether c looks like a Keycloak lightweight access
// token (client attribute client.use.lightweight.access.token.enabled):
// no sub, or neither realm nor client roles. Keycloak 26.7.3 gives such a
// token only azp, exp, iat, iss, jti, scope, sid and typ (plus aud with the
// audience mapper's lightweight.claim option); identity and roles then come
// from introspection. A token without sub is introspected whatever the
// policy says; Lightweight also catches one that a sub mapper completed.
func Lightweight(c *oidc.Claims) bool {
	return c.Subject == "" || len(c.RealmRoles) == 0 && len(c.ClientRoles) == 0
}

// MissingClaim returns a trigger for IntrospectionPolicy.When that fires when
// the token's payload lacks the top-level claim name. It scans the payload
// on every call: prefer Lightweight when it fits.
func MissingClaim(name string) func(*oidc.Claims) bool {
	return func(c *oidc.Claims) bool {
		return !readClaim(c, name, nil)
	}
}

// Middleware wraps next: only requests with a valid, unrevoked token that
// meets the configured requirements reach it, with the claims in the
// request context (FromContext). For every request it runs these steps;
// the first that fails answers, as AuthError describes:
//
//  1. RFC 6750 §2 extraction (Config.Extractor): the Authorization header
//     only by default, any case of "Bearer", exactly one b64token,
//     size-capped; a form-body token only when enabled; a query token only
//     with UnsafeAllowQueryToken; a token sent two ways is 400.
//  2. Local verification (Config.Verifier, e.g. *oidc.Verifier with its
//     verified-token cache).
//  3. The deny-list (Config.Store): jti, session, subject not-before,
//     issuer and client not-before, answered from memory.
//  4. Introspection when Config.Policy asks for it (always, per route,
//     older than a duration, lightweight tokens), always while the store
//     is degraded, and always for a token without sub (a Keycloak
//     lightweight access token: identity and roles come from the answer,
//     and the deny-list is asked again with them). An inactive answer
//     deny-lists the token (by jti, else by session, else by a digest of
//     its verified payload), so every replica and route learns it.
//  5. Requirements (Config.Require), then the claims into the request
//     context.
//
// Without introspection, a token revoked only at the authorization server
// (the app revoking its refresh token, an access token revoked over RFC
// 7009, a disabled user) is accepted until it expires: the provider sends
// no notification. Mount Introspected, or set IntrospectionPolicy, where
// that matters.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.handler(next, false)
}

// Introspected is Middleware that always introspects, for mounting on the
// routes where a revocation at the authorization server must be seen at
// once (the refresh token revoked by the app, a disabled user).
func (a *Authenticator) Introspected(next http.Handler) http.Handler {
	return a.handler(next, true)
}

// Require returns middleware, mounted inside Middleware per route, that
// lets a request through only when the claims Middleware stored in its
// context meet every one of reqs; otherwise it answers 403
// insufficient_scope (or 401 when the request was never authenticated),
// with the Authenticator's realm and error writer.
func (a *Authenticator) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return a.requireHandler(reqs)
}

func (a *Authenticator) handler(next http.Handler, forceIntrospect bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, proved, e := a.authenticate(r, forceIntrospect)
		if e != nil {
			a.refuse(w, r, e)
			return
		}
		if proved {
			a.offerNonce(w)
		}
		a.metrics.Decision(OutcomeAllow, ReasonOK)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

// Authenticate runs the pipeline on r without a handler: it returns the
// claims, or the refusal that Middleware would send. It does not count
// metrics.
func (a *Authenticator) Authenticate(r *http.Request) (*oidc.Claims, *AuthError) {
	c, _, e := a.authenticate(r, false)
	return c, e
}

// authenticate runs the pipeline. proved reports that the request came
// with a DPoP proof, which was accepted.
func (a *Authenticator) authenticate(r *http.Request, forceIntrospect bool) (c *oidc.Claims, proved bool, e *AuthError) {
	token, sch, err := a.cfg.Extractor.extract(r, !a.strictJWS)
	if err == nil {
		c, e = a.pipeline(r, token, sch, forceIntrospect)
	} else {
		e = extractError(err)
	}
	if e != nil {
		e.used, e.dpopOnly = sch, a.dpopRequired(r)
		return nil, false, e
	}
	return c, sch == schemeDPoP, nil
}

func (a *Authenticator) pipeline(r *http.Request, token string, sch scheme, forceIntrospect bool) (*oidc.Claims, *AuthError) {
	ctx := r.Context()
	if sch == schemeBearer && a.dpopRequired(r) {
		return nil, a.bearerRefused(r, token)
	}
	c, err := a.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		if a.strictJWS && !isB64Token(token) {
			return nil, extractError(errMalformedBearer)
		}
		return nil, a.verifyFailed(r, token, err)
	}

	// Deny-list: O(1), in memory.
	reason := a.cfg.Store.Check(tokenOf(c))
	degraded := a.cfg.Store.Degraded()
	a.metrics.StoreDegraded(degraded)
	if reason.Revoked() {
		return nil, a.revoked(r, c, reason)
	}

	// Introspection policy. A token without sub (a Keycloak lightweight
	// access token) names nobody: it is never passed on with an empty
	// identity, nor with the empty roles it carries. A DPoP request whose
	// token lacks cnf.jkt asks the introspector for the binding.
	local := c
	mustDegraded := degraded && !a.cfg.Policy.UnsafeTrustDegradedStore
	anonymous := c.Subject == ""
	needCnf := sch == schemeDPoP && jktOf(c) == "" && a.cfg.Introspector != nil
	if mustDegraded || anonymous || forceIntrospect || needCnf || a.policyWants(r, c) {
		ic, e := a.introspect(r, token, c, mustDegraded || anonymous)
		if e != nil {
			return nil, e
		}
		if ic.Subject == "" {
			a.logLimited(ctx, slog.LevelInfo, "adapter: access token refused: no sub, neither in the token nor in the introspection answer")
			return nil, &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
				Description: "invalid token", Reason: ReasonInvalidToken}
		}
		if ic != c {
			// The answer may name what the token did not (its sub): the
			// deny-list is asked again, so that a revocation of the user
			// reaches a lightweight token too.
			if m := a.cfg.Store.Check(tokenOf(ic)); m.Revoked() {
				return nil, a.revoked(r, ic, m)
			}
		}
		c = ic
	}

	// Sender constraint: a bound token only with its proof, last before
	// the requirements so that only a proof for an acceptable token is
	// recorded.
	if sch == schemeDPoP || bound(local) || bound(c) {
		if e := a.bind(r, token, sch, local, c); e != nil {
			return nil, e
		}
	}

	if a.hasReq {
		if e := a.require.check(c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

// verifyFailed returns the refusal of a token the verifier did not accept:
// explained, logged and audited when the token is at fault, logged as an
// outage when the keys could not be had.
func (a *Authenticator) verifyFailed(r *http.Request, token string, err error) *AuthError {
	ctx := r.Context()
	e := verifyError(err)
	e.RetryAfter = a.retry
	if e.Status != http.StatusUnauthorized {
		a.logLimited(ctx, slog.LevelWarn, "adapter: token verification unavailable", slog.String("error", err.Error()))
		return e
	}
	a.explain(e, err, aboutAccessToken)
	a.refused(r, aboutAccessToken, e, token, nil)
	return e
}

// revoked audits a deny-listed token and returns its refusal.
func (a *Authenticator) revoked(r *http.Request, c *oidc.Claims, m revocation.Match) *AuthError {
	if a.audit != nil {
		ev := a.event(r, AuditRevokedTokenPresented, ReasonRevoked, c)
		ev.Detail = m.String()
		a.audit.emit(r.Context(), ev)
	}
	return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
		Description: "token revoked", Reason: ReasonRevoked}
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
		switch {
		case local.Subject == "":
			a.logLimited(ctx, slog.LevelError, "adapter: access token without sub (a Keycloak lightweight access token) "+
				"refused: set Config.ClientSecret (or Config.Introspector) so that it is introspected, "+
				"or give the client a sub mapper with lightweight.claim")
		case !strict:
			a.logLimited(ctx, slog.LevelError, "adapter: the introspection policy fired but no Introspector is configured: set Config.ClientSecret or Config.Introspector")
		}
		return nil, a.unavailable(ReasonNotConfigured, nil)
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
			return nil, &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
				Description: "invalid token", Reason: ReasonInactive}
		}
		return ic, nil
	case errors.Is(err, introspect.ErrInactive), errors.Is(err, introspect.ErrRejected):
		a.metrics.Introspection("inactive", d)
		// Every replica, and every route that does not introspect, learns
		// it through the deny-list. The introspector's negative entry stays:
		// it answers the next request should the deny-list have failed.
		if rerr := a.denyInactive(ctx, local); rerr != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "adapter: could not deny-list an inactive token", slog.String("error", rerr.Error()))
		}
		a.audit.emit(ctx, a.event(r, AuditInactiveToken, ReasonInactive, local))
		return nil, &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "token revoked", Reason: ReasonInactive, Err: err}
	default:
		a.metrics.Introspection("error", d)
		a.logLimited(ctx, slog.LevelWarn, "adapter: introspection failed", slog.String("error", err.Error()))
		if !strict && a.cfg.Policy.UnsafeAllowOnOutage {
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

// denyInactive deny-lists a verified token that the introspector reported
// inactive: by (iss, jti); without jti by its session, up to its iat (the
// token and the session's earlier ones: Keycloak answers inactive for
// every token of an ended session); without either by (iss, the digest of
// its verified payload) that tokenOf puts in place of the jti. A Claims
// without its payload (from a custom verifier that does not keep it)
// cannot be keyed: the introspector's negative entry is all there is.
func (a *Authenticator) denyInactive(ctx context.Context, c *oidc.Claims) error {
	t := tokenOf(c)
	switch {
	case c.ID == "" && t.SessionID != "":
		at := c.IssuedAt
		if at.IsZero() {
			at = a.now() // the store refuses every token of the session without iat anyway
		}
		return a.cfg.Store.RevokeSession(ctx, c.Issuer, t.SessionID, at)
	case t.ID == "":
		return errors.New("adapter: the token has neither jti nor sid, and the verifier kept no payload to digest")
	}
	return a.cfg.Store.RevokeToken(ctx, c.Issuer, t.ID, c.Expiry)
}

// extractError maps an extraction failure to its RFC 6750 answer.
func extractError(err error) *AuthError {
	switch {
	case errors.Is(err, errNoCredentials):
		return &AuthError{Status: http.StatusUnauthorized, Reason: ReasonNoCredentials, Err: err}
	case errors.Is(err, errMultipleTokens):
		return &AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: "token sent more than once", Reason: ReasonMultipleTokens, Err: err}
	case errors.Is(err, errTokenTooLarge):
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "token too large", Reason: ReasonTokenTooLarge, Err: err}
	case errors.Is(err, errBodyTooLarge):
		return &AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: "request body too large", Reason: ReasonMalformedRequest, Err: err}
	default:
		return &AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: "malformed authorization", Reason: ReasonMalformedRequest, Err: err}
	}
}

// verifyError maps a verification failure: a failed check is 401
// invalid_token; keys that cannot be had are 503.
func verifyError(err error) *AuthError {
	switch {
	case errors.Is(err, oidc.ErrExpired):
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "token expired", Reason: ReasonExpired, Err: err}
	case isTokenFault(err):
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "invalid token", Reason: ReasonInvalidToken, Err: err}
	default:
		return &AuthError{Status: http.StatusServiceUnavailable, Code: codeTemporarilyUnavailable,
			Description: "authorization temporarily unavailable", Reason: ReasonKeysUnavailable, Err: err}
	}
}
