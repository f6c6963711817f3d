// Package testtoken signs Keycloak-shaped access tokens with a local RSA key
// and verifies them with a static key set, for the examples' unit tests.
package testtoken

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Issuer is a local token issuer.
const Issuer = "https://sso.example.com/realms/acme"

// Audience is the audience of the tokens and of the verifier.
const Audience = "backend"

// Signer signs tokens; Verifier accepts them.
type Signer struct {
	key      *rsa.PrivateKey
	signer   jose.Signer
	Verifier *oidc.Verifier
}

// New returns a Signer with a fresh 2048-bit key.
func New(t testing.TB) *Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test-key"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: Issuer, Audience: []string{Audience},
		Keys: oidc.NewStaticKeySet(&oidc.Key{ID: "test-key", Algorithm: oidc.RS256, Public: &key.PublicKey})})
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{key: key, signer: sig, Verifier: v}
}

// Token returns a signed access token for username with the realm roles,
// valid for five minutes. extra claims are merged in (and may replace the
// defaults).
func (s *Signer) Token(t testing.TB, username string, roles []string, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"iss": Issuer, "aud": Audience, "sub": "sub-" + username, "typ": "Bearer", "azp": "mobile",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "jti-" + username + "-" + now.Format("150405.000000000"),
		"sid": "sid-" + username, "preferred_username": username, "scope": "openid profile",
		"realm_access": map[string]any{"roles": roles},
	}
	for k, v := range extra {
		c[k] = v
	}
	tok, err := jwt.Signed(s.signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// CheckRoutes runs the checks every framework example must pass against h,
// which serves GET /api/profile (any valid token) and GET /api/admin/report
// (realm role admin) behind auth: 401 with an RFC 6750 challenge without or
// with a bad or revoked token, the username in the profile, 403
// insufficient_scope for a user without the role, 200 for an admin.
func (s *Signer) CheckRoutes(t *testing.T, h http.Handler, auth *adapter.Authenticator) {
	t.Helper()
	alice := s.Token(t, "alice", []string{"user"}, nil)
	bob := s.Token(t, "bob", []string{"user", "admin"}, nil)
	revoked := s.Token(t, "carol", []string{"admin"}, map[string]any{"jti": "revoked"})
	if err := auth.Store().RevokeToken(context.Background(), Issuer, "revoked", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, token string
		want              int
		wantAuth          string // prefix of WWW-Authenticate; "" means none
		wantBody          string
	}{
		{"no token", "/api/profile", "", 401, `Bearer realm="api"`, ""},
		{"bad token", "/api/profile", "x.y.z", 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"revoked token", "/api/profile", revoked, 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"profile", "/api/profile", alice, 200, "", `"username":"alice"`},
		{"admin route without the role", "/api/admin/report", alice, 403, `Bearer realm="api", error="insufficient_scope"`, ""},
		{"admin route with the role", "/api/admin/report", bob, 200, "", `"requested_by":"bob"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			got := rec.Header().Get("WWW-Authenticate")
			if (tt.wantAuth == "") != (got == "") || !strings.HasPrefix(got, tt.wantAuth) {
				t.Errorf("WWW-Authenticate %q, want prefix %q", got, tt.wantAuth)
			}
			if tt.want != 200 && (strings.Contains(rec.Body.String(), `"report"`) || strings.Contains(rec.Body.String(), `"username"`)) {
				t.Errorf("a refused request reached the handler: %s", rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s, want it to contain %s", rec.Body, tt.wantBody)
			}
		})
	}
}
