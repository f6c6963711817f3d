package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// fakeProvider serves a Keycloak-shaped discovery document and JWKS. The
// document's host is `advertise` (the issuer host Keycloak would put there);
// the server is reached on its own address.
type fakeProvider struct {
	*httptest.Server
	issuer    atomic.Value // string: issuer in the document
	frontHost atomic.Value // string: scheme://host of browser-facing endpoints
	backHost  atomic.Value // string: scheme://host of back-channel endpoints
	status    atomic.Int64
	pad       atomic.Int64
	jwks      []byte
	hits      atomic.Int64
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	p := &fakeProvider{jwks: jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil),
		rsaJWK(&testRSAKey(t, 1).PublicKey, "enc", map[string]any{"use": "enc", "alg": "RSA-OAEP"}))}
	p.status.Store(200)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		switch r.URL.Path {
		case "/realms/acme/.well-known/openid-configuration":
			front, back := p.frontHost.Load().(string), p.backHost.Load().(string)
			base := "/realms/acme/protocol/openid-connect"
			doc := map[string]any{
				"issuer":                                        p.issuer.Load().(string),
				"authorization_endpoint":                        front + base + "/auth",
				"end_session_endpoint":                          front + base + "/logout",
				"revocation_endpoint":                           front + base + "/revoke",
				"token_endpoint":                                back + base + "/token",
				"introspection_endpoint":                        back + base + "/token/introspect",
				"userinfo_endpoint":                             back + base + "/userinfo",
				"jwks_uri":                                      back + base + "/certs",
				"backchannel_logout_supported":                  true,
				"backchannel_logout_session_supported":          true,
				"token_endpoint_auth_methods_supported":         []string{"private_key_jwt", "client_secret_basic"},
				"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
				"revocation_endpoint_auth_methods_supported":    []string{"client_secret_post"},
				"id_token_signing_alg_values_supported":         []string{"RS256", "HS256", "none"},
				"pad":                                           strings.Repeat("x", int(p.pad.Load())),
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(p.status.Load()))
			json.NewEncoder(w).Encode(doc)
		case "/realms/acme/protocol/openid-connect/certs":
			w.Write(p.jwks)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.Close)
	p.issuer.Store(p.URL + "/realms/acme")
	p.frontHost.Store(p.URL)
	p.backHost.Store(p.URL)
	return p
}

func TestDiscover(t *testing.T) {
	p := newFakeProvider(t)
	issuer := KeycloakIssuer(p.URL+"/", "acme")
	if issuer != p.URL+"/realms/acme" {
		t.Fatalf("KeycloakIssuer = %q", issuer)
	}
	d, err := Discover(context.Background(), DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	base := issuer + "/protocol/openid-connect"
	checks := map[string][2]string{
		"issuer":        {d.Issuer, issuer},
		"advertised":    {d.AdvertisedIssuer, issuer},
		"authorization": {d.AuthorizationEndpoint, base + "/auth"},
		"token":         {d.TokenEndpoint, base + "/token"},
		"userinfo":      {d.UserInfoEndpoint, base + "/userinfo"},
		"jwks":          {d.JWKSURI, base + "/certs"},
		"introspection": {d.IntrospectionEndpoint, base + "/token/introspect"},
		"revocation":    {d.RevocationEndpoint, base + "/revoke"},
		"end_session":   {d.EndSessionEndpoint, base + "/logout"},
		"provider":      {d.Provider().Endpoint().TokenURL, base + "/token"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if !d.BackchannelLogoutSupported || !d.BackchannelLogoutSessionSupported {
		t.Error("back-channel logout support not decoded")
	}
	if strings.Join(d.IntrospectionEndpointAuthMethods, ",") != "client_secret_basic,client_secret_post" ||
		strings.Join(d.RevocationEndpointAuthMethods, ",") != "client_secret_post" ||
		strings.Join(d.TokenEndpointAuthMethods, ",") != "private_key_jwt,client_secret_basic" ||
		len(d.IDTokenSigningAlgs) != 3 {
		t.Errorf("auth methods / algs not decoded: %+v", d)
	}

	ks, err := d.NewRemoteKeySet(KeySetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	mustKey(t, ks, "k1")
	if _, err := ks.Key(context.Background(), "enc"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("enc key: %v", err)
	}
	if _, err := d.NewRemoteKeySet(KeySetConfig{URL: "https://elsewhere.example/certs"}); err == nil {
		t.Fatal("a JWKS URL different from the discovered one was accepted")
	}
}

// TestDiscoverInternalURL: the Docker-network case. Tokens say
// http://localhost:<port>/realms/acme; this process reaches Keycloak as
// http://127.0.0.1:<port>.
func TestDiscoverInternalURL(t *testing.T) {
	p := newFakeProvider(t)
	internal := p.URL                                             // http://127.0.0.1:port
	public := strings.Replace(p.URL, "127.0.0.1", "localhost", 1) // http://localhost:port
	pubIssuer := public + "/realms/acme"
	base := "/realms/acme/protocol/openid-connect"

	tests := []struct {
		name           string
		docIssuer      string // issuer in the document
		front, back    string // hosts Keycloak advertises
		wantErr        error
		wantAdvertised string
	}{
		// No fixed hostname: Keycloak answers with the host it was called on.
		{"keycloak without hostname", internal + "/realms/acme", internal, internal, nil, internal + "/realms/acme"},
		// Fixed hostname (frontend URL): issuer and front endpoints public.
		{"keycloak with hostname", pubIssuer, public, internal, nil, pubIssuer},
		{"everything public", pubIssuer, public, public, nil, pubIssuer},
		{"foreign issuer refused", "http://evil.example/realms/acme", internal, internal, errTextIssuerMismatch, ""},
		{"other realm refused", internal + "/realms/other", internal, internal, errTextIssuerMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.issuer.Store(tt.docIssuer)
			p.frontHost.Store(tt.front)
			p.backHost.Store(tt.back)
			d, err := Discover(context.Background(), DiscoveryConfig{Issuer: pubIssuer, InternalURL: internal, InsecureAllowHTTP: true})
			if tt.wantErr != nil {
				if !errorMatches(err, tt.wantErr) || !errors.Is(err, ErrDiscovery) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Issuer != pubIssuer || d.AdvertisedIssuer != tt.wantAdvertised {
				t.Fatalf("issuer %q advertised %q", d.Issuer, d.AdvertisedIssuer)
			}
			for name, got := range map[string]string{"token": d.TokenEndpoint, "introspection": d.IntrospectionEndpoint,
				"revocation": d.RevocationEndpoint, "userinfo": d.UserInfoEndpoint, "jwks": d.JWKSURI} {
				if !strings.HasPrefix(got, internal+base) {
					t.Errorf("back-channel %s = %q, want on %s", name, got, internal)
				}
			}
			for name, got := range map[string]string{"authorization": d.AuthorizationEndpoint, "end_session": d.EndSessionEndpoint} {
				if !strings.HasPrefix(got, public+base) {
					t.Errorf("browser-facing %s = %q, want on %s", name, got, public)
				}
			}
			if got := d.ToInternal(public + base + "/x"); got != internal+base+"/x" {
				t.Errorf("ToInternal = %q", got)
			}
			if got := d.ToInternal("https://other.example/x"); got != "https://other.example/x" {
				t.Errorf("ToInternal rewrote another host: %q", got)
			}
			// go-oidc's Provider verifies ID tokens against the public issuer.
			if v := d.Provider().Verifier(&gooidc.Config{SkipClientIDCheck: true}); v == nil {
				t.Fatal("no verifier")
			}
			ks, err := d.NewRemoteKeySet(KeySetConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer ks.Close()
			mustKey(t, ks, "k1")
		})
	}
}

func TestDiscoverErrors(t *testing.T) {
	p := newFakeProvider(t)
	issuer := p.URL + "/realms/acme"
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirect.Close()

	tests := []struct {
		name    string
		cfg     DiscoveryConfig
		setup   func()
		wantErr error
	}{
		{"http without the flag", DiscoveryConfig{Issuer: issuer}, nil, ErrInsecureURL},
		{"internal http without the flag", DiscoveryConfig{Issuer: "https://sso.example/realms/acme", InternalURL: p.URL}, nil, ErrInsecureURL},
		{"internal url with a path", DiscoveryConfig{Issuer: issuer, InternalURL: p.URL + "/auth", InsecureAllowHTTP: true}, nil, ErrDiscovery},
		{"issuer mismatch (trailing slash)", DiscoveryConfig{Issuer: issuer + "/", InsecureAllowHTTP: true}, nil, errTextIssuerMismatch},
		{"404", DiscoveryConfig{Issuer: p.URL + "/realms/none", InsecureAllowHTTP: true}, nil, errTextStatus},
		{"500", DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true}, func() { p.status.Store(500) }, errTextStatus},
		{"body over the cap", DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true, MaxBodyBytes: 4096},
			func() { p.pad.Store(8192) }, errBodyTooLarge},
		{"redirect to another host", DiscoveryConfig{Issuer: redirect.URL + "/realms/acme", InsecureAllowHTTP: true}, nil, errRedirect},
		{"relative endpoint refused", DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true}, func() { p.backHost.Store("") }, ErrInsecureURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.status.Store(200)
			p.pad.Store(0)
			p.backHost.Store(p.URL)
			p.issuer.Store(issuer)
			if tt.setup != nil {
				tt.setup()
			}
			d, err := Discover(context.Background(), tt.cfg)
			if !errorMatches(err, tt.wantErr) || !errors.Is(err, ErrDiscovery) || d != nil {
				t.Fatalf("err %v, want %v wrapped in ErrDiscovery", err, tt.wantErr)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes: upstream body not truncated", len(err.Error()))
			}
		})
	}
}

// TestRemoteKeySetAsGoOIDCKeySet: go-oidc's ID-token verifier runs on the
// hardened cache; a forged signature on the known kid causes no fetch.
func TestRemoteKeySetAsGoOIDCKeySet(t *testing.T) {
	rk := testRSAKey(t, 0)
	srv := newJWKSServer(t, jwksJSON(t, rsaJWK(&rk.PublicKey, "k1", nil)))
	ks := newTestKeySet(t, srv, newFakeClock(), nil)
	var _ gooidc.KeySet = ks
	var _ gooidc.KeySet = NewStaticKeySet()

	now := time.Now()
	claims := fmt.Sprintf(`{"iss":"https://idp.example","aud":"app","sub":"alice","iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Minute).Unix())
	input := b64([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`)) + "." + b64([]byte(claims))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, sha256Sum([]byte(input)))
	if err != nil {
		t.Fatal(err)
	}
	token := input + "." + b64(sig)
	v := gooidc.NewVerifier("https://idp.example", ks, &gooidc.Config{ClientID: "app"})
	idt, err := v.Verify(context.Background(), token)
	if err != nil || idt.Subject != "alice" {
		t.Fatalf("Verify: %v", err)
	}
	before := srv.requests.Load()
	forged := input + "." + b64(append(sig[:len(sig)-1:len(sig)-1], sig[len(sig)-1]^1))
	for range 100 {
		if _, err := v.Verify(context.Background(), forged); err == nil {
			t.Fatal("forged signature accepted")
		}
	}
	if got := srv.requests.Load(); got != before {
		t.Fatalf("%d fetches caused by forged signatures on a known kid, want 0", got-before)
	}
}

// TestDiscoverTLS is the production shape: https everywhere, no insecure
// flag; an http endpoint in the document is refused.
func TestDiscoverTLS(t *testing.T) {
	var jwksURI atomic.Value
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/acme/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{
				"issuer":         srv.URL + "/realms/acme",
				"token_endpoint": srv.URL + "/realms/acme/protocol/openid-connect/token",
				"jwks_uri":       jwksURI.Load().(string),
			})
		case "/certs":
			w.Write(jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k1", nil)))
		}
	}))
	defer srv.Close()
	cfg := DiscoveryConfig{Issuer: srv.URL + "/realms/acme", HTTPClient: srv.Client()}

	jwksURI.Store(srv.URL + "/certs")
	d, err := Discover(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := d.NewRemoteKeySet(KeySetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	mustKey(t, ks, "k1")

	jwksURI.Store(strings.Replace(srv.URL, "https:", "http:", 1) + "/certs")
	if _, err := Discover(context.Background(), cfg); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("http jwks_uri in an https document: %v, want ErrInsecureURL", err)
	}
}

// Details that Discover reports in the text of an ErrDiscovery only.
var (
	errTextIssuerMismatch = errors.New("issuer mismatch")
	errTextStatus         = errors.New("answered")
)

// errorMatches reports whether err wraps want, or names it when want is one
// of the errText details.
func errorMatches(err, want error) bool {
	if want == errTextIssuerMismatch || want == errTextStatus {
		return err != nil && strings.Contains(err.Error(), want.Error())
	}
	return errors.Is(err, want)
}
