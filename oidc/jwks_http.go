package oidc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// ErrInsecureURL reports a JWKS or discovery URL that is not https (and
// InsecureAllowHTTP is not set), or that is malformed or carries credentials.
var ErrInsecureURL = errors.New("oidc: insecure or invalid url")

// Details of a failed JWKS or discovery fetch, wrapped in ErrKeysUnavailable,
// ErrInvalidJWKS or ErrDiscovery.
var (
	// errRedirect: a redirect to another scheme or host, or too many.
	errRedirect = errors.New("redirect refused")
	// errBodyTooLarge: a response larger than its cap.
	errBodyTooLarge = errors.New("response body too large")
)

// defaultHTTPTimeout bounds a request made with the private client when the
// caller supplies none.
const defaultHTTPTimeout = 30 * time.Second

// maxRedirects bounds same-host redirects.
const maxRedirects = 3

// checkURL validates a JWKS or discovery URL: absolute, https (or http with
// allowHTTP), a host, no user info, no fragment.
func checkURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse url", ErrInsecureURL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("%w: %s is plain http; set InsecureAllowHTTP only for development", ErrInsecureURL, redactURL(u))
	default:
		return nil, fmt.Errorf("%w: scheme %q not allowed", ErrInsecureURL, jose.Truncate(u.Scheme, 16))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: url has no host", ErrInsecureURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: url carries credentials", ErrInsecureURL)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return nil, fmt.Errorf("%w: url has a fragment", ErrInsecureURL)
	}
	return u, nil
}

// redactURL renders a URL for logs and errors: scheme, host and path only.
func redactURL(u *url.URL) string {
	return jose.Truncate(u.Scheme+"://"+u.Host+u.EscapedPath(), 256)
}

// fetchState records what the guarded transport saw, so that errors lost by a
// library that formats them with %v (go-oidc's discovery) can be recovered.
type fetchState struct {
	tooLarge atomic.Bool
	status   atomic.Int64
}

// guardedClient returns a copy of base (or a private client when base is nil)
// whose transport refuses disallowed schemes and caps response bodies, and
// whose redirect policy refuses another scheme or host. The caller's client is
// never modified.
func guardedClient(base *http.Client, allowHTTP bool, maxBody int64, st *fetchState) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		c.Timeout = defaultHTTPTimeout
	}
	rt := c.Transport
	if rt == nil {
		if base == nil {
			rt = http.DefaultTransport.(*http.Transport).Clone()
		} else {
			rt = http.DefaultTransport
		}
	}
	c.Transport = &guardTransport{base: rt, owned: base == nil, allowHTTP: allowHTTP, maxBody: maxBody, st: st}
	prev := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
		}
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
			return fmt.Errorf("%w: %s redirects to another host or scheme", errRedirect, redactURL(first))
		}
		if prev != nil {
			return prev(req, via)
		}
		return nil
	}
	c.Jar = nil // no cookies: the fetch is anonymous
	return &c
}

type guardTransport struct {
	base      http.RoundTripper
	owned     bool // base is a private transport that CloseIdleConnections may close
	allowHTTP bool
	maxBody   int64
	st        *fetchState
}

// CloseIdleConnections closes the idle connections of a private transport;
// a caller's transport is left alone.
func (t *guardTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok && t.owned {
		c.CloseIdleConnections()
	}
}

func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, err := checkURL(req.URL.String(), t.allowHTTP); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if t.st != nil {
		t.st.status.Store(int64(resp.StatusCode))
	}
	if resp.ContentLength > t.maxBody {
		resp.Body.Close()
		if t.st != nil {
			t.st.tooLarge.Store(true)
		}
		return nil, fmt.Errorf("%w: %d bytes announced, cap %d", errBodyTooLarge, resp.ContentLength, t.maxBody)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.maxBody, st: t.st}
	return resp, nil
}

// cappedBody fails a read that goes past the cap instead of truncating
// silently, so a cut document is never parsed as a whole one.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	st   *fetchState
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		if b.st != nil {
			b.st.tooLarge.Store(true)
		}
		return n - int(-b.left), errBodyTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// cacheMaxAge returns the lifetime a response allows (Cache-Control max-age
// less Age), and ok=false when it gives none (absent, no-cache, no-store or
// max-age=0 all mean "no lifetime given").
func cacheMaxAge(h http.Header) (time.Duration, bool) {
	var maxAge int64 = -1
	for _, line := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				return 0, false
			case "max-age":
				v, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || v < 0 {
					return 0, false
				}
				maxAge = v
			}
		}
	}
	if maxAge <= 0 {
		return 0, false
	}
	if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
		maxAge -= age
		if maxAge <= 0 {
			return 0, false
		}
	}
	const maxSeconds = int64(365 * 24 * time.Hour / time.Second)
	if maxAge > maxSeconds {
		maxAge = maxSeconds
	}
	return time.Duration(maxAge) * time.Second, true
}
