package adapter_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/internal/attack"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// The client whose back-channel logout URL Keycloak calls: the aud of the
// logout tokens.
const logoutClient = "mobile"

// logoutVerifier verifies m's logout tokens for logoutClient, with the
// key set pinned to RS256.
func logoutVerifier(t *testing.T, m *attack.Material) *oidc.Verifier {
	t.Helper()
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: m.Issuer,
		Keys:     oidc.NewStaticKeySet(&oidc.Key{ID: m.KID, Algorithm: oidc.RS256, Public: &m.Key.PublicKey}),
		Audience: []string{m.Audience}, Logout: oidc.LogoutTokenConfig{Audience: []string{logoutClient}},
		Now: func() time.Time { return m.Now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func backchannelHandler(t *testing.T, v adapter.TokenVerifier, s revocation.Store, now time.Time) http.Handler {
	t.Helper()
	a, err := adapter.New(context.Background(), adapter.Config{Verifier: v, Store: s, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return a.BackchannelLogoutHandler()
}

// postLogout sends logout_token=token to h and checks the status, the
// Cache-Control: no-store of §2.8 and, for 400, the invalid_request body.
func postLogout(t *testing.T, h http.Handler, token string, want int) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/auth/backchannel-logout",
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != want {
		t.Fatalf("status %d, want %d (%s)", rec.Code, want, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
	if want == http.StatusBadRequest {
		var body struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "invalid_request" {
			t.Fatalf("body %q, want error invalid_request", rec.Body)
		}
	}
}

// signPS256 signs with RSA-PSS under key: a valid signature with the
// issuer's key, but not with the algorithm the key is pinned to.
func signPS256(t *testing.T, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := attack.Enc([]byte(header)) + "." + attack.Enc([]byte(payload))
	h := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + attack.Enc(sig)
}

// signES256 signs with ES256 under a fresh key nobody trusts.
func signES256(t *testing.T, header, payload string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	input := attack.Enc([]byte(header)) + "." + attack.Enc([]byte(payload))
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + attack.Enc(sig)
}

// TestBackchannelConformance is the OpenID conformance suite's RP
// back-channel logout plan (alg none, wrong alg, wrong iss, wrong aud, no
// event, wrong event, nonce) and the other §2.6 rules, through the real
// handler with a real oidc.Verifier and a real revocation store: every
// invalid logout token is 400 with Cache-Control: no-store and leaves the
// store untouched (no revocation, jti not spent); a valid one is 200 and
// revokes.
func TestBackchannelConformance(t *testing.T) {
	m := attack.NewMaterial(t)
	now := m.Now.Unix()
	hdr := m.LogoutHeader()
	payload := func(over map[string]any) string { return m.LogoutPayload(logoutClient, over) }
	signed := func(over map[string]any) string { return m.Sign(hdr, payload(over)) }
	withHeader := func(extra map[string]any) string {
		return m.Sign(attack.Header("RS256", m.KID, extra), payload(nil))
	}
	unsigned := func(alg string) string {
		return attack.Enc([]byte(attack.Header(alg, m.KID, map[string]any{"typ": "logout+jwt"}))) + "." + attack.Enc([]byte(payload(nil))) + "."
	}
	der, err := x509.MarshalPKIXPublicKey(&m.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsHeader := attack.Header("HS256", m.KID, map[string]any{"typ": "logout+jwt"})
	ev := func(members map[string]any) map[string]any { return map[string]any{"events": members} }

	tests := []struct {
		name    string
		token   string
		want    error // nil: valid, 200
		session bool  // a valid token revokes the session (else the subject)
	}{
		{"valid", signed(nil), nil, true},
		{"valid, sid only", signed(map[string]any{"sub": nil}), nil, true},
		{"valid, sub only", signed(map[string]any{"sid": nil}), nil, false},
		{"valid, events with the logout member only", signed(ev(map[string]any{attack.BackchannelLogoutEvent: map[string]any{}})), nil, true},
		// The conformance suite's RP back-channel logout tests.
		{"alg none", unsigned("none"), oidc.ErrMalformed, false},
		{"alg None", unsigned("None"), oidc.ErrMalformed, false},
		{"alg none with the real signature", strings.TrimSuffix(unsigned("none"), ".") + "." + strings.Split(signed(nil), ".")[2], oidc.ErrAlgorithm, false},
		{"wrong alg: HS256 keyed with the client secret", attack.SignHS256(hsHeader, payload(nil), []byte(keycloaktest.BackendClientSecret)), oidc.ErrAlgorithm, false},
		{"wrong alg: HS256 keyed with the public key", attack.SignHS256(hsHeader, payload(nil), pemKey), oidc.ErrAlgorithm, false},
		{"wrong alg: PS256 with the issuer's RS256 key", signPS256(t, m.Key, attack.Header("PS256", m.KID, map[string]any{"typ": "logout+jwt"}), payload(nil)), oidc.ErrAlgorithm, false},
		{"wrong alg: ES256", signES256(t, attack.Header("ES256", m.KID, map[string]any{"typ": "logout+jwt"}), payload(nil)), oidc.ErrAlgorithm, false},
		{"wrong iss", signed(map[string]any{"iss": "https://attacker.example/realms/tokenwarden"}), oidc.ErrWrongIssuer, false},
		{"wrong iss: trailing slash", signed(map[string]any{"iss": m.Issuer + "/"}), oidc.ErrWrongIssuer, false},
		{"wrong aud", signed(map[string]any{"aud": "other-client"}), oidc.ErrWrongAudience, false},
		{"wrong aud: array without ours", signed(map[string]any{"aud": []string{"other-client", "account"}}), oidc.ErrWrongAudience, false},
		{"no event", signed(map[string]any{"events": nil}), oidc.ErrWrongType, false},
		{"events empty", signed(ev(map[string]any{})), oidc.ErrWrongType, false},
		{"wrong event", signed(ev(map[string]any{"http://schemas.openid.net/event/backchannel-logout/": map[string]any{}})), oidc.ErrWrongType, false},
		{"wrong event: other schema", signed(ev(map[string]any{"http://schemas.openid.net/secevent/risc/event-type/sessions-revoked": map[string]any{}})), oidc.ErrWrongType, false},
		{"event member not an object", signed(ev(map[string]any{attack.BackchannelLogoutEvent: "logout"})), oidc.ErrMalformed, false},
		{"nonce present", signed(map[string]any{"nonce": "n-0S6_WzA2Mj"}), oidc.ErrWrongType, false},
		// Further §2.4 / §2.6 rules.
		{"missing sid and sub", signed(map[string]any{"sid": nil, "sub": nil}), oidc.ErrMalformed, false},
		{"missing jti", signed(map[string]any{"jti": nil}), oidc.ErrMalformed, false},
		{"expired", signed(map[string]any{"iat": now - 200, "exp": now - 80}), oidc.ErrExpired, false},
		{"iat far in the future", signed(map[string]any{"iat": now + 86400, "exp": now + 86520}), oidc.ErrNotYetValid, false},
		{"iat too old", signed(map[string]any{"iat": now - 3600, "exp": now + 60}), oidc.ErrExpired, false},
		{"typ header JWT", withHeader(nil), oidc.ErrWrongType, false},
		{"typ header missing", withHeader(map[string]any{"typ": nil}), oidc.ErrWrongType, false},
		{"typ header at+jwt", withHeader(map[string]any{"typ": "at+jwt"}), oidc.ErrWrongType, false},
		{"payload typ Bearer", signed(map[string]any{"typ": "Bearer"}), oidc.ErrWrongType, false},
		{"signed by another key", attack.SignWith(m.Attacker, hdr, payload(nil)), oidc.ErrBadSignature, false},
		{"an access token", m.Valid(), oidc.ErrWrongType, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := logoutVerifier(t, m)
			lc, err := v.VerifyLogoutToken(context.Background(), tc.token)
			if tc.want == nil && err != nil {
				t.Fatalf("verifier refuses a valid token: %v", err)
			}
			if tc.want != nil && (!errors.Is(err, tc.want) || lc != nil) {
				t.Fatalf("verifier error = %v, want %v", err, tc.want)
			}
			store := revocation.NewMemory(revocation.Config{Now: func() time.Time { return m.Now }})
			t.Cleanup(func() { store.Close() })
			h := backchannelHandler(t, v, store, m.Now)
			var c struct {
				Sub string `json:"sub"`
				Sid string `json:"sid"`
				Jti string `json:"jti"`
				Exp int64  `json:"exp"`
			}
			if err := json.Unmarshal([]byte(payload(nil)), &c); err != nil {
				t.Fatal(err)
			}
			// A token of the logged-out session and subject, issued before
			// the logout.
			probe := revocation.Token{Issuer: m.Issuer, Subject: c.Sub, SessionID: c.Sid, ID: "access-1",
				IssuedAt: m.Now.Add(-time.Minute), Expiry: m.Now.Add(time.Minute)}
			if tc.want == nil {
				postLogout(t, h, tc.token, http.StatusOK)
				want := revocation.SubjectMatch
				if tc.session {
					want = revocation.SessionMatch
				}
				if got := store.Check(probe); got != want {
					t.Fatalf("after the logout: %v, want %v", got, want)
				}
				// The same token again: a replay.
				postLogout(t, h, tc.token, http.StatusBadRequest)
				return
			}
			postLogout(t, h, tc.token, http.StatusBadRequest)
			if got := store.Check(probe); got != revocation.NoMatch {
				t.Fatalf("an invalid logout token revoked: %v", got)
			}
			if first, err := store.SeenOnce(context.Background(), m.Issuer, c.Jti, time.Unix(c.Exp, 0)); err != nil || !first {
				t.Fatalf("an invalid logout token spent its jti (first %v, %v)", first, err)
			}
		})
	}
}

// TestBackchannelReplayAcrossReplicas sends one valid logout token to two
// replicas sharing a deny-list: the first answers 200, the second refuses
// the replayed jti with 400, with a shared in-process store and with two
// Redis stores over one Redis.
func TestBackchannelReplayAcrossReplicas(t *testing.T) {
	m := attack.NewMaterial(t)
	token := m.Sign(m.LogoutHeader(), m.LogoutPayload(logoutClient, map[string]any{"jti": randomName("replay-")}))
	// The control: the token is valid, so only the spent jti refuses it.
	if _, err := logoutVerifier(t, m).VerifyLogoutToken(context.Background(), token); err != nil {
		t.Fatal(err)
	}

	t.Run("shared memory store", func(t *testing.T) {
		store := revocation.NewMemory(revocation.Config{Now: func() time.Time { return m.Now }})
		t.Cleanup(func() { store.Close() })
		a := backchannelHandler(t, logoutVerifier(t, m), store, m.Now)
		b := backchannelHandler(t, logoutVerifier(t, m), store, m.Now)
		postLogout(t, a, token, http.StatusOK)
		postLogout(t, b, token, http.StatusBadRequest)
		postLogout(t, a, token, http.StatusBadRequest)
	})

	t.Run("two Redis stores", func(t *testing.T) {
		redisURL := testenv.Redis(t)
		prefix := randomName("tw-bcl-replay-")
		store := func() *revocation.Redis {
			opts, err := redis.ParseURL(redisURL)
			if err != nil {
				t.Fatal(err)
			}
			rc := redis.NewClient(opts)
			t.Cleanup(func() { rc.Close() })
			s, err := revocation.NewRedis(revocation.RedisConfig{Client: rc, KeyPrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.WaitHealthy(ctx); err != nil {
				t.Fatalf("store not healthy: %v", err)
			}
			return s
		}
		a := backchannelHandler(t, logoutVerifier(t, m), store(), time.Now())
		b := backchannelHandler(t, logoutVerifier(t, m), store(), time.Now())
		postLogout(t, a, token, http.StatusOK)
		postLogout(t, b, token, http.StatusBadRequest)
		postLogout(t, a, token, http.StatusBadRequest)
	})
}

// logoutCapture records the logout tokens posted to the back-channel
// logout path of the wrapped handler and the statuses it answered.
type logoutCapture struct {
	next     http.Handler
	mu       sync.Mutex
	tokens   []string
	statuses []int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (c *logoutCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/auth/backchannel-logout" {
		c.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(sw, r)
	c.mu.Lock()
	c.tokens = append(c.tokens, form.Get("logout_token"))
	c.statuses = append(c.statuses, sw.status)
	c.mu.Unlock()
}

func (c *logoutCapture) last() (string, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) == 0 {
		return "", 0, 0
	}
	return c.tokens[len(c.tokens)-1], c.statuses[len(c.statuses)-1], len(c.tokens)
}

// TestKeycloakBackchannelConformance takes a real logout token that
// Keycloak signed and delivered to replica A when an admin logged the user
// out (A answered 200), then replays it to A and to replica B, which shares
// A's Redis deny-list (400 each), presents it tampered (400), to a handler
// expecting another client as audience (400), and as an access token
// (401).
func TestKeycloakBackchannelConformance(t *testing.T) {
	kc := keycloaktest.New(t)
	redisURL := testenv.Redis(t)
	a, b := &replica{name: "A"}, &replica{name: "B"}
	capture := &logoutCapture{}
	a.mux = http.NewServeMux()
	capture.next = a.mux
	a.srv = httptest.NewServer(capture)
	t.Cleanup(a.srv.Close)
	b.srv, b.mux = newServer(t)
	realm := kc.IsolatedRealm(t, a.srv.URL)
	prefix := randomName("tw-bcl-conformance-")
	a.start(t, realm, redisURL, prefix)
	b.start(t, realm, redisURL, prefix)

	_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
	tok := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	if s, _ := a.get(t, "/api/orders", tok.AccessToken); s != http.StatusOK {
		t.Fatalf("before logout: %d", s)
	}
	realm.LogoutUser(t, u.Username)
	var (
		logoutToken string
		status, n   int
	)
	eventually(t, "Keycloak delivers a logout token to A", func() bool {
		logoutToken, status, n = capture.last()
		return n > 0
	})
	if status != http.StatusOK || n != 1 {
		t.Fatalf("Keycloak's delivery: status %d, %d deliveries", status, n)
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := unverifiedHeader(logoutToken, &hdr); err != nil || hdr.Alg != "RS256" || hdr.Typ != "logout+jwt" {
		t.Fatalf("logout token header %+v (%v)", hdr, err)
	}

	post := func(t *testing.T, r *replica, token string) int {
		t.Helper()
		resp, err := r.srv.Client().PostForm(r.srv.URL+"/auth/backchannel-logout", url.Values{"logout_token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control = %q", cc)
		}
		return resp.StatusCode
	}
	t.Run("replayed to B, which shares the store", func(t *testing.T) {
		// The token is otherwise valid for B: only the spent jti refuses it.
		v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: realm.IssuerURL(), Keys: keysOf(t, realm),
			Audience: []string{keycloaktest.BackendClientID}, Logout: oidc.LogoutTokenConfig{Audience: []string{keycloaktest.MobileClientID}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyLogoutToken(context.Background(), logoutToken); err != nil {
			t.Fatalf("Keycloak's logout token does not verify: %v", err)
		}
		expectStatus(t, b, "/api/orders", tok.AccessToken, http.StatusUnauthorized)
		if s := post(t, b, logoutToken); s != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", s)
		}
	})
	t.Run("replayed to A", func(t *testing.T) {
		if s := post(t, a, logoutToken); s != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", s)
		}
	})
	t.Run("signature tampered", func(t *testing.T) {
		i := strings.LastIndexByte(logoutToken, '.')
		sig := []byte(logoutToken[i+1:])
		if sig[10] == 'A' {
			sig[10] = 'B'
		} else {
			sig[10] = 'A'
		}
		if s := post(t, b, logoutToken[:i+1]+string(sig)); s != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", s)
		}
	})
	t.Run("handler expecting another client", func(t *testing.T) {
		// Its logout audience defaults to its access-token audience, backend.
		v, _ := countingJWKS(t, realm)
		if _, err := v.VerifyLogoutToken(context.Background(), logoutToken); !errors.Is(err, oidc.ErrWrongAudience) {
			t.Fatalf("error = %v, want ErrWrongAudience", err)
		}
		store := revocation.NewMemory(revocation.Config{})
		t.Cleanup(func() { store.Close() })
		postLogout(t, backchannelHandler(t, v, store, time.Now()), logoutToken, http.StatusBadRequest)
	})
	t.Run("as an access token", func(t *testing.T) {
		if s, _ := b.get(t, "/api/orders", logoutToken); s != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", s)
		}
	})
}

// keysOf is a RemoteKeySet on realm's JWKS, closed when the test ends.
func keysOf(t *testing.T, realm *keycloaktest.Keycloak) *oidc.RemoteKeySet {
	t.Helper()
	ks, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: realm.IssuerURL() + "/protocol/openid-connect/certs", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return ks
}
