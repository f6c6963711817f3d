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
	// maxTokenBytes caps the length of a bearer token. Keycloak access
	// tokens with many roles stay well below it.
	maxTokenBytes = 16 << 10
	// maxFormBytes caps how much of a form body is read when looking for
	// an access_token parameter.
	maxFormBytes = 64 << 10
)

// Extraction errors, the cause (AuthError.Err) of the refusals whose
// Reason is ReasonNoCredentials (RFC 6750 §3.1: an answer without an error
// code), ReasonMalformedRequest, ReasonMultipleTokens and
// ReasonTokenTooLarge.
var (
	errNoCredentials   = errors.New("adapter: no bearer token")
	errMalformedBearer = errors.New("adapter: malformed bearer credentials")
	errMultipleTokens  = errors.New("adapter: bearer token sent more than once")
	errTokenTooLarge   = errors.New("adapter: bearer token too large")
	errBodyTooLarge    = errors.New("adapter: form body too large to search for a token")
)

// Extractor says where the middleware finds the access token of a request,
// as RFC 6750 §2 describes. The zero value accepts the Authorization header
// only, with the default size cap.
//
// The Authorization header must read "Bearer" or "DPoP" (RFC 9449 §7.1;
// any case), one or more spaces, and a b64token of at most MaxTokenBytes. A
// request with several Authorization headers, several tokens, or a token
// sent by more than one method is refused (400). An Authorization header
// with another scheme counts as no credentials. The form body and the query
// carry Bearer tokens only.
type Extractor struct {
	// MaxTokenBytes caps the token length; zero means 16 KiB.
	MaxTokenBytes int

	// AllowFormBody also accepts an access_token parameter in an
	// application/x-www-form-urlencoded body of a POST, PUT or PATCH request
	// (RFC 6750 §2.2). The body is read up to MaxBodyBytes and restored for
	// the next handler.
	AllowFormBody bool
	// MaxBodyBytes caps the form body read; zero means 64 KiB. A larger
	// form body is refused (400) when AllowFormBody is set.
	MaxBodyBytes int64

	// UnsafeAllowQueryToken accepts an access_token query parameter
	// (RFC 6750 §2.3). Query strings end up in access logs, proxy logs,
	// browser history and Referer headers: the RFC says not to use it.
	UnsafeAllowQueryToken bool
}

// scheme is the authentication scheme of a request's token.
type scheme uint8

const (
	schemeNone   scheme = iota // no credentials
	schemeBearer               // RFC 6750
	schemeDPoP                 // RFC 9449: the token comes with a proof
)

// extract returns the single access token of r and its scheme, never the
// token in an error; on an error the scheme is the one the request tried. With charset false the Authorization header token is not checked
// against the b64token alphabet (only for a length and for emptiness). The
// middleware uses that with a verifier that accepts nothing but canonical
// base64url segments, and checks the alphabet only when verification
// fails, to answer 400 rather than 401.
func (e *Extractor) extract(r *http.Request, charset bool) (string, scheme, error) {
	maxTok := e.MaxTokenBytes
	if maxTok <= 0 {
		maxTok = maxTokenBytes
	}
	var (
		token string
		found int
		sch   scheme
	)

	// Direct map access: no canonicalisation, no allocation.
	switch hv := r.Header["Authorization"]; len(hv) {
	case 0:
	case 1:
		t, s, err := parseAuthorization(hv[0], maxTok, charset)
		if err != nil {
			return "", s, err
		}
		if s != schemeNone {
			token, found, sch = t, 1, s
		}
	default:
		// Several Authorization fields: ambiguous whatever their schemes.
		return "", schemeNone, errMultipleTokens
	}

	if e.AllowFormBody && formEligible(r) {
		t, n, err := e.formToken(r, maxTok)
		if err != nil {
			return "", sch, err
		}
		if n > 0 {
			token, sch = t, schemeBearer
			found += n
		}
	}

	if e.UnsafeAllowQueryToken && r.URL != nil {
		t, n, err := tokenParam(r.URL.RawQuery, maxTok)
		if err != nil {
			return "", sch, err
		}
		if n > 0 {
			token, sch = t, schemeBearer
			found += n
		}
	}

	switch {
	case found == 0:
		return "", schemeNone, errNoCredentials
	case found > 1:
		return "", sch, errMultipleTokens
	}
	return token, sch, nil
}

// parseAuthorization parses one Authorization field value. The scheme is
// schemeNone when it is neither Bearer nor DPoP.
func parseAuthorization(v string, maxTok int, charset bool) (token string, sch scheme, err error) {
	var rest string
	switch {
	case len(v) >= 6 && strings.EqualFold(v[:6], "bearer"):
		sch, rest = schemeBearer, v[6:]
	case len(v) >= 4 && strings.EqualFold(v[:4], "dpop"):
		sch, rest = schemeDPoP, v[4:]
	default:
		return "", schemeNone, nil
	}
	if rest == "" {
		// "Bearer" with nothing after it.
		return "", sch, errMalformedBearer
	}
	if rest[0] != ' ' {
		// "BearerX…" is another scheme name, e.g. "Bearerish".
		if isTokenChar(rest[0]) {
			return "", schemeNone, nil
		}
		return "", sch, errMalformedBearer
	}
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	token = rest[i:]
	if len(token) > maxTok {
		return "", sch, errTokenTooLarge
	}
	if token == "" || (charset && !isB64Token(token)) {
		// Empty, a second token after a space, a comma list, tabs, quotes…
		return "", sch, errMalformedBearer
	}
	return token, sch, nil
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
	limit := e.MaxBodyBytes
	if limit <= 0 {
		limit = maxFormBytes
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err != nil {
		// The body is partly consumed: the handler cannot use it either.
		return "", 0, errMalformedBearer
	}
	if int64(len(buf)) > limit {
		// Hand back what was read followed by the rest, then refuse.
		r.Body = &restoredBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), c: orig}
		return "", 0, errBodyTooLarge
	}
	r.Body = &restoredBody{Reader: bytes.NewReader(buf), c: orig}
	return tokenParam(string(buf), maxTok)
}

// tokenParam returns the access_token parameter of an
// application/x-www-form-urlencoded string (a query or a form body) and
// how many times it occurs. Names are compared decoded, as the handler
// behind will read them: "access%5Ftoken" is an access_token too, and
// counts towards "sent more than once". Values of other parameters are not
// decoded. A pair with ';' (a separator for some parsers, not for Go's) or
// a name that does not decode is refused rather than guessed at.
func tokenParam(s string, maxTok int) (token string, n int, err error) {
	if !strings.Contains(s, "access_token") && !strings.Contains(s, "%") {
		return "", 0, nil // the common case: nothing to decode
	}
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if strings.Contains(pair, ";") {
			return "", 0, errMalformedBearer
		}
		name, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(name, "%+") {
			if name, err = url.QueryUnescape(name); err != nil {
				return "", 0, errMalformedBearer
			}
		}
		if name != "access_token" {
			continue
		}
		if n++; n > 1 {
			continue // refused by the caller; no need to decode
		}
		if token, err = url.QueryUnescape(value); err != nil {
			return "", 0, errMalformedBearer
		}
		if len(token) > maxTok {
			return "", 0, errTokenTooLarge
		}
		if !isB64Token(token) {
			return "", 0, errMalformedBearer
		}
	}
	return token, n, nil
}

// restoredBody replays a body that was read for token extraction and closes
// the original.
type restoredBody struct {
	io.Reader
	c io.Closer
}

func (b *restoredBody) Close() error { return b.c.Close() }
