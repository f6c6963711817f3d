package adapter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// DPoPPolicy says where access tokens must be sender-constrained with DPoP
// (RFC 9449), and how the proofs that accompany them are checked.
//
// Whatever the policy, a request with "Authorization: DPoP <token>" passes
// only with exactly one DPoP header holding a valid proof (package dpop)
// whose key's thumbprint is the token's cnf.jkt (under introspection, the
// answer's), and a token bound to a key (cnf.jkt, or Keycloak's payload
// typ "DPoP") sent as Bearer is refused (401 invalid_token, RFC 9449 §7.2):
// a copied token is useless without the key. The zero value also lets
// Bearer tokens without a binding through ("allow"); Require and Route
// refuse them.
type DPoPPolicy struct {
	// Require refuses Bearer tokens on every route: only DPoP-bound tokens
	// with their proofs pass, and challenges offer DPoP alone.
	Require bool
	// Route requires DPoP for the requests for which it returns true (for
	// example a path prefix); other routes follow Require. It runs before
	// the token is read, on the request as the middleware sees it.
	Route func(*http.Request) bool
	// Proof configures proof verification: the allowed algorithms, the iat
	// window, the API's external URL (set it behind a proxy: a proof's htu
	// is compared with it), server nonces. A nil Proof.Replay means Store
	// (a Redis store refuses a proof replayed on another replica, at the
	// cost of one Redis round trip per DPoP request); a nil Proof.Now
	// means Config.Now.
	Proof dpop.Config
}

// useDPoP builds the proof verifier; the Store is resolved by then.
func (a *Authenticator) useDPoP() error {
	pc := a.cfg.DPoP.Proof
	if pc.Replay == nil {
		pc.Replay = a.cfg.Store
	}
	if pc.Now == nil {
		pc.Now = a.cfg.Now
	}
	v, err := dpop.NewVerifier(pc)
	if err != nil {
		return fmt.Errorf("%w: DPoP.Proof: %w", ErrConfig, err)
	}
	a.dpop = v
	a.ch.algs = strings.Join(v.Algorithms(), " ")
	return nil
}

// dpopRequired reports whether the route of r refuses Bearer tokens.
func (a *Authenticator) dpopRequired(r *http.Request) bool {
	p := &a.cfg.DPoP
	return p.Require || p.Route != nil && p.Route(r)
}

// jktOf returns the thumbprint a token is bound to, or "".
func jktOf(c *oidc.Claims) string {
	if c == nil || c.Confirmation == nil {
		return ""
	}
	return c.Confirmation.JKT
}

// bound reports whether c is a sender-constrained token: cnf.jkt, or the
// payload typ "DPoP" with which Keycloak marks every DPoP-bound token.
func bound(c *oidc.Claims) bool {
	return c != nil && (jktOf(c) != "" || c.Type == "DPoP")
}

// bind enforces the binding of a verified token to the request's scheme:
// a bound token only with DPoP and a valid proof by its key, and no Bearer
// token where the route requires DPoP. local is the token's verified
// claims, c the claims in use (the introspection answer's when there was
// one).
func (a *Authenticator) bind(r *http.Request, token string, sch scheme, local, c *oidc.Claims) *AuthError {
	jkt := jktOf(c)
	if lj := jktOf(local); jkt == "" {
		jkt = lj
	} else if lj != "" && lj != jkt {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "adapter: the introspection answer's cnf.jkt differs from the token's")
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "invalid token", Reason: ReasonInvalidToken}
	}
	isBound := jkt != "" || bound(local) || bound(c)
	if sch != schemeDPoP {
		if !isBound {
			return nil // dpopRequired was answered before verification
		}
		a.dpopRefused(r, c, ReasonDPoPRequired, "token bound to a DPoP key sent as Bearer")
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "DPoP-bound token sent as Bearer", Reason: ReasonDPoPRequired}
	}
	if jkt == "" {
		why := "token is not DPoP-bound"
		if isBound {
			why = "token has typ DPoP but no cnf.jkt"
		}
		a.dpopRefused(r, c, ReasonInvalidToken, why)
		return &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "token is not DPoP-bound", Reason: ReasonInvalidToken}
	}
	if _, err := a.dpop.Verify(r.Context(), r, token, jkt); err != nil {
		return a.proofError(r, c, err)
	}
	return nil
}

// dpopSetting names the Config field that decides a proof check, for the
// operator's log; "" when none does.
func dpopSetting(check string) string {
	switch check {
	case "htu":
		return "adapter.Config.DPoP.Proof.ExternalURL"
	case "alg":
		return "adapter.Config.DPoP.Proof.Algorithms"
	case "iat":
		return "adapter.Config.DPoP.Proof.MaxAge and Leeway"
	case "nonce":
		return "adapter.Config.DPoP.Proof.NonceSecret"
	}
	return ""
}

// proofError maps a refusal of dpop.Verifier.Verify, logs its explanation
// (at info when a setting decides it, else at debug; rate-limited) and
// audits it.
func (a *Authenticator) proofError(r *http.Request, c *oidc.Claims, err error) *AuthError {
	ctx := r.Context()
	var de *dpop.Error
	if !errors.As(err, &de) {
		a.logLimited(ctx, slog.LevelWarn, "adapter: DPoP replay store unavailable", slog.String("error", err.Error()))
		return a.unavailable(ReasonStoreUnavailable, err)
	}
	e := &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidDPoPProof,
		Description: "invalid DPoP proof", Reason: ReasonInvalidDPoPProof, Err: err}
	switch de.Code {
	case codeUseDPoPNonce:
		e.Code, e.Description, e.Reason, e.nonce = codeUseDPoPNonce, "DPoP nonce required", ReasonUseDPoPNonce, a.dpop.Nonce()
	case codeInvalidToken:
		e.Code, e.Description = codeInvalidToken, "invalid DPoP key binding"
	}
	setting := dpopSetting(de.Check)
	level := slog.LevelDebug
	if setting != "" && de.Code != codeUseDPoPNonce {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("check", de.Check), slog.String("expected", de.Expected),
		slog.String("presented", de.Presented)}
	if setting != "" {
		attrs = append(attrs, slog.String("setting", setting))
	}
	if de.Err != nil {
		attrs = append(attrs, slog.String("cause", de.Err.Error()))
	}
	if a.log.Enabled(ctx, level) {
		a.logLimited(ctx, level, "adapter: DPoP proof refused", attrs...)
	}
	if e.Reason != ReasonUseDPoPNonce {
		ev := a.event(r, AuditVerificationFailed, e.Reason, c)
		ev.Detail = strings.TrimPrefix(de.Error(), "dpop: ")
		a.audit.emit(ctx, ev)
	}
	return e
}

// dpopRefused logs and audits a refusal of the token's binding.
func (a *Authenticator) dpopRefused(r *http.Request, c *oidc.Claims, reason Reason, why string) {
	ctx := r.Context()
	if a.log.Enabled(ctx, slog.LevelDebug) {
		a.logLimited(ctx, slog.LevelDebug, "adapter: access token refused: "+why)
	}
	ev := a.event(r, AuditVerificationFailed, reason, c)
	ev.Detail = why
	a.audit.emit(ctx, ev)
}

// offerNonce sends the current server nonce, when nonces are on, with a
// successful answer to a DPoP request (RFC 9449 §9): a client that keeps
// it is not refused when the nonce rotates.
func (a *Authenticator) offerNonce(w http.ResponseWriter) {
	if n := a.dpop.Nonce(); n != "" {
		w.Header().Set("DPoP-Nonce", n)
	}
}
