package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Transport is an http.RoundTripper that adds a DPoP proof, signed by Key,
// to every request: to an authorization server's token endpoint (the
// tokens it issues are then bound to the key) and to APIs. A request with
// "Authorization: DPoP <token>" gets a proof carrying ath, the token's
// hash. The nonce a server sends in a DPoP-Nonce header is remembered per
// origin and put in the next proofs for it; a request refused for want of
// a nonce (use_dpop_nonce: 400 from an authorization server, 401 from a
// resource server) is sent once more with it, its body replayed through
// GetBody (a request whose body cannot be replayed is not retried).
//
// With golang.org/x/oauth2, put the Transport in the http.Client of the
// context (oauth2.HTTPClient) for the token requests, and use it as the
// Base of the client that Config.Client returns (that is the default when
// the context carries it): a token whose token_type is "DPoP" is then sent
// as "Authorization: DPoP <token>" with a proof. See the example.
//
// A Transport must not be copied after first use.
type Transport struct {
	// Key signs the proofs. Required.
	Key *Key
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now is the clock of the proofs' iat; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	nonces map[string]string // origin -> the last nonce it sent
}

// maxOrigins bounds the nonces a Transport remembers.
const maxOrigins = 256

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Key == nil {
		closeBody(req)
		return nil, errors.New("dpop: Transport without Key")
	}
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("dpop: request without URL")
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	origin := strings.ToLower(req.URL.Scheme + "://" + req.URL.Host)
	token := ""
	if a := req.Header.Get("Authorization"); len(a) > 5 && strings.EqualFold(a[:5], "dpop ") {
		token = strings.TrimLeft(a[5:], " ")
	}
	nonce := t.nonce(origin)
	first, err := t.withProof(req, token, nonce)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := base.RoundTrip(first)
	if err != nil {
		return nil, err
	}
	fresh := resp.Header.Get("DPoP-Nonce")
	if fresh == "" {
		return resp, nil
	}
	t.setNonce(origin, fresh)
	if fresh == nonce || req.Body != nil && req.Body != http.NoBody && req.GetBody == nil || !asksNonce(resp) {
		return resp, nil
	}
	// One retry with the nonce the server asked for.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	second, err := t.withProof(req, token, fresh)
	if err != nil {
		return nil, err
	}
	if req.GetBody != nil {
		if second.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return base.RoundTrip(second)
}

// withProof returns a copy of req with a fresh proof in its DPoP header.
func (t *Transport) withProof(req *http.Request, token, nonce string) (*http.Request, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	proof, err := t.Key.proof(req.Method, req.URL.String(), token, nonce, now())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("DPoP", proof)
	return r, nil
}

func (t *Transport) nonce(origin string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[origin]
}

func (t *Transport) setNonce(origin, nonce string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nonces == nil {
		t.nonces = make(map[string]string)
	}
	if _, ok := t.nonces[origin]; !ok && len(t.nonces) >= maxOrigins {
		for o := range t.nonces { // forget an arbitrary origin: it will ask again
			delete(t.nonces, o)
			break
		}
	}
	t.nonces[origin] = nonce
}

// asksNonce reports whether resp refuses a proof for want of a nonce: a
// resource server's 401 with a DPoP challenge whose error is
// use_dpop_nonce, or an authorization server's 400 whose JSON body's error
// is use_dpop_nonce (RFC 9449 §8, §9). The body it reads is put back.
func asksNonce(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, v := range resp.Header.Values("WWW-Authenticate") {
			if strings.Contains(v, `error="use_dpop_nonce"`) {
				return true
			}
		}
	case http.StatusBadRequest:
		if resp.Body == nil {
			return false
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		if err != nil {
			return false
		}
		var e struct {
			Error string `json:"error"`
		}
		return json.Unmarshal(b, &e) == nil && e.Error == codeUseNonce
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
