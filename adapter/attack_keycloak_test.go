package adapter_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// countingJWKS serves realm's real JWKS through an httptest server that
// counts the fetches, and returns a verifier for realm over it.
func countingJWKS(t *testing.T, realm *keycloaktest.Keycloak) (*oidc.Verifier, *atomic.Int64) {
	t.Helper()
	var fetches atomic.Int64
	certs := realm.IssuerURL() + "/protocol/openid-connect/certs"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		resp, err := realm.HTTPClient.Get(certs)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: srv.URL + "/certs", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: realm.IssuerURL(), Keys: keys,
		Audience: []string{keycloaktest.BackendClientID}})
	if err != nil {
		t.Fatal(err)
	}
	return v, &fetches
}

// realmMiddleware mounts the middleware for v in front of a handler that
// counts its runs.
func realmMiddleware(t *testing.T, v *oidc.Verifier) (http.Handler, *atomic.Int64) {
	t.Helper()
	store := revocation.NewMemory(revocation.Config{})
	t.Cleanup(func() { store.Close() })
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: v, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	return auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})), &runs
}

// present sends token to h and checks the status, and for a refusal the
// exact RFC 6750 challenge.
func present(t *testing.T, h http.Handler, token string, want int) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != want {
		t.Fatalf("status %d, want %d (%s)", rec.Code, want, rec.Body)
	}
	if want == http.StatusUnauthorized {
		const challenge = `Bearer realm="api", error="invalid_token", error_description="invalid token"`
		if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
			t.Fatalf("WWW-Authenticate = %q, want %q", got, challenge)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control = %q", cc)
		}
	}
}

func tokenKID(t *testing.T, token string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	if err := unverifiedHeader(token, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header: %v, kid %q", err, h.Kid)
	}
	return h.Kid
}

// importKey installs key as realm's active RS256 signing key, above every
// key the realm has.
func importKey(t *testing.T, realm *keycloaktest.Keycloak, key *rsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		ID string `json:"id"`
	}
	realm.AdminRequest(t, http.MethodGet, "", nil, &rep)
	realm.AdminRequest(t, http.MethodPost, "/components", map[string]any{
		"name":         "shared-rsa",
		"providerId":   "rsa",
		"providerType": "org.keycloak.keys.KeyProvider",
		"parentId":     rep.ID,
		"config": map[string][]string{
			"priority":   {strconv.Itoa(1_000_000)},
			"enabled":    {"true"},
			"active":     {"true"},
			"algorithm":  {"RS256"},
			"privateKey": {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))},
		},
	}, nil)
}

// TestKeycloakOtherRealmToken presents, to the middleware of a real
// Keycloak realm: the realm's own ID and refresh tokens (401, no JWKS
// fetch); genuine tokens of a second realm of the same Keycloak, signed with
// that realm's real key (401 invalid_token, the handler never runs, at most
// one JWKS fetch for the foreign kid however often the token comes); and,
// with both realms signing with one shared imported key (the same kid in
// both JWKS), the second realm's token, whose signature verifies and which
// the exact issuer check alone refuses, without any fetch.
func TestKeycloakOtherRealmToken(t *testing.T) {
	kc := keycloaktest.New(t)
	realmA, realmB := kc.IsolatedRealm(t, ""), kc.IsolatedRealm(t, "")
	ctx := context.Background()

	t.Run("the realm's own ID and refresh tokens as access tokens", func(t *testing.T) {
		v, fetches := countingJWKS(t, realmA)
		h, runs := realmMiddleware(t, v)
		tok := realmA.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
		present(t, h, tok.AccessToken, http.StatusNoContent)
		if tok.IDToken == "" || tok.RefreshToken == "" {
			t.Fatal("Keycloak returned no ID or refresh token")
		}
		for _, c := range []struct {
			name, token string
			want        error
		}{
			{"ID token", tok.IDToken, oidc.ErrWrongType},           // RS256 with the realm key, typ ID
			{"refresh token", tok.RefreshToken, oidc.ErrAlgorithm}, // HS512 with the realm's HMAC key
		} {
			present(t, h, c.token, http.StatusUnauthorized)
			if _, err := v.Verify(ctx, c.token); !errors.Is(err, c.want) {
				t.Fatalf("%s: error = %v, want %v", c.name, err, c.want)
			}
		}
		if runs.Load() != 1 || fetches.Load() != 1 {
			t.Fatalf("%d handler runs, %d JWKS fetches; want 1 and 1", runs.Load(), fetches.Load())
		}
	})

	t.Run("other realm's own key", func(t *testing.T) {
		v, fetches := countingJWKS(t, realmA)
		h, runs := realmMiddleware(t, v)
		own := realmA.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
		present(t, h, own.AccessToken, http.StatusNoContent)
		if runs.Load() != 1 || fetches.Load() != 1 {
			t.Fatalf("control: %d handler runs, %d JWKS fetches", runs.Load(), fetches.Load())
		}
		foreign := realmB.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
		// Genuine: realm B's own verifier accepts it.
		vb, _ := countingJWKS(t, realmB)
		if _, err := vb.Verify(ctx, foreign.AccessToken); err != nil {
			t.Fatalf("realm B refuses its own token: %v", err)
		}
		if tokenKID(t, foreign.AccessToken) == tokenKID(t, own.AccessToken) {
			t.Fatal("the realms share a kid: the case would test something else")
		}
		for range 20 {
			present(t, h, foreign.AccessToken, http.StatusUnauthorized)
		}
		if _, err := v.Verify(ctx, foreign.AccessToken); !errors.Is(err, oidc.ErrUnknownKey) {
			t.Fatalf("error = %v, want ErrUnknownKey", err)
		}
		if runs.Load() != 1 {
			t.Fatalf("the handler ran for the foreign token (%d runs)", runs.Load())
		}
		if n := fetches.Load(); n > 2 {
			t.Fatalf("%d JWKS fetches, want the initial one and at most one for the foreign kid", n)
		}
		// The first realm's token is still accepted afterwards.
		present(t, h, own.AccessToken, http.StatusNoContent)
	})

	t.Run("realms sharing a key: same kid in both", func(t *testing.T) {
		shared, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		importKey(t, realmA, shared)
		importKey(t, realmB, shared)
		own := realmA.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
		foreign := realmB.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
		kid := tokenKID(t, own.AccessToken)
		if tokenKID(t, foreign.AccessToken) != kid {
			t.Fatalf("kids differ: %q and %q", kid, tokenKID(t, foreign.AccessToken))
		}
		v, fetches := countingJWKS(t, realmA)
		h, runs := realmMiddleware(t, v)
		present(t, h, own.AccessToken, http.StatusNoContent)
		for range 20 {
			present(t, h, foreign.AccessToken, http.StatusUnauthorized)
		}
		if _, err := v.Verify(ctx, foreign.AccessToken); !errors.Is(err, oidc.ErrWrongIssuer) {
			t.Fatalf("error = %v, want ErrWrongIssuer", err)
		}
		if runs.Load() != 1 {
			t.Fatalf("the handler ran for the foreign token (%d runs)", runs.Load())
		}
		if n := fetches.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches, want only the initial one", n)
		}
	})
}
