package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// TestKeycloakDiscovery runs discovery against the real Keycloak of
// `make services` (realm tokenwarden).
func TestKeycloakDiscovery(t *testing.T) {
	base := testenv.Keycloak(t)
	realm := testenv.KeycloakRealm(t)
	issuer := KeycloakIssuer(base, realm)
	if issuer != testenv.KeycloakIssuer(t) {
		t.Fatalf("KeycloakIssuer = %q, testenv says %q", issuer, testenv.KeycloakIssuer(t))
	}
	ctx := context.Background()
	d, err := Discover(ctx, DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true, HTTPClient: testenv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	oc := issuer + "/protocol/openid-connect"
	for name, c := range map[string][2]string{
		"introspection": {d.IntrospectionEndpoint, oc + "/token/introspect"},
		"revocation":    {d.RevocationEndpoint, oc + "/revoke"},
		"end_session":   {d.EndSessionEndpoint, oc + "/logout"},
		"jwks":          {d.JWKSURI, oc + "/certs"},
		"token":         {d.TokenEndpoint, oc + "/token"},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if !d.BackchannelLogoutSupported || !d.BackchannelLogoutSessionSupported {
		t.Error("Keycloak advertises back-channel logout with session support")
	}
	for _, m := range [][]string{d.IntrospectionEndpointAuthMethods, d.RevocationEndpointAuthMethods, d.TokenEndpointAuthMethods} {
		if !slices.Contains(m, "client_secret_basic") {
			t.Errorf("auth methods %v lack client_secret_basic", m)
		}
	}
	if !slices.Contains(d.IDTokenSigningAlgs, RS256) {
		t.Errorf("id_token algs %v", d.IDTokenSigningAlgs)
	}
	if d.Provider() == nil || d.Provider().Endpoint().TokenURL != d.TokenEndpoint {
		t.Error("go-oidc provider not kept")
	}
}

// TestKeycloakJWKS loads the realm's JWKS: the RSA-OAEP encryption key is
// skipped, the RS256 signing key kept, and nothing else is fetched for it.
func TestKeycloakJWKS(t *testing.T) {
	issuer := testenv.KeycloakIssuer(t)
	ctx := context.Background()
	d, err := Discover(ctx, DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}

	// The raw document, through ParseJWKS.
	resp, err := testenv.HTTPClient().Get(d.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	_, err = copyLimited(&body, resp.Body, defaultMaxJWKSBytes)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	keys, skipped, err := ParseJWKS([]byte(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	var rs256 *Key
	for _, k := range keys {
		if k.Algorithm == RS256 {
			rs256 = k
		}
	}
	if rs256 == nil || rs256.ID == "" {
		t.Fatalf("no RS256 signing key among %v", keys)
	}
	encSkipped := false
	for _, s := range skipped {
		if r, _ := skipReason(t, s); r == jose.SkipNotSigning {
			encSkipped = true
		} else {
			t.Errorf("unexpected skip: %v", s)
		}
	}
	if !encSkipped {
		t.Fatal("the RSA-OAEP enc key was not skipped")
	}

	// Through the cache: Keycloak sends Cache-Control: no-cache, so the set
	// lives MinRefresh.
	ks, err := d.NewRemoteKeySet(KeySetConfig{MinRefresh: defaultMinRefresh})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	k, err := ks.Key(ctx, rs256.ID)
	if err != nil || k.Algorithm != RS256 {
		t.Fatalf("Key: %v %v", k, err)
	}
	for range 100 {
		if _, err := ks.Key(ctx, rs256.ID); err != nil {
			t.Fatal(err)
		}
	}
	st := ks.Stats()
	if st.Fetches != 1 || st.ExpiresAt.Sub(st.LoadedAt) != defaultMinRefresh {
		t.Fatalf("stats %+v: want one fetch and a MinRefresh lifetime", st)
	}
}

// TestKeycloakInternalURL: tokens name http://localhost:<port>/realms/x while
// this process reaches Keycloak on 127.0.0.1 (the Docker-network case with
// another host name). Keycloak has no fixed hostname, so the document names
// the 127.0.0.1 issuer; Discover accepts it as the internal spelling, keeps
// the public issuer for iss checks, and points back-channel endpoints at the
// internal host and browser-facing ones at the public host.
func TestKeycloakInternalURL(t *testing.T) {
	base := testenv.Keycloak(t)
	if !strings.Contains(base, "127.0.0.1") {
		t.Skipf("needs Keycloak on 127.0.0.1, have %s", base)
	}
	realm := testenv.KeycloakRealm(t)
	public := strings.Replace(base, "127.0.0.1", "localhost", 1)
	d, err := Discover(context.Background(), DiscoveryConfig{
		Issuer: KeycloakIssuer(public, realm), InternalURL: base, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Issuer != KeycloakIssuer(public, realm) || d.AdvertisedIssuer != KeycloakIssuer(base, realm) {
		t.Fatalf("issuer %q advertised %q", d.Issuer, d.AdvertisedIssuer)
	}
	if !strings.HasPrefix(d.IntrospectionEndpoint, base) || !strings.HasPrefix(d.JWKSURI, base) ||
		!strings.HasPrefix(d.RevocationEndpoint, base) || !strings.HasPrefix(d.TokenEndpoint, base) {
		t.Errorf("back-channel endpoints not internal: %+v", d)
	}
	if !strings.HasPrefix(d.AuthorizationEndpoint, public) || !strings.HasPrefix(d.EndSessionEndpoint, public) {
		t.Errorf("browser-facing endpoints not public: %q %q", d.AuthorizationEndpoint, d.EndSessionEndpoint)
	}
	ks, err := d.NewRemoteKeySet(KeySetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.Stats().Keys == 0 {
		t.Fatal("no keys loaded through the internal URL")
	}
	// Without the internal URL the mismatch is refused.
	_, err = Discover(context.Background(), DiscoveryConfig{Issuer: KeycloakIssuer(base, realm) + "x", InsecureAllowHTTP: true})
	if !errors.Is(err, ErrDiscovery) {
		t.Fatalf("wrong realm: %v", err)
	}
}

// TestKeycloakJWKSRotation rotates the signing key of an isolated realm through
// the admin API: tokens signed before verify with the old key, the first token
// signed with the new key costs exactly one JWKS refetch, and the old key keeps
// verifying while Keycloak lists it.
func TestKeycloakJWKSRotation(t *testing.T) {
	kc := keycloaktest.New(t).IsolatedRealm(t, "")
	ctx := context.Background()
	d, err := Discover(ctx, DiscoveryConfig{Issuer: kc.IssuerURL(), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := d.NewRemoteKeySet(KeySetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()

	verify := func(token string) string {
		t.Helper()
		if _, err := ks.VerifySignature(ctx, token); err != nil {
			t.Fatalf("token does not verify: %v", err)
		}
		var hdr struct {
			Kid string `json:"kid"`
		}
		h, _, _ := strings.Cut(token, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(h)
		json.Unmarshal(raw, &hdr)
		return hdr.Kid
	}
	before := kc.PasswordToken(t, keycloaktest.BackendClientID, keycloaktest.BackendClientSecret, "alice", "alice-password")
	oldKid := verify(before.AccessToken)
	if got := ks.Stats().Fetches; got != 1 {
		t.Fatalf("%d fetches before rotation, want 1", got)
	}

	newKid := kc.RotateKeys(t)
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	after := kc.PasswordToken(t, keycloaktest.BackendClientID, keycloaktest.BackendClientSecret, "alice", "alice-password")
	if kid := verify(after.AccessToken); kid != newKid {
		t.Fatalf("new token signed with %q, want the rotated key %q", kid, newKid)
	}
	if got := ks.Stats().Fetches; got != 2 {
		t.Fatalf("%d fetches after the first token of the new key, want exactly 2", got)
	}
	for range 50 {
		verify(before.AccessToken) // the old key is still listed
		verify(after.AccessToken)
	}
	if got := ks.Stats().Fetches; got != 2 {
		t.Fatalf("%d fetches, want still 2", got)
	}
}
