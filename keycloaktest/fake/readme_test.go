package fake_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// profile stands for the handler of the API under test.
func profile(w http.ResponseWriter, r *http.Request) {
	c, _ := adapter.FromContext(r.Context())
	fmt.Fprintln(w, "hello", c.PreferredUsername)
}

// TestProfile is README.md's unit test of an API with the fake realm
// (internal/doccheck keeps the two the same): a genuine token is accepted,
// an expired one and one of another issuer are refused, with no Keycloak
// and no Java.
func TestProfile(t *testing.T) {
	kc := fake.New(t, fake.Config{TLS: true}) // realm "tokenwarden": clients backend, mobile; users alice, bob
	auth, err := adapter.New(context.Background(), adapter.Config{
		Issuer: kc.IssuerURL(), Audience: "backend", HTTPClient: kc.HTTPClient})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	api := auth.Middleware(http.HandlerFunc(profile)) // the handler under test

	tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
	for token, want := range map[string]int{
		tok:                                http.StatusOK,
		kc.Break(t, tok, fake.Expired):     http.StatusUnauthorized,
		kc.Break(t, tok, fake.OtherIssuer): http.StatusUnauthorized,
	} {
		rec, req := httptest.NewRecorder(), httptest.NewRequest("GET", "/api/profile", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if api.ServeHTTP(rec, req); rec.Code != want {
			t.Errorf("GET /api/profile: %d, want %d", rec.Code, want)
		}
	}
}
