package adapter_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/internal/attack"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// inactiveUpstream answers every introspection inactive and counts the
// calls that reach it.
type inactiveUpstream struct {
	mu    sync.Mutex
	calls int
}

func (u *inactiveUpstream) Introspect(context.Context, string, string) (*introspect.Result, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	return nil, introspect.ErrInactive
}

// es256Token signs payload under k and returns it with its other spelling:
// the same (r) with n−s, which verifies too (ECDSA signatures are
// malleable).
func es256Token(t *testing.T, k *ecdsa.PrivateKey, kid, payload string) (token, respelt string) {
	t.Helper()
	input := attack.Enc([]byte(attack.Header("ES256", kid, nil))) + "." + attack.Enc([]byte(payload))
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := func(s *big.Int) string {
		b := make([]byte, 64)
		r.FillBytes(b[:32])
		s.FillBytes(b[32:])
		return input + "." + attack.Enc(b)
	}
	return sig(s), sig(new(big.Int).Sub(k.Curve.Params().N, s))
}

// noContent is the handler behind the middleware in these tests.
var noContent = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// newAuth is adapter.New for a test, closed when it ends.
func newAuth(t *testing.T, cfg adapter.Config) *adapter.Authenticator {
	t.Helper()
	auth, err := adapter.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	return auth
}

// staticVerifier is m's verifier on m's RS256 key, at m's clock.
func staticVerifier(t *testing.T, m *attack.Material) *oidc.Verifier {
	return m.Verifier(t, oidc.NewStaticKeySet(&oidc.Key{ID: m.KID, Algorithm: oidc.RS256, Public: &m.Key.PublicKey}))
}

func get(h http.Handler, path, token string) int {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

// An access token without jti (nor sid) that introspection reports
// inactive is deny-listed by the digest of its verified payload: a route
// that does not introspect refuses it afterwards, under either spelling of
// its signature, and the introspection cache keeps its negative entry.
func TestInactiveTokenWithoutJTIIsDenyListed(t *testing.T) {
	m := attack.NewMaterial(t)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return m.Now }
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: m.Issuer, Audience: []string{m.Audience}, Now: clock,
		Keys:       oidc.NewStaticKeySet(&oidc.Key{ID: "ec-1", Algorithm: oidc.ES256, Public: &k.PublicKey}),
		Algorithms: []string{oidc.ES256}})
	if err != nil {
		t.Fatal(err)
	}
	up := &inactiveUpstream{}
	cache, err := introspect.NewCache(up, introspect.CacheConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	store := revocation.NewMemory(revocation.Config{Now: clock})
	t.Cleanup(func() { store.Close() })
	auth := newAuth(t, adapter.Config{Verifier: v, Store: store, Introspector: cache, Now: clock,
		Policy: adapter.IntrospectionPolicy{Route: func(r *http.Request) bool { return r.URL.Path == "/strict" }}})
	mux := http.NewServeMux()
	mux.Handle("/plain", auth.Middleware(noContent))
	mux.Handle("/strict", auth.Middleware(noContent))

	token, respelt := es256Token(t, k, "ec-1", m.Payload(map[string]any{"jti": nil, "sid": nil}))
	other, _ := es256Token(t, k, "ec-1", m.Payload(map[string]any{"jti": nil, "sid": nil, "iat": m.Now.Unix() - 11}))
	for _, tok := range []string{token, respelt, other} {
		if s := get(mux, "/plain", tok); s != http.StatusNoContent {
			t.Fatalf("before: %d", s)
		}
	}
	if s := get(mux, "/strict", token); s != http.StatusUnauthorized {
		t.Fatalf("introspected route: %d, want 401", s)
	}
	for name, tok := range map[string]string{"token": token, "the other spelling": respelt} {
		if s := get(mux, "/plain", tok); s != http.StatusUnauthorized {
			t.Fatalf("%s on a route without introspection: %d, want 401 from the deny-list", name, s)
		}
	}
	if s := get(mux, "/plain", other); s != http.StatusNoContent {
		t.Fatalf("another token of the subject: %d, want 204", s)
	}
	if _, neg := cache.Len(); neg != 1 {
		t.Fatalf("introspection cache holds %d negative entries, want 1: the inactive answer was forgotten", neg)
	}
	if up.calls != 1 {
		t.Fatalf("%d introspections reached the upstream, want 1", up.calls)
	}
}

// An access token without jti but with sid that introspection reports
// inactive revokes its session up to its iat: it and the session's earlier
// tokens are refused everywhere, a later token of the session is not.
func TestInactiveTokenWithoutJTIRevokesSessionUpToIat(t *testing.T) {
	m := attack.NewMaterial(t)
	clock := func() time.Time { return m.Now }
	v := staticVerifier(t, m)
	store := revocation.NewMemory(revocation.Config{Now: clock})
	t.Cleanup(func() { store.Close() })
	auth := newAuth(t, adapter.Config{Verifier: v, Store: store, Introspector: &inactiveUpstream{},
		Now: clock, Policy: adapter.IntrospectionPolicy{Route: func(r *http.Request) bool { return r.URL.Path == "/strict" }}})
	h := auth.Middleware(noContent)
	at := func(iat int64) string {
		return m.Sign(m.RS256Header(), m.Payload(map[string]any{"jti": nil, "iat": iat}))
	}
	now := m.Now.Unix()
	token, earlier, later := at(now-10), at(now-60), at(now-5)
	if s := get(h, "/strict", token); s != http.StatusUnauthorized {
		t.Fatalf("introspected route: %d, want 401", s)
	}
	for name, tok := range map[string]string{"token": token, "an earlier token of the session": earlier} {
		if s := get(h, "/plain", tok); s != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", name, s)
		}
	}
	if s := get(h, "/plain", later); s != http.StatusNoContent {
		t.Fatalf("a later token of the session: %d, want 204", s)
	}
}

// signAdmin signs a Keycloak admin message with m's key.
func signAdmin(m *attack.Material, msg map[string]any) string {
	b, _ := json.Marshal(msg)
	return m.Sign(attack.Header("RS256", m.KID, nil), string(b))
}

func post(h http.Handler, path, ctype, body, bearer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

type nopRevoker struct{}

func (nopRevoker) Revoke(context.Context, string, string) error { return nil }

// Keycloak's clock runs 20 s ahead of this host's, within the verifier's
// leeway: a token of the session issued just before the logout carries an
// iat 20 s after the local now. A session revoked by k_logout or by the
// logout handler must refuse it too.
func TestSessionRevocationCoversSkewedClock(t *testing.T) {
	const skew = 20 * time.Second
	m := attack.NewMaterial(t)
	clock := func() time.Time { return m.Now }
	sid := "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21"
	ahead := m.Sign(m.RS256Header(), m.Payload(map[string]any{"jti": "ahead", "iat": m.Now.Add(skew).Unix()}))
	skewedAuth := func(t *testing.T) (*adapter.Authenticator, http.Handler) {
		v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: m.Issuer, Audience: []string{m.Audience}, Now: clock,
			Keys: oidc.NewStaticKeySet(&oidc.Key{ID: m.KID, Algorithm: oidc.RS256, Public: &m.Key.PublicKey})})
		if err != nil {
			t.Fatal(err)
		}
		auth := newAuth(t, adapter.Config{Verifier: v, Now: clock,
			Revokers: map[string]adapter.Revoker{"mobile": nopRevoker{}}, Logout: adapter.LogoutOptions{RevokeSession: true}})
		h := auth.Middleware(noContent)
		if s := get(h, "/", ahead); s != http.StatusNoContent {
			t.Fatalf("the token dated ahead before the logout: %d", s)
		}
		return auth, h
	}

	t.Run("k_logout", func(t *testing.T) {
		auth, h := skewedAuth(t)
		msg := signAdmin(m, map[string]any{"id": "a1", "action": "LOGOUT", "resource": m.Audience,
			"expiration": m.Now.Unix() + 30, "notBefore": 0, "keycloakSessionIds": []string{sid}})
		if rec := post(auth.KeycloakAdminHandler(), "/kc/k_logout", "text/plain", msg, ""); rec.Code != http.StatusOK {
			t.Fatalf("k_logout: %d %s", rec.Code, rec.Body)
		}
		if s := get(h, "/", ahead); s != http.StatusUnauthorized {
			t.Fatalf("the token dated ahead after k_logout: %d, want 401", s)
		}
	})
	t.Run("logout handler", func(t *testing.T) {
		auth, h := skewedAuth(t)
		rec := post(auth.LogoutHandler(), "/logout", "application/x-www-form-urlencoded",
			url.Values{"refresh_token": {"rt"}}.Encode(), m.Valid())
		if rec.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", rec.Code, rec.Body)
		}
		if s := get(h, "/", ahead); s != http.StatusUnauthorized {
			t.Fatalf("the token dated ahead after the logout: %d, want 401", s)
		}
	})
}

// A replayed logout token is answered 400 and changes nothing: the
// session's cut-off does not move with the time of the replay.
func TestBackchannelReplayHasNoEffect(t *testing.T) {
	m := attack.NewMaterial(t)
	now := m.Now
	clock := func() time.Time { return now }
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: m.Issuer, Audience: []string{m.Audience}, Now: clock,
		Keys:   oidc.NewStaticKeySet(&oidc.Key{ID: m.KID, Algorithm: oidc.RS256, Public: &m.Key.PublicKey}),
		Logout: oidc.LogoutTokenConfig{Audience: []string{"mobile"}}})
	if err != nil {
		t.Fatal(err)
	}
	store := revocation.NewMemory(revocation.Config{Now: clock})
	t.Cleanup(func() { store.Close() })
	auth := newAuth(t, adapter.Config{Verifier: v, Store: store, Now: clock})
	h := auth.BackchannelLogoutHandler()
	lt := m.Sign(m.LogoutHeader(), m.LogoutPayload("mobile", map[string]any{"iat": now.Unix()}))
	body := url.Values{"logout_token": {lt}}.Encode()
	const form = "application/x-www-form-urlencoded"

	// What the store answers for tokens of the session issued at these
	// offsets from the logout.
	logout := now
	offsets := []time.Duration{0, 50 * time.Second, 100 * time.Second, 10 * time.Minute}
	state := func() []revocation.Match {
		var out []revocation.Match
		for _, d := range offsets {
			out = append(out, store.Check(revocation.Token{Issuer: m.Issuer, SessionID: "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21",
				IssuedAt: logout.Add(d)}))
		}
		return out
	}
	if rec := post(h, "/bcl", form, body, ""); rec.Code != http.StatusOK {
		t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
	}
	before := state()
	if before[0] != revocation.SessionMatch {
		t.Fatalf("the session is not revoked: %v", before)
	}
	now = now.Add(100 * time.Second) // still within the logout token's exp and leeway
	if rec := post(h, "/bcl", form, body, ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("replay: %d, want 400", rec.Code)
	}
	if after := state(); !equalMatches(before, after) {
		t.Fatalf("the replay moved the session's cut-off: %v before, %v after", before, after)
	}
}

func equalMatches(a, b []revocation.Match) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A LOGOUT or PUSH_NOT_BEFORE admin message without id would escape the
// replay guard: it is refused, and nothing is stored.
func TestAdminMessageWithoutIDRefused(t *testing.T) {
	m := attack.NewMaterial(t)
	clock := func() time.Time { return m.Now }
	v := staticVerifier(t, m)
	store := revocation.NewMemory(revocation.Config{Now: clock})
	t.Cleanup(func() { store.Close() })
	auth := newAuth(t, adapter.Config{Verifier: v, Store: store, Now: clock})
	h := auth.KeycloakAdminHandler()
	exp := m.Now.Unix() + 30
	for path, msg := range map[string]map[string]any{
		"/kc/k_logout": {"action": "LOGOUT", "resource": m.Audience, "expiration": exp, "notBefore": 0,
			"keycloakSessionIds": []string{"s1"}},
		"/kc/k_push_not_before": {"action": "PUSH_NOT_BEFORE", "resource": m.Audience, "expiration": exp,
			"notBefore": m.Now.Unix()},
	} {
		for _, id := range []any{nil, ""} {
			if id != nil {
				msg["id"] = id
			}
			rec := post(h, path, "text/plain", signAdmin(m, msg), "")
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s without id (%v): %d, want 400", path, id, rec.Code)
			}
		}
	}
	old := revocation.Token{Issuer: m.Issuer, SessionID: "s1", IssuedAt: m.Now.Add(-time.Minute)}
	if got := store.Check(old); got != revocation.NoMatch {
		t.Fatalf("a refused message was applied: %v", got)
	}
	// The control: with an id the same message is applied.
	rec := post(h, "/kc/k_logout", "text/plain", signAdmin(m, map[string]any{"id": "a1", "action": "LOGOUT",
		"resource": m.Audience, "expiration": exp, "notBefore": 0, "keycloakSessionIds": []string{"s1"}}), "")
	if rec.Code != http.StatusOK || store.Check(old) != revocation.SessionMatch {
		t.Fatalf("with an id: %d, %v", rec.Code, store.Check(old))
	}
}

// The logout handler deny-lists an access token with neither jti nor sid
// under the digest of its verified payload: the token is refused afterwards,
// another token of the subject is not.
func TestLogoutWithoutJTIOrSID(t *testing.T) {
	m := attack.NewMaterial(t)
	clock := func() time.Time { return m.Now }
	v := staticVerifier(t, m)
	auth := newAuth(t, adapter.Config{Verifier: v, Now: clock,
		Revokers: map[string]adapter.Revoker{"mobile": nopRevoker{}}})
	h := auth.Middleware(noContent)
	token := m.Sign(m.RS256Header(), m.Payload(map[string]any{"jti": nil, "sid": nil}))
	other := m.Sign(m.RS256Header(), m.Payload(map[string]any{"jti": nil, "sid": nil, "iat": m.Now.Unix() - 30}))
	rec := post(auth.LogoutHandler(), "/logout", "application/x-www-form-urlencoded", url.Values{"refresh_token": {"rt"}}.Encode(), token)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if s := get(h, "/", token); s != http.StatusUnauthorized {
		t.Fatalf("the token after logout: %d, want 401", s)
	}
	if s := get(h, "/", other); s != http.StatusNoContent {
		t.Fatalf("another token of the subject: %d, want 204", s)
	}
}
