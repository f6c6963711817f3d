package introspect_test

// Tests against the real Keycloak (keycloaktest: `make services`, a local
// distribution or docker). They use the tokenwarden realm's clients
// (backend, mobile) and create their own users and client copies, so they
// never disturb alice, bob or other tests.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/Nerzal/gocloak/v13"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
)

type kc struct {
	*keycloaktest.Keycloak
	t      *testing.T
	issuer string
}

func requireKeycloak(t *testing.T) *kc {
	t.Helper()
	k := keycloaktest.New(t)
	return &kc{Keycloak: k, t: t, issuer: k.IssuerURL()}
}

// newUser creates a user of its own (deleted at cleanup), so tests never
// log out or disable the realm's shared users.
func (k *kc) newUser() (id, name, password string) {
	k.t.Helper()
	id, u := k.CreateUser(k.t, keycloaktest.User{})
	return id, u.Username, u.Password
}

// login runs the password grant for a public client.
func (k *kc) login(clientID, user, password string) keycloaktest.Tokens {
	k.t.Helper()
	return k.PasswordToken(k.t, clientID, "", user, password)
}

func (k *kc) backend(mod func(*introspect.Config)) *introspect.Client {
	k.t.Helper()
	cfg := introspect.Config{
		IntrospectionURL:        k.issuer + "/protocol/openid-connect/token/introspect",
		RevocationURL:           k.issuer + "/protocol/openid-connect/revoke",
		ClientID:                keycloaktest.BackendClientID,
		ClientSecret:            keycloaktest.BackendClientSecret,
		Issuer:                  k.issuer,
		AuthorizedParties:       []string{"mobile"},
		RequireAudienceAndParty: false,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := introspect.New(cfg)
	if err != nil {
		k.t.Fatal(err)
	}
	return c
}

func (k *kc) mobile() *introspect.Client {
	k.t.Helper()
	c, err := introspect.New(introspect.Config{
		RevocationURL: k.issuer + "/protocol/openid-connect/revoke",
		ClientID:      keycloaktest.MobileClientID,
	})
	if err != nil {
		k.t.Fatal(err)
	}
	return c
}

func TestKeycloakIntrospection(t *testing.T) {
	k := requireKeycloak(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	backend, mobile := k.backend(nil), k.mobile()

	t.Run("active token as backend", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		res, err := backend.Introspect(ctx, tok.AccessToken, introspect.HintAccessToken)
		if err != nil {
			t.Fatalf("Introspect: %v", err)
		}
		c := res.Claims
		if c.Issuer != k.issuer || c.AuthorizedParty != "mobile" || !c.HasAudience("backend") || c.SessionID == "" ||
			c.Type != "Bearer" || c.PreferredUsername != name || res.Username != name || res.TokenType != "Bearer" ||
			!c.Expiry.After(time.Now()) || len(c.Raw) == 0 {
			t.Fatalf("result %+v claims %+v", res, c)
		}
		// Default rule (Audience = ClientID) holds too: the mobile client's
		// audience mapper puts backend in aud.
		if _, err := k.backend(func(c *introspect.Config) { c.AuthorizedParties = nil }).Introspect(ctx, tok.AccessToken, ""); err != nil {
			t.Fatalf("default audience rule: %v", err)
		}
	})

	t.Run("access token revoked by mobile is inactive", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		if err := mobile.Revoke(ctx, tok.AccessToken, introspect.HintAccessToken); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := backend.Introspect(ctx, tok.AccessToken, ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v, want ErrInactive", err)
		}
	})

	t.Run("refresh token revoked: the session's access token is inactive", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		if _, err := backend.Introspect(ctx, tok.AccessToken, ""); err != nil {
			t.Fatalf("before: %v", err)
		}
		if err := mobile.Revoke(ctx, tok.RefreshToken, introspect.HintRefreshToken); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := backend.Introspect(ctx, tok.AccessToken, ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v, want ErrInactive", err)
		}
	})

	t.Run("user logged out by admin is inactive", func(t *testing.T) {
		id, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		_ = id
		k.LogoutUser(t, name)
		if _, err := backend.Introspect(ctx, tok.AccessToken, ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v, want ErrInactive", err)
		}
	})

	t.Run("disabled user is inactive", func(t *testing.T) {
		id, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		k.AdminRequest(t, "PUT", "/users/"+id, map[string]any{"enabled": false}, nil)
		if _, err := backend.Introspect(ctx, tok.AccessToken, ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v, want ErrInactive", err)
		}
	})

	t.Run("without an audience mapper the answer is inactive (26.6.2+)", func(t *testing.T) {
		_, name, pw := k.newUser()
		// A copy of mobile without its audience mapper (deleted at cleanup).
		client := k.CloneClient(t, keycloaktest.MobileClientID, func(c *gocloak.Client) { c.ProtocolMappers = nil })
		tok := k.login(client, name, pw)
		// The token verifies locally (signature, iss, exp, azp)…
		keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: k.issuer + "/protocol/openid-connect/certs", InsecureAllowHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		defer keys.Close()
		v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: k.issuer, Keys: keys, AuthorizedParties: []string{client}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatalf("local verification: %v", err)
		}
		// …but backend is not in its aud, so Keycloak says inactive.
		_, err = backend.Introspect(ctx, tok.AccessToken, "")
		if !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v, want ErrInactive", err)
		}
		if !strings.Contains(err.Error(), "audience mapper") {
			t.Fatalf("error %q does not mention the audience mapper", err)
		}
	})

	t.Run("public client cannot introspect", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		// New refuses AuthNone for introspection; a public client sending a
		// secret anyway gets Keycloak's 403.
		c := k.backend(func(c *introspect.Config) { c.ClientID, c.ClientSecret = "mobile", "it-does-not-matter" })
		_, err := c.Introspect(ctx, tok.AccessToken, "")
		var e *introspect.Error
		if !errors.As(err, &e) || e.Status != 403 || !errors.Is(err, introspect.ErrClientAuth) {
			t.Fatalf("got %v, want a 403 *Error wrapping ErrClientAuth", err)
		}
		t.Logf("Keycloak: %v", err)
	})

	t.Run("wrong secret", func(t *testing.T) {
		for _, m := range []introspect.AuthMethod{introspect.AuthClientSecretBasic, introspect.AuthClientSecretPost} {
			c := k.backend(func(c *introspect.Config) { c.ClientSecret, c.AuthMethod = "wrong", m })
			_, err := c.Introspect(ctx, "whatever", "")
			var e *introspect.Error
			if !errors.As(err, &e) || e.Status != 401 || !errors.Is(err, introspect.ErrClientAuth) {
				t.Fatalf("%s: got %v, want a 401 *Error wrapping ErrClientAuth", m, err)
			}
			t.Logf("Keycloak (%s): %v", m, err)
			if err := c.Revoke(ctx, "whatever", ""); !errors.Is(err, introspect.ErrClientAuth) {
				t.Fatalf("%s revoke: got %v, want ErrClientAuth", m, err)
			} else {
				t.Logf("Keycloak (%s): %v", m, err)
			}
		}
	})

	t.Run("client_secret_post works", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		c := k.backend(func(c *introspect.Config) { c.AuthMethod = introspect.AuthClientSecretPost })
		if _, err := c.Introspect(ctx, tok.AccessToken, ""); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"},
		}})
		clientID := k.CloneClient(t, keycloaktest.BackendClientID, func(c *gocloak.Client) {
			c.ClientAuthenticatorType = gocloak.StringP("client-jwt")
			c.Secret = nil
			attrs := map[string]string{}
			if c.Attributes != nil {
				attrs = *c.Attributes
			}
			attrs["use.jwks.string"] = "true"
			attrs["jwks.string"] = string(jwks)
			attrs["token.endpoint.auth.signing.alg"] = "ES256"
			c.Attributes = &attrs
		})
		withKey := func(s crypto.Signer) *introspect.Client {
			return k.backend(func(c *introspect.Config) {
				c.ClientID, c.ClientSecret, c.Signer, c.KeyID = clientID, "", s, "k1"
			})
		}
		// Authenticated: a garbage token is simply inactive.
		for range 2 { // two requests: each assertion carries a fresh jti
			if _, err := withKey(key).Introspect(ctx, "not-a-token", ""); !errors.Is(err, introspect.ErrInactive) {
				t.Fatalf("registered key: got %v, want ErrInactive", err)
			}
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := withKey(other).Introspect(ctx, "not-a-token", ""); !errors.Is(err, introspect.ErrClientAuth) {
			t.Fatalf("unregistered key: got %v, want ErrClientAuth", err)
		}
	})

	t.Run("unknown hint", func(t *testing.T) {
		_, err := backend.Introspect(ctx, "whatever", "id_token")
		var e *introspect.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_request" || !strings.Contains(err.Error(), "token_type_hint") {
			t.Fatalf("got %v, want a 400 invalid_request *Error about the hint", err)
		}
	})

	t.Run("garbage is inactive", func(t *testing.T) {
		if _, err := backend.Introspect(ctx, "not-a-token", ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("revoking an ID token", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		err := mobile.Revoke(ctx, tok.IDToken, "")
		var e *introspect.Error
		if !errors.As(err, &e) || e.Code != "unsupported_token_type" || e.Status != 400 {
			t.Fatalf("got %v, want unsupported_token_type", err)
		}
	})

	t.Run("revoking twice succeeds twice", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		for i := range 2 {
			if err := mobile.Revoke(ctx, tok.RefreshToken, introspect.HintRefreshToken); err != nil {
				t.Fatalf("revoke %d: %v", i+1, err)
			}
		}
	})

	t.Run("revoking another client's token", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		err := backend.Revoke(ctx, tok.RefreshToken, "")
		var e *introspect.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_request" {
			t.Fatalf("got %v, want 400 invalid_request", err)
		}
	})

	t.Run("cache in front of Keycloak, Forget after revoke", func(t *testing.T) {
		_, name, pw := k.newUser()
		tok := k.login("mobile", name, pw)
		cache, err := introspect.NewCache(backend, introspect.CacheConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close()
		first, err := cache.Introspect(ctx, tok.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := cache.Introspect(ctx, tok.AccessToken, ""); again != first {
			t.Fatal("second call not served from the cache")
		}
		if err := mobile.Revoke(ctx, tok.AccessToken, ""); err != nil {
			t.Fatal(err)
		}
		cache.Forget(tok.AccessToken)
		if _, err := cache.Introspect(ctx, tok.AccessToken, ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatalf("after revoke and Forget: %v", err)
		}
	})
}
