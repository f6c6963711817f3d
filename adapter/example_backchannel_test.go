package adapter_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Keycloak ends alice's session and posts a logout token to the API's
// back-channel logout URL: from then on every replica sharing the store
// refuses the session's access tokens, although they are still correctly
// signed and unexpired. A replayed logout token is refused.
func ExampleAuthenticator_BackchannelLogoutHandler() {
	// What Keycloak would hold: a realm key. Here a fixed Ed25519 key and a
	// fixed clock, so that the output is stable.
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	sign := func(header, payload string) string {
		in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
	}
	const issuer = "https://sso.example.com/realms/shop"

	verifier, err := oidc.NewVerifier(oidc.VerifierConfig{
		Issuer:     issuer,
		Keys:       oidc.NewStaticKeySet(&oidc.Key{ID: "k1", Algorithm: oidc.EdDSA, Public: priv.Public()}),
		Audience:   []string{"backend"},
		Algorithms: []string{oidc.EdDSA},
		Logout:     oidc.LogoutTokenConfig{Audience: []string{"mobile"}}, // the client whose back-channel URL Keycloak calls
		Now:        clock,
	})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: verifier, Realm: "shop", Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /api/profile", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := adapter.FromContext(r.Context())
		fmt.Fprint(w, "hello ", c.PreferredUsername)
	})))
	mux.Handle("POST /auth/backchannel-logout", auth.BackchannelLogoutHandler())

	access := sign(`{"alg":"EdDSA","typ":"JWT","kid":"k1"}`, `{"iss":"`+issuer+`","aud":"backend","azp":"mobile",`+
		`"typ":"Bearer","sub":"u-alice","sid":"s-1","jti":"a-1","iat":1799999900,"exp":1800000200,"preferred_username":"alice"}`)
	logout := sign(`{"alg":"EdDSA","typ":"logout+jwt","kid":"k1"}`, `{"iss":"`+issuer+`","aud":"mobile","sub":"u-alice",`+
		`"sid":"s-1","jti":"l-1","iat":1799999990,"exp":1800000110,`+
		`"events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)

	profile := func() {
		r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println("GET /api/profile", w.Code, w.Body.String())
			return
		}
		fmt.Println("GET /api/profile", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	backchannel := func() {
		r := httptest.NewRequest(http.MethodPost, "/auth/backchannel-logout", strings.NewReader(url.Values{"logout_token": {logout}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println("POST /auth/backchannel-logout", w.Code)
	}

	profile()
	backchannel()
	profile()
	backchannel() // the same logout token again
	// Output:
	// GET /api/profile 200 hello alice
	// POST /auth/backchannel-logout 200
	// GET /api/profile 401 Bearer realm="shop", error="invalid_token", error_description="token revoked"
	// POST /auth/backchannel-logout 400
}
