package fake_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// A unit test of an API that verifies Keycloak tokens: the fake realm
// serves the keys over TLS, issues alice's tokens and spoils one.
func Example() {
	testProfile := func(t *testing.T) {
		kc := fake.New(t, fake.Config{TLS: true})
		keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: kc.IssuerURL() + "/protocol/openid-connect/certs", HTTPClient: kc.HTTPClient})
		if err != nil {
			t.Fatal(err)
		}
		defer keys.Close()
		v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: kc.IssuerURL(), Keys: keys, Audience: []string{"backend"}})
		if err != nil {
			t.Fatal(err)
		}
		tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
		if _, err := v.Verify(context.Background(), tok.AccessToken); err != nil {
			t.Fatalf("alice's token refused: %v", err)
		}
		if _, err := v.Verify(context.Background(), kc.Break(t, tok.AccessToken, fake.Expired)); err == nil {
			t.Fatal("expired token accepted")
		}
	}
	_ = testProfile
}

// Keycloak ends alice's session and POSTs a logout token to the API, as it
// does when an administrator signs her out.
func ExampleKeycloak_LogoutUser() {
	testBackchannelLogout := func(t *testing.T, api http.Handler) {
		srv := httptest.NewServer(api) // serves POST /auth/backchannel-logout
		defer srv.Close()
		kc := fake.New(t, fake.Config{})
		kc.UpdateClient(t, fake.MobileClientID, func(c *fake.Client) {
			c.BackchannelLogoutURL = srv.URL + "/auth/backchannel-logout"
		})
		tok := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
		kc.LogoutUser(t, "alice") // one logout token per session, with its sid
		_ = tok                   // … the API must now refuse tok.AccessToken
	}
	_ = testBackchannelLogout
}

// Negative tests take a valid token and spoil it.
func ExampleKeycloak_Break() {
	testRefusals := func(t *testing.T, verify func(token string) error) {
		kc := fake.New(t, fake.Config{})
		tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
		for _, f := range []fake.Fault{fake.Expired, fake.UnknownKey, fake.BadSignature, fake.OtherIssuer, fake.Unsigned} {
			if err := verify(kc.Break(t, tok, f)); err == nil {
				t.Errorf("%v token accepted", f)
			}
		}
		idToken := kc.PasswordToken(t, "mobile", "", "alice", "alice-password").IDToken
		if err := verify(idToken); err == nil {
			t.Error("ID token accepted as an access token")
		}
		other := kc.Resign(t, tok, func(_, claims map[string]any) { claims["aud"] = "account" })
		if err := verify(other); err == nil {
			t.Error("token for another audience accepted")
		}
	}
	_ = testRefusals
}

// An API's Keycloak admin endpoint gets a k_push_not_before message.
func ExampleKeycloak_AdminMessage() {
	testPushNotBefore := func(t *testing.T, adminURL string) {
		kc := fake.New(t, fake.Config{})
		msg := kc.AdminMessage(t, fake.AdminAction{
			Action: fake.ActionPushNotBefore, Resource: fake.BackendClientID, NotBefore: time.Now().Unix(),
		})
		if status := kc.PostAdminMessage(t, adminURL+"/k_push_not_before", msg); status != http.StatusOK {
			t.Fatalf("k_push_not_before: HTTP %d", status)
		}
		// The same through the realm: set the client's admin URL, then
		// kc.SetClientNotBeforeNow and kc.PushClientRevocation.
	}
	_ = testPushNotBefore
}

// A realm of one's own, on a clock the test moves.
func ExampleConfig() {
	testExpiry := func(t *testing.T) {
		var mu sync.Mutex // the realm reads the clock from its handlers
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		kc := fake.New(t, fake.Config{
			Realm:   "acme",
			Clients: []fake.Client{{ID: "orders-api", Secret: "s3cret"}, {ID: "web", Audience: []string{"orders-api"}}},
			Users:   []fake.User{{Username: "dave", RealmRoles: []string{"buyer"}}},
			Now:     func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		})
		tok := kc.PasswordToken(t, "web", "", "dave", "dave-password")
		mu.Lock()
		now = now.Add(6 * time.Minute) // past the 5-minute access token lifespan
		mu.Unlock()
		_ = tok // … introspection as orders-api now answers {"active":false}
	}
	_ = testExpiry
}
