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
	ReasonNotConfigured     = Reason("not_configured") // a part the request needs is missing from Config
)

// AuthError is a refusal of the middleware or of a guard: the HTTP status,
// the RFC 6750 error code and a description that is safe to send. It is
// what an ErrorWriter receives.
//
// The answer is RFC 6750 §3: WWW-Authenticate: Bearer realm="…" on
// 400/401/403, with no error code when the request had no credentials,
// invalid_request (400), invalid_token (401) or insufficient_scope (403,
// with scope), and an error_description restricted to the characters the
// RFC allows; Cache-Control: no-store; and a body from the ErrorWriter. A
// dependency that cannot answer (keys, introspection, the store while
// degraded) is 503 with Retry-After and no challenge, never a misleading
// 401; so is a part the request needs but Config lacks, and the error log
// names the field to set.
//
// Check, Expected, Presented and Setting explain a refusal to the operator,
// never to the client: the check that failed (as oidc.ValidationError names
// it: "iss", "aud", "kid", "exp", …), the value the configuration accepts,
// the value the token presented (quoted; never token text, never signature
// bytes) and the configuration field that decides, e.g.
// "adapter.Config.Audience". The Authenticator logs them (rate-limited, at
// info when the refusal looks like a configuration mistake) and puts them
// in the audit event's Detail.
type AuthError struct {
	Status int // 400, 401, 403 or 503
	// Code is the RFC 6750 error code: "invalid_request",
	// "invalid_token", "insufficient_scope", or "temporarily_unavailable"
	// for 503; "" when the request had no credentials.
	Code        string
	Description string // within RFC 6750's error_description characters
	Scope       string // for insufficient_scope: the scope(s) needed, space-separated
	Reason      Reason // for metrics and audit; not sent
	RetryAfter  time.Duration
	Err         error // the cause, never sent to the client

	Check     string // the failed check; "" when not a token check
	Expected  string // what the configuration accepts; may be empty
	Presented string // what the token carries; may be empty
	Setting   string // the configuration field that decides; may be empty
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

// writeAuthError sets the RFC 6750 headers for e and hands the body to ew.
func writeAuthError(w http.ResponseWriter, r *http.Request, realm string, ew ErrorWriter, e *AuthError) {
	h := w.Header()
	if e.Status != http.StatusServiceUnavailable {
		h.Set("WWW-Authenticate", challenge(realm, e))
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

// challenge renders the WWW-Authenticate value for e (RFC 6750 §3).
func challenge(realm string, e *AuthError) string {
	var b strings.Builder
	b.Grow(64 + len(realm) + len(e.Description) + len(e.Scope))
	b.WriteString(`Bearer realm="`)
	b.WriteString(quotedSafe(realm))
	b.WriteByte('"')
	if e.Code != "" {
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
