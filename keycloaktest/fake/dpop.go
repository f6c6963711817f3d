package fake

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
)

// DPoP (RFC 9449) as Keycloak 26 serves it: a token request with a DPoP
// proof gets tokens bound to the proof's key, whatever the client (access
// and refresh token typ "DPoP"/"Refresh" with cnf {"jkt", "kc-jkt-type":
// "DPoP"}, token_type "DPoP"); a client with dpop.bound.access.tokens
// (Client.DPoP) must send one; a bound refresh token is refreshed, and
// ends the session at the logout endpoint, only with a proof by its key;
// the revocation endpoint takes it without one; userinfo wants a bound
// access token with "Authorization: DPoP" and a proof.

// replay is the fake's record of the proofs it accepted.
type replay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	now  func() time.Time
}

func (r *replay) SeenOnce(_ context.Context, _, jti string, exp time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for k, e := range r.seen {
		if e.Before(now) {
			delete(r.seen, k)
		}
	}
	if _, ok := r.seen[jti]; ok {
		return false, nil
	}
	r.seen[jti] = exp
	return true, nil
}

func newProofVerifier(now func() time.Time) *dpop.Verifier {
	v, err := dpop.NewVerifier(dpop.Config{Replay: &replay{seen: map[string]time.Time{}, now: now}, Now: now})
	if err != nil {
		panic(err) // a constant configuration
	}
	return v
}

// dpopAlgs is Keycloak's dpop_signing_alg_values_supported, in its order.
var dpopAlgs = []string{"PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256", "PS512", "RS512"}

// errNoProof is Keycloak's answer to a token request that lacks the proof
// it needs.
var errNoProof = oerr(http.StatusBadRequest, "invalid_request", "DPoP proof is missing")

// proofOf checks the DPoP proof of a token-endpoint request (no access
// token) and returns its key's thumbprint, "" when there is none. A bad
// proof is answered as Keycloak words it.
func (k *Keycloak) proofOf(r *http.Request) (string, *oauthError) {
	if len(r.Header["Dpop"]) == 0 {
		return "", nil
	}
	p, err := k.proofs.Verify(r.Context(), r, "", "")
	if err != nil {
		return "", proofError(err)
	}
	return p.JKT, nil
}

func proofError(err error) *oauthError {
	desc := "DPoP proof is not valid"
	var e *dpop.Error
	if errors.As(err, &e) {
		switch e.Check {
		case "htu":
			desc = "DPoP HTTP URL mismatch"
		case "htm":
			desc = "DPoP HTTP method mismatch"
		case "replay":
			desc = "DPoP proof has already been used"
		case "iat":
			desc = "DPoP proof is not active"
		}
	}
	return oerr(http.StatusBadRequest, "invalid_request", desc)
}

// cnf is the confirmation claim Keycloak writes into a bound token.
func cnf(jkt string) *object {
	return newObject().set("jkt", jkt).set("kc-jkt-type", "DPoP")
}

// boundTo returns the cnf.jkt of a token, or "".
func boundTo(j *jws) string {
	v, _ := j.claims.get("cnf")
	switch c := v.(type) {
	case *object:
		return c.str("jkt")
	case map[string]any:
		s, _ := c["jkt"].(string)
		return s
	}
	return ""
}

// checkRefreshProof applies Keycloak's rule for a bound refresh token: a
// proof by its key.
func checkRefreshProof(j *jws, jkt string, missing *oauthError) *oauthError {
	bound := boundTo(j)
	switch {
	case bound == "":
		return nil
	case jkt == "":
		return missing
	case jkt != bound:
		return oerr(http.StatusBadRequest, "invalid_grant", "DPoP confirmation doesn't match DPoP proof")
	}
	return nil
}
