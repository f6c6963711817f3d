package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// jwksKids returns the kids the realm's JWKS lists.
func jwksKids(t *testing.T, kc *keycloaktest.Keycloak) []string {
	t.Helper()
	resp, err := kc.HTTPClient.Get(kc.IssuerURL() + "/protocol/openid-connect/certs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestKeycloakKeyRemoval takes a realm key through Keycloak's retirement
// steps: a new key is added, the old one made passive (still in the JWKS,
// its tokens verify), disabled, then deleted. Once the JWKS no longer lists
// it, its tokens are refused by the next scheduled refresh (the key set's
// lifetime is MinRefresh, as Keycloak sends Cache-Control: no-cache; the
// refresh runs at 3/4 of it ±10%, so within 0.825 × MinRefresh of the last
// load), the verified-token cache included; tokens of the new key verify
// throughout, and presenting the removed kid over and over costs at most
// one extra fetch (the negative kid cache).
func TestKeycloakKeyRemoval(t *testing.T) {
	kc := keycloaktest.New(t).IsolatedRealm(t, "")
	const minRefresh = 2 * time.Second
	var mu sync.Mutex
	fetches := map[string]int{}
	count := func() (map[string]int, int) {
		mu.Lock()
		defer mu.Unlock()
		m, n := map[string]int{}, 0
		for k, v := range fetches {
			m[k] = v
			n += v
		}
		return m, n
	}
	ks, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{
		URL: kc.IssuerURL() + "/protocol/openid-connect/certs", InsecureAllowHTTP: true, MinRefresh: minRefresh,
		Observe: func(ev oidc.FetchEvent) {
			mu.Lock()
			fetches[ev.Reason]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: kc.IssuerURL(), Keys: ks, Audience: []string{"backend"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kidOf := func(token string) string {
		var h struct {
			Kid string `json:"kid"`
		}
		head, _, _ := strings.Cut(token, ".")
		b, _ := base64.RawURLEncoding.DecodeString(head)
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		return h.Kid
	}
	old := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	oldKid := kidOf(old.AccessToken)
	if _, err := v.Verify(ctx, old.AccessToken); err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Keys []struct {
			KID        string `json:"kid"`
			ProviderID string `json:"providerId"`
		} `json:"keys"`
	}
	kc.AdminRequest(t, http.MethodGet, "/keys", nil, &keys)
	component := ""
	for _, k := range keys.Keys {
		if k.KID == oldKid {
			component = k.ProviderID
		}
	}

	newKid := kc.RotateKeys(t)
	kc.SetKeyPassive(t, oldKid)
	fresh := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	if kidOf(fresh.AccessToken) != newKid {
		t.Fatalf("new token signed with %s, want %s", kidOf(fresh.AccessToken), newKid)
	}
	if !slices.Contains(jwksKids(t, kc), oldKid) {
		t.Fatal("a passive key left the JWKS")
	}
	v.ForgetAll()
	for _, tok := range []string{old.AccessToken, fresh.AccessToken} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("passive step: %v", err)
		}
	}
	before, total := count()
	kc.DisableKey(t, oldKid)
	gone := time.Now()
	// Measured on 26.7.3: disabling already takes the key out of the JWKS.
	t.Logf("a disabled key is listed in the JWKS: %v", slices.Contains(jwksKids(t, kc), oldKid))
	kc.AdminRequest(t, http.MethodDelete, "/components/"+component, nil, nil)
	if slices.Contains(jwksKids(t, kc), oldKid) {
		t.Fatal("a deleted key is still in the JWKS")
	}

	tries := 0
	for {
		tries++
		_, err := v.Verify(ctx, old.AccessToken)
		if err != nil {
			if !errors.Is(err, oidc.ErrUnknownKey) {
				t.Fatalf("refused with %v, want ErrUnknownKey", err)
			}
			break
		}
		if time.Since(gone) > 30*minRefresh {
			t.Fatalf("a token of the removed key still verifies after %s", time.Since(gone))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused %s after the key was disabled (bound 0.825 × %s after the last load), %d presentations",
		time.Since(gone).Round(time.Millisecond), minRefresh, tries)
	for range 200 {
		if _, err := v.Verify(ctx, old.AccessToken); !errors.Is(err, oidc.ErrUnknownKey) {
			t.Fatalf("removed key: %v", err)
		}
	}
	if _, err := v.Verify(ctx, fresh.AccessToken); err != nil {
		t.Fatalf("new key: %v", err)
	}
	after, total2 := count()
	unknown := after["unknown_kid"] - before["unknown_kid"]
	refreshes := after["refresh"] - before["refresh"]
	t.Logf("fetches while waiting and for 200 more presentations: %d (%d scheduled, %d unknown kid)", total2-total, refreshes, unknown)
	if unknown > 1 || total2-total != refreshes+unknown {
		t.Fatalf("fetch storm: %v -> %v", before, after)
	}
}
