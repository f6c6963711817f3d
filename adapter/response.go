package adapter

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RFC 6750 §3.1 error codes, and the one this package adds for 503 bodies.
const (
	codeInvalidRequest         = "invalid_request"
	codeInvalidToken           = "invalid_token"
	codeInsufficientScope      = "insufficient_scope"
	codeTemporarilyUnavailable = "temporarily_unavailable"
	codeInvalidDPoPProof       = "invalid_dpop_proof" // RFC 9449 §7.1
	codeUseDPoPNonce           = "use_dpop_nonce"     // RFC 9449 §9
)

// Reason is the bounded, low-cardinality cause of a decision. It is what
// metrics and audit events carry; it never contains token or user data.
type Reason string

// Reasons for a decision.
const (
	ReasonOK                = Reason("ok")
	ReasonNoCredentials     = Reason("no_credentials")
	ReasonMalformedRequest  = Reason("malformed_request")
	ReasonMultipleTokens    = Reason("multiple_tokens")
	ReasonTokenTooLarge     = Reason("token_too_large")
	ReasonInvalidToken      = Reason("invalid_token")
	ReasonExpired           = Reason("expired")
	ReasonRevoked           = Reason("revoked")
	ReasonInactive          = Reason("inactive")
	ReasonInsufficientScope = Reason("insufficient_scope")
	ReasonKeysUnavailable   = Reason("keys_unavailable")
	ReasonIntrospectionDown = Reason("introspection_unavailable")
	ReasonStoreUnavailable  = Reason("store_unavailable")
	ReasonNotConfigured     = Reason("not_configured")     // a part the request needs is missing from Config
	ReasonInvalidDPoPProof  = Reason("invalid_dpop_proof") // missing, invalid or replayed DPoP proof, or one by another key
	ReasonUseDPoPNonce      = Reason("use_dpop_nonce")     // the DPoP proof lacks the current server nonce
	ReasonDPoPRequired      = Reason("dpop_required")      // a DPoP-bound token sent as Bearer, or Bearer where DPoP is required
)

// AuthError is a refusal of the middleware or of a guard: the HTTP status,
// the RFC 6750 error code and a description that is safe to send. It is
// what an ErrorWriter receives.
//
// The answer is RFC 6750 §3 and RFC 9449 §7.1: on 400/401/403 a
// WWW-Authenticate challenge for each scheme the route accepts, Bearer
// realm="…" and DPoP realm="…", algs="…" (only the DPoP one where
// DPoPPolicy requires DPoP), the one of the scheme the request used
// carrying the error: none when the request had no credentials,
// invalid_request (400), invalid_token (401), insufficient_scope (403,
// with scope), invalid_dpop_proof (401) or use_dpop_nonce (401, with a
// DPoP-Nonce header), and an error_description restricted to the
// characters the RFC allows; Cache-Control: no-store; and a body from the
// ErrorWriter. A dependency that cannot answer (keys, introspection, the
// store while degraded) is 503 with Retry-After and no challenge, never a
// misleading 401; so is a part the request needs but Config lacks, and the
// error log names the field to set.
//
// Check, Expected, Presented and Setting explain a refusal to the operator,
// never to the client: the check that failed (as oidc.ValidationError or,
// for a DPoP proof, dpop.Error names it: "iss", "aud", "kid", "exp", "htu",
// "iat", …), the value the configuration accepts, the value the token or
// proof presented (quoted; never token or proof text, never signature
// bytes) and the configuration field that decides, e.g.
// "adapter.Config.Audience" or "adapter.Config.DPoP.Proof.ExternalURL".
// The Authenticator logs them (rate-limited per kind of refusal, at info
// when the refusal looks like a configuration mistake) and puts them in the
// audit event's Detail.
type AuthError struct {
	Status int // 400, 401, 403 or 503
	// Code is the RFC 6750 or RFC 9449 error code: "invalid_request",
	// "invalid_token", "insufficient_scope", "invalid_dpop_proof",
	// "use_dpop_nonce", or "temporarily_unavailable" for 503; "" when the
	// request had no credentials.
	Code        string
	Description string // within RFC 6750's error_description characters
	Scope       string // for insufficient_scope: the scope(s) needed, space-separated
	Reason      Reason // for metrics and audit; not sent
	RetryAfter  time.Duration
	Err         error // the cause, never sent to the client (for a DPoP proof a *dpop.Error)

	Check     string // the failed check; "" when not a token or proof check
	Expected  string // what the configuration accepts; may be empty
	Presented string // what the token or proof carries; may be empty
	Setting   string // the configuration field that decides; may be empty

	used     scheme // the scheme of the request's token: its challenge carries the error
	dpopOnly bool   // the route refuses Bearer: only the DPoP challenge
	nonce    string // the DPoP-Nonce to send
}

func (e *AuthError) Error() string {
	s := "adapter: " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Err }

// ErrorWriter writes the status and body of a refusal. The WWW-Authenticate,
// Cache-Control and Retry-After headers are already set when it is called,
// so a custom writer cannot break RFC 6750; it must call
// w.WriteHeader(e.Status).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, e *AuthError)

// WriteJSONError is the default ErrorWriter: a small JSON body
// {"error":…,"error_description":…} (no body for a request without
// credentials).
func WriteJSONError(w http.ResponseWriter, _ *http.Request, e *AuthError) {
	if e.Code == "" {
		w.WriteHeader(e.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{e.Code, e.Description, e.Scope}
	_ = json.NewEncoder(w).Encode(body)
}

// challenger renders the WWW-Authenticate challenges of an API.
type challenger struct {
	realm string
	algs  string // the DPoP algs parameter: the allowed proof algorithms
}

// writeAuthError sets the RFC 6750 and RFC 9449 headers for e and hands
// the body to ew.
func writeAuthError(w http.ResponseWriter, r *http.Request, ch *challenger, ew ErrorWriter, e *AuthError) {
	h := w.Header()
	if e.Status != http.StatusServiceUnavailable {
		if !e.dpopOnly {
			h.Add("WWW-Authenticate", challenge("Bearer", ch.realm, e, e.used != schemeDPoP, ""))
		}
		h.Add("WWW-Authenticate", challenge("DPoP", ch.realm, e, e.used == schemeDPoP || e.dpopOnly, ch.algs))
		if e.nonce != "" {
			h.Set("DPoP-Nonce", e.nonce)
		}
	}
	h.Set("Cache-Control", "no-store")
	if e.Status == http.StatusServiceUnavailable {
		ra := e.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		h.Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	}
	if ew == nil {
		ew = WriteJSONError
	}
	ew(w, r, e)
}

// challenge renders one WWW-Authenticate challenge (RFC 6750 §3, RFC 9449
// §7.1) of scheme for e; withErr says whether it carries e's error.
func challenge(scheme, realm string, e *AuthError, withErr bool, algs string) string {
	var b strings.Builder
	b.Grow(64 + len(realm) + len(e.Description) + len(e.Scope) + len(algs))
	b.WriteString(scheme)
	b.WriteString(` realm="`)
	b.WriteString(quotedSafe(realm))
	b.WriteByte('"')
	if withErr && e.Code != "" {
		b.WriteString(`, error="`)
		b.WriteString(e.Code)
		b.WriteByte('"')
		if e.Description != "" {
			b.WriteString(`, error_description="`)
			b.WriteString(sanitizeDescription(e.Description))
			b.WriteByte('"')
		}
		if e.Scope != "" {
			b.WriteString(`, scope="`)
			b.WriteString(quotedSafe(e.Scope))
			b.WriteByte('"')
		}
	}
	if algs != "" {
		b.WriteString(`, algs="`)
		b.WriteString(algs)
		b.WriteByte('"')
	}
	return b.String()
}

// maxDescription caps error_description.
const maxDescription = 200

// sanitizeDescription returns s limited to the characters RFC 6750 §3
// allows in error_description (%x20-21 / %x23-5B / %x5D-7E): every other
// byte becomes '?', and the result is at most 200 bytes.
func sanitizeDescription(s string) string {
	if len(s) > maxDescription {
		s = s[:maxDescription]
	}
	return sanitize(s)
}

func sanitize(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !descChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !descChar(c) {
			b[i] = '?'
		}
	}
	return string(b)
}

func descChar(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

// quotedSafe keeps realm and scope values inside their quoted-string: the
// scope syntax (RFC 6749 §3.3) and any sane realm use the same characters.
func quotedSafe(s string) string { return sanitize(s) }
