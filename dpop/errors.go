package dpop

import (
	"strings"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// Error codes of an Error (RFC 9449 §7.1, §12.2; RFC 6750 §3.1).
const (
	codeInvalidProof = "invalid_dpop_proof"
	codeUseNonce     = "use_dpop_nonce"
	codeInvalidToken = "invalid_token"
)

// Error is a refused proof.
//
// Code is the error code to answer with: "invalid_dpop_proof" when the
// proof fails a check; "use_dpop_nonce" when it lacks the server's current
// nonce (answer with Verifier.Nonce in a DPoP-Nonce header, RFC 9449 §9);
// "invalid_token" when the proof is sound but its key is not the one the
// access token is bound to ("Invalid DPoP key binding", RFC 9449 §7.1).
//
// Check, Expected, Presented and Setting explain the refusal to an
// operator and are never meant for the client: Check names the failed
// check ("header", "typ", "alg", "jwk", "jkt", "sig", "claims", "jti",
// "htm", "htu", "iat", "ath", "nonce", "replay"); values copied from the
// proof are quoted, escaped and truncated. No proof or token text is
// included. Setting names the Config field that decides the check, where
// one does: "Algorithms" (alg), "ExternalURL" (htu), "MaxAge" (an iat too
// old), "Leeway" (an iat in the future), "NonceSecret" (nonce).
type Error struct {
	Code      string
	Check     string
	Expected  string
	Presented string
	Setting   string
	Err       error // the cause, such as a JOSE parsing error; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dpop: ")
	b.WriteString(e.Code)
	b.WriteString(": ")
	jose.WriteCheck(&b, e.Check, e.Expected, e.Presented)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// invalid returns an invalid_dpop_proof refusal.
func invalid(check, expected, presented string) *Error {
	return &Error{Code: codeInvalidProof, Check: check, Expected: expected, Presented: presented}
}
