package introspect_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tokenwarden/tokenwarden/introspect"
)

func TestNewRejectsBadConfig(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	base := func() introspect.Config {
		return introspect.Config{
			IntrospectionURL: "https://kc.example/i", RevocationURL: "https://kc.example/r",
			ClientID: testClient, ClientSecret: testSecret, Issuer: testIssuer,
		}
	}
	tests := []struct {
		name string
		mod  func(*introspect.Config)
		ok   bool
	}{
		{"valid", func(*introspect.Config) {}, true},
		{"no client id", func(c *introspect.Config) { c.ClientID = "" }, false},
		{"no endpoints", func(c *introspect.Config) { c.IntrospectionURL, c.RevocationURL = "", "" }, false},
		{"relative url", func(c *introspect.Config) { c.IntrospectionURL = "/introspect" }, false},
		{"ftp url", func(c *introspect.Config) { c.IntrospectionURL = "ftp://kc.example/i" }, false},
		{"http on a remote host", func(c *introspect.Config) { c.IntrospectionURL = "http://kc.example/i" }, false},
		{"http on a remote host, allowed", func(c *introspect.Config) {
			c.IntrospectionURL, c.InsecureAllowHTTP = "http://keycloak:8080/i", true
		}, true},
		{"http on loopback", func(c *introspect.Config) { c.IntrospectionURL = "http://127.0.0.1:8080/i" }, true},
		{"http on localhost", func(c *introspect.Config) { c.IntrospectionURL = "http://localhost:8080/i" }, true},
		{"no issuer with introspection", func(c *introspect.Config) { c.Issuer = "" }, false},
		{"no issuer, revocation only", func(c *introspect.Config) { c.Issuer, c.IntrospectionURL = "", "" }, true},
		{"basic without secret", func(c *introspect.Config) {
			c.AuthMethod, c.ClientSecret = introspect.AuthClientSecretBasic, ""
		}, false},
		{"post without secret", func(c *introspect.Config) {
			c.AuthMethod, c.ClientSecret = introspect.AuthClientSecretPost, ""
		}, false},
		{"none with introspection", func(c *introspect.Config) { c.AuthMethod = introspect.AuthNone }, false},
		{"none, implicit, with introspection", func(c *introspect.Config) { c.ClientSecret = "" }, false},
		{"none, revocation only", func(c *introspect.Config) {
			c.AuthMethod, c.IntrospectionURL, c.ClientSecret = introspect.AuthNone, "", ""
		}, true},
		{"private_key_jwt without signer", func(c *introspect.Config) { c.AuthMethod = introspect.AuthPrivateKeyJWT }, false},
		{"private_key_jwt with ec key", func(c *introspect.Config) { c.Signer = ec }, true},
		{"alg does not fit the key", func(c *introspect.Config) { c.Signer, c.SigningAlgorithm = ec, "RS256" }, false},
		{"unknown auth method", func(c *introspect.Config) { c.AuthMethod = "tls_client_auth" }, false},
		{"and-rule without parties", func(c *introspect.Config) { c.RequireAudienceAndParty = true }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			_, err := introspect.New(cfg)
			if tt.ok && err != nil {
				t.Fatalf("New: %v", err)
			}
			if !tt.ok && !errors.Is(err, introspect.ErrConfig) {
				t.Fatalf("New: got %v, want ErrConfig", err)
			}
		})
	}
}

func TestAuthMethodDefault(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	f := newFakeAS(t)
	tests := []struct {
		name string
		mod  func(*introspect.Config)
		want introspect.AuthMethod
	}{
		{"secret", nil, introspect.AuthClientSecretBasic},
		{"signer", func(c *introspect.Config) { c.Signer = edPriv }, introspect.AuthPrivateKeyJWT},
		{"neither", func(c *introspect.Config) { c.ClientSecret, c.IntrospectionURL = "", "" }, introspect.AuthNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newClient(t, f, tt.mod).AuthMethod(); got != tt.want {
				t.Fatalf("AuthMethod() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestClientAuthentication checks what each method puts on the wire, for
// both endpoints, with a client id and secret that need form-urlencoding.
func TestClientAuthentication(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const id = "my client:1"
	tests := []struct {
		name  string
		mod   func(*introspect.Config)
		check func(t *testing.T, s seen, endpoint string)
	}{
		{"client_secret_basic", func(c *introspect.Config) { c.AuthMethod = introspect.AuthClientSecretBasic },
			func(t *testing.T, s seen, _ string) {
				user, pass := decodeBasic(t, s.Authorization)
				// RFC 6749 §2.3.1: form-urlencoded before Base64.
				if want := url.QueryEscape(id); user != want {
					t.Errorf("basic user = %q, want %q", user, want)
				}
				if want := url.QueryEscape(testSecret); pass != want {
					t.Errorf("basic password = %q, want %q", pass, want)
				}
				if !strings.Contains(pass, "%3A") || !strings.Contains(pass, "%25") || !strings.Contains(pass, "%2B") ||
					!strings.Contains(pass, "+") {
					t.Errorf("secret %q was not form-urlencoded (':' '%%' '+' ' ')", pass)
				}
				if u, _ := url.QueryUnescape(user); u != id {
					t.Errorf("decoded user = %q", u)
				}
				if p, _ := url.QueryUnescape(pass); p != testSecret {
					t.Errorf("decoded secret = %q", p)
				}
				for _, k := range []string{"client_secret", "client_assertion", "client_id"} {
					if s.Form.Has(k) {
						t.Errorf("form has %s with client_secret_basic", k)
					}
				}
			}},
		{"client_secret_post", func(c *introspect.Config) { c.AuthMethod = introspect.AuthClientSecretPost },
			func(t *testing.T, s seen, _ string) {
				if s.Authorization != "" {
					t.Errorf("Authorization header sent with client_secret_post")
				}
				if s.Form.Get("client_id") != id || s.Form.Get("client_secret") != testSecret {
					t.Errorf("form credentials = %q/%q", s.Form.Get("client_id"), s.Form.Get("client_secret"))
				}
			}},
		{"private_key_jwt", func(c *introspect.Config) { c.Signer, c.KeyID = rsaKey, "k1" },
			func(t *testing.T, s seen, _ string) {
				if s.Authorization != "" || s.Form.Has("client_secret") {
					t.Errorf("secret sent with private_key_jwt")
				}
				if got := s.Form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
					t.Errorf("client_assertion_type = %q", got)
				}
				checkAssertion(t, s.Form.Get("client_assertion"), &rsaKey.PublicKey, id, testIssuer, "k1")
			}},
		{"private_key_jwt audience override", func(c *introspect.Config) {
			c.Signer, c.AssertionAudience = rsaKey, "https://kc.example/token"
		}, func(t *testing.T, s seen, _ string) {
			checkAssertion(t, s.Form.Get("client_assertion"), &rsaKey.PublicKey, id, "https://kc.example/token", "")
		}},
		{"none (revocation)", func(c *introspect.Config) {
			c.AuthMethod, c.ClientSecret, c.IntrospectionURL = introspect.AuthNone, "", ""
		}, func(t *testing.T, s seen, _ string) {
			if s.Authorization != "" || s.Form.Has("client_secret") || s.Form.Has("client_assertion") {
				t.Errorf("credentials sent by a public client")
			}
			if s.Form.Get("client_id") != id {
				t.Errorf("client_id = %q", s.Form.Get("client_id"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			c := newClient(t, f, func(c *introspect.Config) { c.ClientID, c.Audience = id, []string{testClient}; tt.mod(c) })
			ctx := context.Background()
			for _, ep := range []string{introspect.EndpointIntrospection, introspect.EndpointRevocation} {
				var wantPath string
				if ep == introspect.EndpointIntrospection {
					if c.AuthMethod() == introspect.AuthNone {
						continue
					}
					f.set(raw(200, activeJSON(nil)))
					if _, err := c.Introspect(ctx, testToken, introspect.HintAccessToken); err != nil {
						t.Fatalf("Introspect: %v", err)
					}
					wantPath = introPath
				} else {
					f.set(raw(200, ""))
					if err := c.Revoke(ctx, testToken, introspect.HintRefreshToken); err != nil {
						t.Fatalf("Revoke: %v", err)
					}
					wantPath = revokePath
				}
				s := f.last(t)
				if s.Method != "POST" || s.Path != wantPath || s.ContentType != "application/x-www-form-urlencoded" {
					t.Errorf("%s: request %s %s %q", ep, s.Method, s.Path, s.ContentType)
				}
				if s.Form.Get("token") != testToken {
					t.Errorf("%s: token field = %q", ep, s.Form.Get("token"))
				}
				wantHint := introspect.HintAccessToken
				if ep == introspect.EndpointRevocation {
					wantHint = introspect.HintRefreshToken
				}
				if s.Form.Get("token_type_hint") != wantHint {
					t.Errorf("%s: token_type_hint = %q", ep, s.Form.Get("token_type_hint"))
				}
				tt.check(t, s, ep)
			}
		})
	}
}

func TestPrivateKeyJWTFreshAssertions(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	f := newFakeAS(t)
	c := newClient(t, f, func(c *introspect.Config) { c.Signer = edPriv })
	f.set(raw(200, ""))
	jtis := map[string]bool{}
	for range 3 {
		if err := c.Revoke(context.Background(), testToken, ""); err != nil {
			t.Fatal(err)
		}
		claims := checkAssertion(t, f.last(t).Form.Get("client_assertion"), edPriv.Public(), testClient, testIssuer, "")
		if jtis[claims.ID] {
			t.Fatalf("jti %q reused", claims.ID)
		}
		jtis[claims.ID] = true
	}
	if f.last(t).Form.Has("token_type_hint") {
		t.Error("token_type_hint sent for an empty hint")
	}
}

func decodeBasic(t *testing.T, h string) (string, string) {
	t.Helper()
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		t.Fatalf("Authorization = %q, want Basic", h)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		t.Fatalf("basic credentials without ':'")
	}
	return user, pass
}

func checkAssertion(t *testing.T, assertion string, pub crypto.PublicKey, clientID, aud, kid string) jwt.Claims {
	t.Helper()
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("client_assertion: %v", err)
	}
	if got := tok.Headers[0].KeyID; got != kid {
		t.Errorf("kid = %q, want %q", got, kid)
	}
	if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != "JWT" {
		t.Errorf("typ = %v", typ)
	}
	var c jwt.Claims
	if err := tok.Claims(pub, &c); err != nil {
		t.Fatalf("client_assertion signature: %v", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: clientID, Subject: clientID, AnyAudience: jwt.Audience{aud},
		Time: testNow}, 0); err != nil {
		t.Errorf("client_assertion claims: %v", err)
	}
	if len(c.Audience) != 1 {
		t.Errorf("aud has %d values, Keycloak accepts one", len(c.Audience))
	}
	if c.ID == "" || c.Expiry == nil || c.IssuedAt == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) != time.Minute {
		t.Errorf("jti/iat/exp = %q %v %v", c.ID, c.IssuedAt, c.Expiry)
	}
	return c
}
