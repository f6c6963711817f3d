package oidc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// realmVerifier builds a Verifier for kc's realm backed by a RemoteKeySet
// on the realm's JWKS.
func realmVerifier(t *testing.T, kc *keycloaktest.Keycloak) (*oidc.Verifier, *oidc.RemoteKeySet) {
	t.Helper()
	ks, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{
		URL:                kc.IssuerURL() + "/protocol/openid-connect/certs",
		InsecureAllowHTTP:  true, // the test Keycloak listens on 127.0.0.1 over http
		UnknownKidCooldown: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	v, err := oidc.NewVerifier(oidc.VerifierConfig{
		Issuer:            kc.IssuerURL(),
		Keys:              ks,
		Audience:          []string{"backend"},
		AuthorizedParties: []string{"mobile", "backend"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, ks
}

func TestKeycloakAccessTokens(t *testing.T) {
	kc := keycloaktest.New(t)
	v, ks := realmVerifier(t, kc)
	ctx := context.Background()

	bob := kc.PasswordToken(t, "mobile", "", "bob", "bob-password")
	c, err := v.Verify(ctx, bob.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != kc.IssuerURL() || c.Type != "Bearer" || c.AuthorizedParty != "mobile" || c.SessionID == "" ||
		!c.HasAudience("backend") || !c.HasRealmRole("admin") || !c.HasRealmRole("user") ||
		!c.HasClientRole("backend", "reader") || !c.HasClientRole("backend", "writer") || c.PreferredUsername != "bob" {
		t.Fatalf("bob's claims: %+v", c)
	}

	alice := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	c, err = v.Verify(ctx, alice.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasRealmRole("user") || c.HasRealmRole("admin") || !c.HasClientRole("backend", "reader") || c.HasClientRole("backend", "writer") {
		t.Fatalf("alice's roles: realm %v client %v", c.RealmRoles, c.ClientRoles)
	}

	svc := kc.ClientCredentialsToken(t, "backend", "backend-secret")
	c, err = v.Verify(ctx, svc.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthorizedParty != "backend" || c.SessionID != "" {
		t.Fatalf("service-account claims: %+v", c)
	}

	// An ID token (payload typ "ID") is not an access token.
	if bob.IDToken == "" {
		t.Fatal("no ID token in the password grant")
	}
	_, err = v.Verify(ctx, bob.IDToken)
	if !errors.Is(err, oidc.ErrWrongType) {
		t.Fatalf("ID token: %v, want ErrWrongType", err)
	}
	// Keycloak signs refresh tokens with the realm's HMAC key (HS512):
	// refused for its algorithm before its payload typ "Refresh" matters.
	_, err = v.Verify(ctx, bob.RefreshToken)
	if !errors.Is(err, oidc.ErrAlgorithm) && !errors.Is(err, oidc.ErrWrongType) {
		t.Fatalf("refresh token: %v, want ErrAlgorithm or ErrWrongType", err)
	}
	// A verifier configured for another issuer refuses the token even with
	// the same keys.
	other, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: kc.IssuerURL() + "x", Keys: ks, Audience: []string{"backend"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, bob.AccessToken); !errors.Is(err, oidc.ErrWrongIssuer) {
		t.Fatalf("other issuer: %v", err)
	}
}

func TestKeycloakKeyRotation(t *testing.T) {
	kc := keycloaktest.New(t).IsolatedRealm(t, "")
	v, ks := realmVerifier(t, kc)
	ctx := context.Background()
	old := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	if _, err := v.Verify(ctx, old.AccessToken); err != nil {
		t.Fatal(err)
	}
	before := ks.Stats().Fetches
	kc.RotateKeys(t)
	fresh := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	if _, err := v.Verify(ctx, fresh.AccessToken); err != nil {
		t.Fatal(err)
	}
	if got := ks.Stats().Fetches - before; got != 1 {
		t.Fatalf("%d JWKS fetches after rotation, want exactly 1", got)
	}
	v.ForgetAll()
	if _, err := v.Verify(ctx, old.AccessToken); err != nil {
		t.Fatalf("token signed by the previous key: %v", err)
	}
	if got := ks.Stats().Fetches - before; got != 1 {
		t.Fatalf("%d JWKS fetches, want still 1", got)
	}
}

// TestKeycloakLogoutAndAdminMessages receives Keycloak's own back-channel
// logout token and k_push_not_before message and verifies them.
func TestKeycloakLogoutAndAdminMessages(t *testing.T) {
	var mu sync.Mutex
	var logoutTokens, adminBodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/backchannel-logout":
			if err := r.ParseForm(); err == nil {
				mu.Lock()
				logoutTokens = append(logoutTokens, r.PostForm.Get("logout_token"))
				mu.Unlock()
			}
		case "/auth/keycloak/k_push_not_before", "/auth/keycloak/k_logout":
			b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
			mu.Lock()
			adminBodies = append(adminBodies, string(b))
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	kc := keycloaktest.New(t).IsolatedRealm(t, srv.URL)
	v, _ := realmVerifier(t, kc)
	ctx := context.Background()

	tk := kc.LoginPKCE(t, "bob", "bob-password")
	if tk.SessionID == "" {
		t.Fatal("no sid in the access token")
	}
	kc.LogoutUser(t, "bob")
	mu.Lock()
	got := append([]string(nil), logoutTokens...)
	mu.Unlock()
	if len(got) == 0 {
		t.Fatal("Keycloak sent no logout token")
	}
	lc, err := v.VerifyLogoutToken(ctx, got[0])
	if err != nil {
		t.Fatal(err)
	}
	if lc.Issuer != kc.IssuerURL() || lc.SessionID != tk.SessionID || lc.Subject != tk.Subject || lc.ID == "" ||
		lc.Expiry.Sub(lc.IssuedAt) <= 0 || lc.Expiry.Sub(lc.IssuedAt) > 10*time.Minute {
		t.Fatalf("logout claims: %+v (sid %q sub %q)", lc, tk.SessionID, tk.Subject)
	}
	// The logout token is not an access token.
	if _, err := v.Verify(ctx, got[0]); !errors.Is(err, oidc.ErrWrongType) {
		t.Fatalf("logout token as access token: %v", err)
	}

	nb := kc.SetClientNotBeforeNow(t, "backend")
	kc.PushClientRevocation(t, "backend")
	mu.Lock()
	bodies := append([]string(nil), adminBodies...)
	mu.Unlock()
	if len(bodies) == 0 {
		t.Fatal("Keycloak sent no admin message")
	}
	act, err := v.VerifyAdminAction(ctx, bodies[len(bodies)-1])
	if err != nil {
		t.Fatal(err)
	}
	if act.Action != oidc.AdminActionPushNotBefore || act.Resource != "backend" || act.NotBefore.Unix() != nb {
		t.Fatalf("admin action: %+v", act)
	}
}
