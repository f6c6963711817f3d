package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// faultServer is a reverse proxy in front of the real Keycloak that answers
// requests whose path ends with a chosen suffix with an injected response
// instead: the HTTP-level faults a TCP proxy cannot make.
type faultServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	rule map[string]httpFault // path suffix → fault
	hits atomic.Int64         // requests answered with a fault
}

// httpFault is one injected response.
type httpFault struct {
	status int
	ctype  string
	body   string
}

func newFaultServer(t *testing.T, keycloakBase string) *faultServer {
	t.Helper()
	target, err := url.Parse(keycloakBase)
	if err != nil {
		t.Fatal(err)
	}
	fs := &faultServer{rule: map[string]httpFault{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the Host Keycloak derives the issuer from
	}}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		var f httpFault
		var ok bool
		for suffix, rf := range fs.rule {
			if strings.HasSuffix(r.URL.Path, suffix) {
				f, ok = rf, true
				break
			}
		}
		fs.mu.Unlock()
		if !ok {
			rp.ServeHTTP(w, r)
			return
		}
		fs.hits.Add(1)
		if f.ctype != "" {
			w.Header().Set("Content-Type", f.ctype)
		}
		if f.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(f.status)
		w.Write([]byte(f.body))
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

// set injects f on paths ending with suffix; clear removes every fault.
func (fs *faultServer) set(suffix string, f httpFault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rule[suffix] = f
}

func (fs *faultServer) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	clear(fs.rule)
}

func (fs *faultServer) addr() string { return fs.srv.Listener.Addr().(*net.TCPAddr).String() }

// huge is a well-formed JSON object of 1 MiB, far over every body cap.
func huge(prefix string) string {
	return prefix + `"pad":"` + strings.Repeat("a", 1<<20) + `"}`
}

const (
	discoveryPath  = "/.well-known/openid-configuration"
	certsPath      = "/protocol/openid-connect/certs"
	introspectPath = "/protocol/openid-connect/token/introspect"
	revokePath     = "/protocol/openid-connect/revoke"
)

// TestKeycloakHTTPFaults puts an HTTP fault server between the library and
// the real Keycloak. Checked:
//
//   - discovery answering the same faults as the JWKS below: ErrDiscovery,
//     then success once the fault goes;
//   - JWKS answering 500, 503, garbage, a set with no usable key or 1 MiB
//     of JSON: the fetch fails with the matching error (status, invalid
//     JWKS, body cap), the good keys stay (same generation, same count) and
//     keep verifying tokens; recovery loads the real set again;
//   - introspection answering 500, 503, garbage or 1 MiB of JSON: the
//     introspected route answers 503 with Retry-After, never 401, the
//     plain route 200; recovery after the fault goes;
//   - revocation answering 503 or 500: LogoutHandler answers 503 and does
//     not claim the logout happened (the refresh token still works at
//     Keycloak); recovery: 204 and the refresh token is dead.
func TestKeycloakHTTPFaults(t *testing.T) {
	kc := keycloak(t)
	realm := kc // nothing realm-wide changes: the shared realm, a user of its own
	me := newLogin(t, realm)
	base := me.session(t)
	target := hostPort(t, kc.BaseURL)

	jwksFaults := []struct {
		name string
		f    httpFault
		want error
	}{
		{"500", httpFault{status: 500, body: "boom"}, oidc.ErrKeysUnavailable},
		{"503", httpFault{status: 503, body: "busy"}, oidc.ErrKeysUnavailable},
		{"html instead of JSON", httpFault{status: 200, ctype: "text/html", body: "<html>maintenance</html>"}, oidc.ErrInvalidJWKS},
		{"truncated JSON", httpFault{status: 200, ctype: "application/json", body: `{"keys":[{"kty":"RSA","kid":"x","n":"`}, oidc.ErrInvalidJWKS},
		{"no usable key", httpFault{status: 200, ctype: "application/json",
			body: `{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}]}`}, oidc.ErrInvalidJWKS},
		{"huge JSON", httpFault{status: 200, ctype: "application/json", body: huge(`{"keys":[],`)}, oidc.ErrInvalidJWKS},
	}
	for _, jf := range jwksFaults {
		scenario(t, kc, "jwks "+jf.name, func(t *testing.T) {
			fs := newFaultServer(t, kc.BaseURL)
			a := newAPI(t, realm, clientVia(t, target, fs.addr(), upstreamTimeout), nil)
			tok := me.more(t, base)
			before := a.keys.Stats()

			fs.set(certsPath, jf.f)
			ctx, cancel := context.WithTimeout(context.Background(), 5*upstreamTimeout)
			defer cancel()
			if err := a.keys.Refresh(ctx); !errors.Is(err, jf.want) {
				t.Fatalf("refresh against the fault: %v, want %v", err, jf.want)
			}
			if fs.hits.Load() == 0 {
				t.Fatal("the fault was never served")
			}
			if st := a.keys.Stats(); st.Generation != before.Generation || st.Keys != before.Keys || st.Keys == 0 {
				t.Fatalf("the fault replaced the keys: before %+v, after %+v", before, st)
			}
			a.expect(t, "bad JWKS served, token of a kept key", "/plain", tok.AccessToken, 200)

			fs.clear()
			succeeds(t, "refresh after the fault", func() error { return a.keys.Refresh(context.Background()) })
			if st := a.keys.Stats(); st.Generation == before.Generation || st.Keys != before.Keys {
				t.Fatalf("after recovery: before %+v, after %+v", before, st)
			}
		})
	}

	for _, df := range jwksFaults {
		scenario(t, kc, "discovery "+df.name, func(t *testing.T) {
			fs := newFaultServer(t, kc.BaseURL)
			hc := clientVia(t, target, fs.addr(), upstreamTimeout)
			fs.set(discoveryPath, df.f)
			if _, err := discover(realm, hc); !errors.Is(err, oidc.ErrDiscovery) {
				t.Fatalf("discovery against the fault: %v, want ErrDiscovery", err)
			}
			if fs.hits.Load() == 0 {
				t.Fatal("the fault was never served")
			}
			fs.clear()
			succeeds(t, "discovery after the fault", func() error {
				d, err := discover(realm, hc)
				if err == nil && d.JWKSURI != realm.IssuerURL()+certsPath {
					err = fmt.Errorf("jwks_uri %q", d.JWKSURI)
				}
				return err
			})
		})
	}

	upstreamFaults := []struct {
		name string
		f    httpFault
	}{
		{"500", httpFault{status: 500, body: "boom"}},
		{"503", httpFault{status: 503, ctype: "application/json", body: `{"error":"temporarily_unavailable"}`}},
		{"garbage", httpFault{status: 200, ctype: "application/json", body: "\x00\xff not json"}},
		{"huge JSON", httpFault{status: 200, ctype: "application/json", body: huge(`{"active":true,`)}},
	}
	for _, uf := range upstreamFaults {
		scenario(t, kc, "introspection "+uf.name, func(t *testing.T) {
			fs := newFaultServer(t, kc.BaseURL)
			a := newAPI(t, realm, clientVia(t, target, fs.addr(), upstreamTimeout), nil)
			tok := me.more(t, base)

			fs.set(introspectPath, uf.f)
			a.expectUnavailable(t, "introspection fault", "/strict", tok.AccessToken)
			a.expect(t, "introspection fault, plain route", "/plain", tok.AccessToken, 200)
			if fs.hits.Load() == 0 {
				t.Fatal("the fault was never served")
			}
			fs.clear()
			a.eventuallyStatus(t, "recovered", "/strict", tok.AccessToken, 200)
		})
	}

	for _, uf := range upstreamFaults[:2] {
		scenario(t, kc, "revocation "+uf.name, func(t *testing.T) {
			fs := newFaultServer(t, kc.BaseURL)
			a := newAPI(t, realm, clientVia(t, target, fs.addr(), upstreamTimeout), nil)
			tok := me.session(t) // logout ends the session: one of its own

			fs.set(revokePath, uf.f)
			if got := a.logout(t, tok); !got.unavailable() {
				t.Fatalf("logout while revocation fails: %v, want 503 with Retry-After", got)
			}
			if fs.hits.Load() == 0 {
				t.Fatal("the fault was never served")
			}
			// Nothing claimed that did not happen: the refresh token lives.
			if s := refreshStatus(t, realm, tok.RefreshToken); s != http.StatusOK {
				t.Fatalf("refresh token after the failed logout: %d, want 200 (still alive)", s)
			}

			fs.clear()
			// Logout is idempotent: retried until Keycloak answers in time.
			eventually(t, "logout after recovery answers 204", func() bool {
				return a.logout(t, tok).status == http.StatusNoContent
			})
			if s := refreshStatus(t, realm, tok.RefreshToken); s != http.StatusBadRequest {
				t.Fatalf("refresh token after logout: %d, want 400", s)
			}
			a.expect(t, "after logout", "/plain", tok.AccessToken, 401)
		})
	}
}
