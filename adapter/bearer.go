package adapter

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Default size limits for bearer extraction.
const (
	// DefaultMaxTokenBytes caps the length of a bearer token. Keycloak access
	// tokens with many roles stay well below it.
	DefaultMaxTokenBytes = 16 << 10
	// DefaultMaxFormBytes caps how much of a form body is read when looking
	// for an access_token parameter.
	DefaultMaxFormBytes = 64 << 10
)

// Extraction errors. ErrNoCredentials means the request carried no bearer
// token at all (RFC 6750 §3.1: answer without an error code); the others map
// to invalid_request (400) or invalid_token (401).
var (
	ErrNoCredentials   = errors.New("adapter: no bearer token")
	ErrMalformedBearer = errors.New("adapter: malformed bearer credentials")
	ErrMultipleTokens  = errors.New("adapter: bearer token sent more than once")
	ErrTokenTooLarge   = errors.New("adapter: bearer token too large")
	ErrBodyTooLarge    = errors.New("adapter: form body too large to search for a token")
)

// Extractor finds the bearer token of a request as RFC 6750 §2 describes.
// The zero value accepts the Authorization header only, with the default
// size cap. An Extractor is safe for concurrent use.
type Extractor struct {
	// MaxTokenBytes caps the token length; zero means DefaultMaxTokenBytes.
	MaxTokenBytes int

	// AllowFormBody also accepts an access_token parameter in an
	// application/x-www-form-urlencoded body of a POST, PUT or PATCH request
	// (RFC 6750 §2.2). The body is read up to MaxFormBytes and restored for
	// the next handler.
	AllowFormBody bool
	// MaxFormBytes caps the form body read; zero means DefaultMaxFormBytes.
	// A larger form body is refused (400) when AllowFormBody is set.
	MaxFormBytes int64

	// UnsafeAllowQueryToken accepts an access_token query parameter
	// (RFC 6750 §2.3). Query strings end up in access logs, proxy logs,
	// browser history and Referer headers: the RFC says not to use it.
	UnsafeAllowQueryToken bool
}

// Extract returns the single bearer token of r.
//
// The Authorization header must read "Bearer" (any case), one or more
// spaces, and a b64token of at most MaxTokenBytes. A request with several
// Authorization headers, several tokens, or a token sent by more than one
// method fails with ErrMultipleTokens. An Authorization header with another
// scheme counts as no bearer credentials. Extract never returns the token in
// an error.
func (e *Extractor) Extract(r *http.Request) (string, error) {
	return e.extract(r, true)
}

// extract is Extract; with charset false the Authorization header token is
// not checked against the b64token alphabet (only for a length and for
// emptiness). The middleware uses that with a verifier that accepts nothing
// but canonical base64url segments, and checks the alphabet only when
// verification fails, to answer 400 rather than 401.
func (e *Extractor) extract(r *http.Request, charset bool) (string, error) {
	maxTok := e.MaxTokenBytes
	if maxTok <= 0 {
		maxTok = DefaultMaxTokenBytes
	}
	var (
		token string
		found int
	)

	// Direct map access: no canonicalisation, no allocation.
	switch hv := r.Header["Authorization"]; len(hv) {
	case 0:
	case 1:
		t, ok, err := parseAuthorization(hv[0], maxTok, charset)
		if err != nil {
			return "", err
		}
		if ok {
			token, found = t, 1
		}
	default:
		// Several Authorization fields: ambiguous whatever their schemes.
		return "", ErrMultipleTokens
	}

	if e.AllowFormBody && formEligible(r) {
		t, n, err := e.formToken(r, maxTok)
		if err != nil {
			return "", err
		}
		if n > 0 {
			token = t
			found += n
		}
	}

	if e.UnsafeAllowQueryToken && r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return "", ErrMalformedBearer
		}
		if vs := q["access_token"]; len(vs) > 0 {
			found += len(vs)
			token = vs[0]
			if len(token) > maxTok {
				return "", ErrTokenTooLarge
			}
			if !isB64Token(token) {
				return "", ErrMalformedBearer
			}
		}
	}

	switch {
	case found == 0:
		return "", ErrNoCredentials
	case found > 1:
		return "", ErrMultipleTokens
	}
	return token, nil
}

// parseAuthorization parses one Authorization field value. ok is false when
// the scheme is not Bearer.
func parseAuthorization(v string, maxTok int, charset bool) (token string, ok bool, err error) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false, nil
	}
	rest := v[len(scheme):]
	if rest == "" {
		// "Bearer" with nothing after it.
		return "", true, ErrMalformedBearer
	}
	if rest[0] != ' ' {
		// "BearerX…" is another scheme name, e.g. "Bearerish".
		if isTokenChar(rest[0]) {
			return "", false, nil
		}
		return "", true, ErrMalformedBearer
	}
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	token = rest[i:]
	if len(token) > maxTok {
		return "", true, ErrTokenTooLarge
	}
	if token == "" || (charset && !isB64Token(token)) {
		// Empty, a second token after a space, a comma list, tabs, quotes…
		return "", true, ErrMalformedBearer
	}
	return token, true, nil
}

// b64tokenChar is 1 for the bytes of RFC 6750's b64token (without "=").
var b64tokenChar = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for _, c := range "-._~+/" {
		t[c] = 1
	}
	return t
}()

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	s = s[:n]
	// No branches per byte, four independent accumulators: a valid token
	// (the common case) is read at several bytes per cycle.
	t := &b64tokenChar
	var a0, a1, a2, a3 uint8 = 1, 1, 1, 1
	for len(s) >= 8 {
		a0 &= t[s[0]] & t[s[4]]
		a1 &= t[s[1]] & t[s[5]]
		a2 &= t[s[2]] & t[s[6]]
		a3 &= t[s[3]] & t[s[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		a0 &= t[s[i]]
	}
	return a0&a1&a2&a3 == 1
}

// isTokenChar reports whether c is an RFC 9110 tchar, i.e. could continue an
// auth-scheme name.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// formEligible reports whether RFC 6750 §2.2 allows a body token for r.
func formEligible(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// formToken reads the form body (bounded), restores it on r, and returns the
// access_token parameter and how many times it occurred.
func (e *Extractor) formToken(r *http.Request, maxTok int) (string, int, error) {
	limit := e.MaxFormBytes
	if limit <= 0 {
		limit = DefaultMaxFormBytes
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err != nil {
		// The body is partly consumed: the handler cannot use it either.
		return "", 0, ErrMalformedBearer
	}
	if int64(len(buf)) > limit {
		// Hand back what was read followed by the rest, then refuse.
		r.Body = &restoredBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), c: orig}
		return "", 0, ErrBodyTooLarge
	}
	r.Body = &restoredBody{Reader: bytes.NewReader(buf), c: orig}
	if !bytes.Contains(buf, []byte("access_token")) {
		return "", 0, nil
	}
	form, err := url.ParseQuery(string(buf))
	if err != nil {
		return "", 0, ErrMalformedBearer
	}
	vs := form["access_token"]
	if len(vs) == 0 {
		return "", 0, nil
	}
	if len(vs[0]) > maxTok {
		return "", 0, ErrTokenTooLarge
	}
	if !isB64Token(vs[0]) {
		return "", 0, ErrMalformedBearer
	}
	return vs[0], len(vs), nil
}

// restoredBody replays a body that was read for token extraction and closes
// the original.
type restoredBody struct {
	io.Reader
	c io.Closer
}

func (b *restoredBody) Close() error { return b.c.Close() }
