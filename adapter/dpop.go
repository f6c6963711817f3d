package adapter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/internal/jose"
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
		presented := `typ "DPoP"`
		if jkt != "" {
			presented = "cnf.jkt " + jose.QuoteN(jkt, 64)
		}
		e := &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "DPoP-bound token sent as Bearer", Reason: ReasonDPoPRequired,
			Check: "cnf", Expected: "no key binding with the Bearer scheme", Presented: presented}
		a.refused(r, aboutAccessToken, e, token, c)
		return e
	}
	if jkt == "" {
		presented := "none"
		if isBound {
			presented = `typ "DPoP" without cnf.jkt`
		}
		e := &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
			Description: "token is not DPoP-bound", Reason: ReasonInvalidToken,
			Check: "cnf", Expected: "cnf.jkt with the DPoP scheme", Presented: presented}
		a.refused(r, aboutAccessToken, e, token, c)
		return e
	}
	if _, err := a.dpop.Verify(r.Context(), r, token, jkt); err != nil {
		return a.proofError(r, token, c, err)
	}
	return nil
}

// bearerRefused returns the refusal of a Bearer token on a route that
// requires DPoP, explained, logged and audited like any refused token.
func (a *Authenticator) bearerRefused(r *http.Request, token string) *AuthError {
	setting := "adapter.Config.DPoP.Require"
	if !a.cfg.DPoP.Require {
		setting = "adapter.Config.DPoP.Route"
	}
	e := &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidToken,
		Description: "DPoP-bound token required", Reason: ReasonDPoPRequired,
		Check: "scheme", Expected: `"DPoP"`, Presented: `"Bearer"`, Setting: setting}
	a.refused(r, aboutAccessToken, e, token, nil)
	return e
}

// proofError maps a refusal of dpop.Verifier.Verify to its answer, with
// the explanation of the *dpop.Error, and logs and audits it as every
// refused token is (a missing nonce, the protocol's normal first step, is
// not audited).
func (a *Authenticator) proofError(r *http.Request, token string, c *oidc.Claims, err error) *AuthError {
	ctx := r.Context()
	var de *dpop.Error
	if !errors.As(err, &de) {
		a.logLimited(ctx, slog.LevelWarn, "adapter: DPoP replay store unavailable", slog.String("error", err.Error()))
		return a.unavailable(ReasonStoreUnavailable, err)
	}
	e := &AuthError{Status: http.StatusUnauthorized, Code: codeInvalidDPoPProof,
		Description: "invalid DPoP proof", Reason: ReasonInvalidDPoPProof, Err: err,
		Check: de.Check, Expected: de.Expected, Presented: de.Presented}
	if e.Presented == "" && de.Err != nil {
		// The cause says what was wrong with the proof (a short, fixed
		// text without proof bytes): a key too small, a segment not
		// base64url.
		e.Presented = de.Err.Error()
	}
	if de.Setting != "" {
		e.Setting = "adapter.Config.DPoP.Proof." + de.Setting
	}
	switch de.Code {
	case codeUseDPoPNonce:
		e.Code, e.Description, e.Reason, e.nonce = codeUseDPoPNonce, "DPoP nonce required", ReasonUseDPoPNonce, a.dpop.Nonce()
		a.logRefusal(ctx, r, aboutDPoPProof, e, token)
		return e
	case codeInvalidToken:
		e.Code, e.Description = codeInvalidToken, "invalid DPoP key binding"
	}
	a.refused(r, aboutDPoPProof, e, token, c)
	return e
}

// offerNonce sends the current server nonce, when nonces are on, with a
// successful answer to a DPoP request (RFC 9449 §9): a client that keeps
// it is not refused when the nonce rotates.
func (a *Authenticator) offerNonce(w http.ResponseWriter) {
	if n := a.dpop.Nonce(); n != "" {
		w.Header().Set("DPoP-Nonce", n)
	}
}
