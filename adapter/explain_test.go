package adapter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// logBuffer collects JSON log lines.
type logBuffer struct{ syncBuffer }

// records returns the log lines whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newLog(level slog.Level) (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	return b, slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level}))
}

// assertNoTokenText fails when text holds the token, one of its segments or
// any 20 consecutive bytes of them.
func assertNoTokenText(t *testing.T, text, token string) {
	t.Helper()
	const window = 20
	for _, seg := range append([]string{token}, strings.Split(token, ".")...) {
		if len(seg) < window {
			if len(seg) >= 8 && strings.Contains(text, seg) {
				t.Fatalf("the log holds a token segment %q", seg)
			}
			continue
		}
		for i := 0; i+window <= len(seg); i++ {
			if strings.Contains(text, seg[i:i+window]) {
				t.Fatalf("the log holds token text %q", seg[i:i+window])
			}
		}
	}
}

// segmentMember returns the string member name of the token's segment i
// (0 header, 1 payload), decoded without verification.
func segmentMember(t *testing.T, token string, i int, name string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	v, _ := m[name].(string)
	if v == "" {
		t.Fatalf("no %s in segment %d", name, i)
	}
	return v
}

type explainEnv struct {
	kc     *fake.Keycloak
	auth   *adapter.Authenticator
	log    *logBuffer
	audits []adapter.AuditEvent
	mu     sync.Mutex
}

func newExplainEnv(t *testing.T, level slog.Level, change func(*adapter.Config)) *explainEnv {
	t.Helper()
	e := &explainEnv{kc: fake.New(t, fake.Config{})}
	var logger *slog.Logger
	e.log, logger = newLog(level)
	cfg := adapter.Config{
		Issuer:            e.kc.IssuerURL(),
		Audience:          fake.BackendClientID,
		Clients:           []string{fake.MobileClientID},
		InsecureAllowHTTP: true,
		Logger:            logger,
		Audit: func(_ context.Context, ev adapter.AuditEvent) {
			e.mu.Lock()
			e.audits = append(e.audits, ev)
			e.mu.Unlock()
		},
	}
	if change != nil {
		change(&cfg)
	}
	a, err := adapter.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.auth = a
	return e
}

func (e *explainEnv) get(token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, r)
	return rec
}

func postForm(h http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestRefusalLogNamesSettingAndValues: each configuration-shaped refusal
// (wrong issuer, wrong audience, an unknown kid after the JWKS was
// fetched again, an algorithm outside the allow-list, a logout token for
// another client, an admin message for another resource) writes one line
// at info that names the setting to change and both values, the client
// gets RFC 6750's fixed text, the audit event carries the explanation, and
// neither holds any token text.
func TestRefusalLogNamesSettingAndValues(t *testing.T) {
	type want struct {
		msg, check, setting, expected, presented string
	}
	tests := []struct {
		name   string
		change func(*adapter.Config)
		// do sends the request and returns the token it carried and the
		// status answered.
		do   func(t *testing.T, e *explainEnv) (string, int)
		want want
		// dyn, when set, gives the expected and presented values the line
		// must contain, from the realm and the token.
		dyn func(e *explainEnv, token string) (string, string)
	}{
		{
			name: "wrong issuer",
			do: func(t *testing.T, e *explainEnv) (string, int) {
				tok := e.kc.Break(t, e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken, fake.OtherIssuer)
				return tok, e.get(tok).Code
			},
			want: want{msg: "adapter: access token refused", check: "iss", setting: "adapter.Config.Issuer"},
			dyn: func(e *explainEnv, token string) (string, string) {
				return `"` + e.kc.IssuerURL() + `"`, `"` + segmentMember(t, token, 1, "iss") + `"`
			},
		},
		{
			name:   "wrong audience",
			change: func(c *adapter.Config) { c.Audience = "orders-api" },
			do: func(t *testing.T, e *explainEnv) (string, int) {
				tok := e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
				return tok, e.get(tok).Code
			},
			want: want{"adapter: access token refused", "aud", "adapter.Config.Audience", `one of ["orders-api"] in aud`, `"backend"`},
		},
		{
			name: "unknown kid after refresh",
			do: func(t *testing.T, e *explainEnv) (string, int) {
				tok := e.kc.Break(t, e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken, fake.UnknownKey)
				return tok, e.get(tok).Code
			},
			want: want{msg: "adapter: access token refused", check: "kid", setting: "adapter.Config.Issuer"},
			dyn: func(e *explainEnv, token string) (string, string) {
				return `one of ["` + e.kc.KeyID() + `"]`, `"` + segmentMember(t, token, 0, "kid") + `"`
			},
		},
		{
			name: "alg not allowed",
			do: func(t *testing.T, e *explainEnv) (string, int) {
				tok := e.kc.Resign(t, e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken,
					func(h, _ map[string]any) { h["alg"] = "HS512" })
				return tok, e.get(tok).Code
			},
			want: want{"adapter: access token refused", "alg", "oidc.VerifierConfig.Algorithms", `one of ["RS256"]`, `"HS512"`},
		},
		{
			name:   "logout token audience",
			change: func(c *adapter.Config) { c.Clients = []string{"web"} },
			do: func(t *testing.T, e *explainEnv) (string, int) {
				tok := e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
				lt := e.kc.LogoutToken(t, fake.LogoutToken{ClientID: fake.MobileClientID, SessionID: tok.SessionID})
				return lt, postForm(e.auth.BackchannelLogoutHandler(), "/auth/backchannel-logout", url.Values{"logout_token": {lt}}).Code
			},
			want: want{"adapter: logout token refused", "aud", "adapter.Config.Clients", `one of ["web"] in aud`, `["mobile"]`},
		},
		{
			name: "admin message resource",
			do: func(t *testing.T, e *explainEnv) (string, int) {
				msg := e.kc.AdminMessage(t, fake.AdminAction{Action: fake.ActionPushNotBefore, Resource: "reports", NotBefore: time.Now().Unix()})
				r := httptest.NewRequest(http.MethodPost, "/auth/keycloak/k_push_not_before", strings.NewReader(msg))
				r.Header.Set("Content-Type", "text/plain")
				rec := httptest.NewRecorder()
				e.auth.KeycloakAdminHandler().ServeHTTP(rec, r)
				return msg, rec.Code
			},
			want: want{"adapter: admin message refused", "resource", "adapter.Config.Audience, adapter.Config.Clients",
				`one of ["backend", "mobile"]`, `"reports"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExplainEnv(t, slog.LevelInfo, tt.change)
			token, status := tt.do(t, e)
			if tt.dyn != nil {
				tt.want.expected, tt.want.presented = tt.dyn(e, token)
			}
			if status != http.StatusUnauthorized && status != http.StatusBadRequest {
				t.Fatalf("status %d, want 401 or 400", status)
			}
			recs := e.log.records(t, tt.want.msg)
			if len(recs) != 1 {
				t.Fatalf("%d lines %q, want 1; log:\n%s", len(recs), tt.want.msg, e.log)
			}
			rec := recs[0]
			str := func(k string) string { s, _ := rec[k].(string); return s }
			if str("level") != "INFO" || str("check") != tt.want.check || str("setting") != tt.want.setting {
				t.Errorf("line %v: want level INFO, check %q, setting %q", rec, tt.want.check, tt.want.setting)
			}
			if !strings.Contains(str("expected"), tt.want.expected) || str("expected") == "" ||
				!strings.Contains(str("presented"), tt.want.presented) || str("presented") == "" {
				t.Errorf("line %v: want expected ⊇ %q, presented ⊇ %q", rec, tt.want.expected, tt.want.presented)
			}
			if str("expected") == str("presented") {
				t.Errorf("expected and presented are the same: %v", rec)
			}
			assertNoTokenText(t, e.log.String(), token)

			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.audits) != 1 || e.audits[0].Kind != adapter.AuditVerificationFailed {
				t.Fatalf("audit events %+v, want one verification_failed", e.audits)
			}
			d := e.audits[0].Detail
			if !strings.Contains(d, "check="+tt.want.check) || !strings.Contains(d, "setting="+tt.want.setting) ||
				!strings.Contains(d, "expected="+str("expected")) || !strings.Contains(d, "presented="+str("presented")) {
				t.Errorf("audit detail %q lacks the explanation", d)
			}
			assertNoTokenText(t, d, token)
		})
	}
}

// TestRefusalExplainsUnknownKidIssuer: a token of another realm fails on
// its kid before its iss can be trusted; the log line adds the token's
// unverified iss next to the kids the issuer's JWKS holds.
func TestRefusalExplainsUnknownKidIssuer(t *testing.T) {
	e := newExplainEnv(t, slog.LevelInfo, nil)
	other := fake.New(t, fake.Config{Realm: "other"})
	tok := other.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
	if code := e.get(tok).Code; code != http.StatusUnauthorized {
		t.Fatalf("status %d", code)
	}
	recs := e.log.records(t, "adapter: access token refused")
	if len(recs) != 1 {
		t.Fatalf("log:\n%s", e.log)
	}
	if iss, _ := recs[0]["token_iss"].(string); !strings.Contains(iss, other.IssuerURL()) || !strings.Contains(iss, "unverified") {
		t.Errorf("token_iss %q, want the other realm's issuer, unverified", iss)
	}
	if exp, _ := recs[0]["expected"].(string); !strings.Contains(exp, e.kc.KeyID()) || !strings.Contains(exp, "/certs") {
		t.Errorf("expected %q, want the JWKS's kids and URL", exp)
	}
	assertNoTokenText(t, e.log.String(), tok)
}

// TestRefusalLogHandBuiltVerifier: with a verifier built by hand the line
// names the oidc.VerifierConfig field, for the logout audience
// VerifierConfig.Logout.Audience.
func TestRefusalLogHandBuiltVerifier(t *testing.T) {
	kc := fake.New(t, fake.Config{})
	keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: kc.IssuerURL() + "/protocol/openid-connect/certs", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: kc.IssuerURL(), Keys: keys, Audience: []string{"orders-api"}})
	if err != nil {
		t.Fatal(err)
	}
	lb, logger := newLog(slog.LevelInfo)
	a, err := adapter.New(context.Background(), adapter.Config{Verifier: v, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
	lt := kc.LogoutToken(t, fake.LogoutToken{ClientID: fake.MobileClientID, SessionID: tok.SessionID})
	if code := postForm(a.BackchannelLogoutHandler(), "/", url.Values{"logout_token": {lt}}).Code; code != http.StatusBadRequest {
		t.Fatalf("status %d", code)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if _, ae := a.Authenticate(r); ae == nil || ae.Setting != "oidc.VerifierConfig.Audience" || ae.Check != "aud" {
		t.Fatalf("Authenticate: %+v", ae)
	}
	recs := lb.records(t, "adapter: logout token refused")
	if len(recs) != 1 || recs[0]["setting"] != "oidc.VerifierConfig.Logout.Audience" ||
		!strings.Contains(recs[0]["expected"].(string), `"orders-api"`) || recs[0]["presented"] != `["mobile"]` {
		t.Fatalf("log:\n%s", lb)
	}
	if recs := lb.records(t, "adapter: access token refused"); len(recs) != 1 || recs[0]["setting"] != "oidc.VerifierConfig.Audience" {
		t.Fatalf("log:\n%s", lb)
	}
	assertNoTokenText(t, lb.String(), lt)
	assertNoTokenText(t, lb.String(), tok.AccessToken)
}

// TestRefusalLogRateLimitedPerKind: a refusal repeated within a second is
// logged once, and does not hide a refusal of another kind.
func TestRefusalLogRateLimitedPerKind(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newExplainEnv(t, slog.LevelInfo, func(c *adapter.Config) { c.Audience = "orders-api"; c.Now = clock })
	tok := e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
	for range 5 {
		e.get(tok)
	}
	other := e.kc.Break(t, tok, fake.OtherIssuer)
	e.get(other)
	e.get(other)
	lines := e.log.records(t, "adapter: access token refused")
	if len(lines) != 2 || lines[0]["check"] != "aud" || lines[1]["check"] != "iss" {
		t.Fatalf("%d lines, want one aud and one iss:\n%s", len(lines), e.log)
	}
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	e.get(tok)
	if n := len(e.log.records(t, "adapter: access token refused")); n != 3 {
		t.Fatalf("%d lines after a second, want 3", n)
	}
}

// TestRefusalLogLevels: a refusal that is the token's fault (expired, bad
// signature) is logged at debug only, with the clock and the leeway.
func TestRefusalLogLevels(t *testing.T) {
	e := newExplainEnv(t, slog.LevelInfo, nil)
	tok := e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken
	expired := e.kc.Break(t, tok, fake.Expired)
	if code := e.get(expired).Code; code != http.StatusUnauthorized {
		t.Fatalf("status %d", code)
	}
	if s := e.log.String(); s != "" {
		t.Fatalf("logged at info: %s", s)
	}

	e = newExplainEnv(t, slog.LevelDebug, nil)
	expired = e.kc.Break(t, e.kc.PasswordToken(t, "mobile", "", "alice", "alice-password").AccessToken, fake.Expired)
	rec := e.get(expired)
	lines := e.log.records(t, "adapter: access token refused")
	if len(lines) != 1 || lines[0]["level"] != "DEBUG" || lines[0]["check"] != "exp" ||
		!strings.Contains(lines[0]["expected"].(string), "leeway 30s") {
		t.Fatalf("log:\n%s", e.log)
	}
	// The client gets RFC 6750's fixed text, nothing of the explanation.
	if body := rec.Body.String(); !strings.Contains(body, "token expired") || strings.Contains(body, "leeway") ||
		strings.Contains(rec.Header().Get("WWW-Authenticate"), "leeway") {
		t.Fatalf("the client sees the explanation: %s %v", body, rec.Header())
	}
}

// TestReady: Ready fails while the issuer's JWKS cannot be fetched and
// passes once it can; RequireKeysAtStart makes New fail instead.
func TestReady(t *testing.T) {
	var mu sync.Mutex
	down := true
	kc := fake.New(t, fake.Config{Middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			d := down
			mu.Unlock()
			if d && strings.HasSuffix(r.URL.Path, "/certs") {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	cfg := adapter.Config{Issuer: kc.IssuerURL(), Audience: fake.BackendClientID, InsecureAllowHTTP: true}

	strict := cfg
	strict.RequireKeysAtStart = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adapter.New(ctx, strict); !errors.Is(err, oidc.ErrKeysUnavailable) {
		t.Fatalf("New with RequireKeysAtStart and the JWKS down: %v, want ErrKeysUnavailable", err)
	}

	a, err := adapter.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Ready(ctx); !errors.Is(err, oidc.ErrKeysUnavailable) {
		t.Fatalf("Ready with the JWKS down: %v", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	// Ready fetches at most once per 5 seconds: wait for its next fetch or
	// for the key set's own retry, without asserting how long that takes.
	deadline := time.Now().Add(20 * time.Second)
	for a.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ready after the JWKS recovered: %v", a.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}

	b, err := adapter.New(ctx, strict)
	if err != nil {
		t.Fatalf("New with RequireKeysAtStart and the JWKS up: %v", err)
	}
	b.Close()

	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: kc.IssuerURL(), Keys: oidc.NewStaticKeySet(), Audience: []string{"backend"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adapter.New(ctx, adapter.Config{Verifier: v, RequireKeysAtStart: true}); !errors.Is(err, adapter.ErrConfig) {
		t.Fatalf("RequireKeysAtStart with a Verifier passed in: %v, want ErrConfig", err)
	}
}

// degradedStore is a Memory store that reports itself degraded.
type degradedStore struct{ *revocation.Memory }

func (degradedStore) Degraded() bool { return true }
func (degradedStore) Health() revocation.Health {
	return revocation.Health{Degraded: true, Reason: "redis unreachable"}
}

// TestReadyStore: a degraded deny-list fails Ready only when nothing can
// confirm tokens meanwhile.
func TestReadyStore(t *testing.T) {
	kc := fake.New(t, fake.Config{})
	mem := revocation.NewMemory(revocation.Config{})
	defer mem.Close()
	for _, tt := range []struct {
		name   string
		secret string
		ok     bool
	}{{"no introspector", "", false}, {"introspected meanwhile", fake.BackendClientSecret, true}} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := adapter.New(context.Background(), adapter.Config{Issuer: kc.IssuerURL(), Audience: fake.BackendClientID,
				ClientSecret: tt.secret, InsecureAllowHTTP: true, Store: degradedStore{mem}, RequireKeysAtStart: true})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			err = a.Ready(context.Background())
			if tt.ok != (err == nil) || !tt.ok && (!errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(err.Error(), "redis unreachable")) {
				t.Fatalf("Ready: %v", err)
			}
		})
	}
}

// dpopGet sends GET target (as the client addresses it) with
// "Authorization: DPoP token" and a proof by key for proofURL, as an API
// behind a proxy sees it: the request's host is the proxy's upstream
// address.
func (e *explainEnv) dpopGet(t *testing.T, key *dpop.Key, token, proofURL string) *httptest.ResponseRecorder {
	t.Helper()
	proof, err := key.Proof(http.MethodGet, proofURL, token, "")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://10.0.0.5:8080/api/profile", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", proof)
	rec := httptest.NewRecorder()
	e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, r)
	return rec
}

// TestDPoPRefusalExplained: a refused DPoP proof is explained as a refused
// token is: AuthError's check, expected and presented values come from the
// *dpop.Error, the setting names the adapter.Config.DPoP.Proof field that
// decides; the line "adapter: DPoP proof refused" is written at info for
// the configuration-shaped checks (htu behind a proxy, alg, the iat window
// on either side), the audit Detail is the same check=… expected=…
// presented=… setting=… text, and neither holds token or proof text nor
// reaches the client. A Bearer token on a route that requires DPoP names
// DPoP.Require.
func TestDPoPRefusalExplained(t *testing.T) {
	const external = "https://api.example.com"
	shift := func(d time.Duration) func(*adapter.Config) {
		return func(c *adapter.Config) {
			c.DPoP.Proof.ExternalURL = external
			c.Now = func() time.Time { return time.Now().Add(d) }
		}
	}
	tests := []struct {
		name                                string
		change                              func(*adapter.Config)
		proof                               string // the URL the proof is made for
		msg                                 string
		check, setting, expected, presented string
	}{
		{"htu behind a proxy", nil, external + "/api/profile", "adapter: DPoP proof refused",
			"htu", "adapter.Config.DPoP.Proof.ExternalURL", `"http://10.0.0.5:8080/api/profile"`, `"` + external + `/api/profile"`},
		{"alg not allowed", func(c *adapter.Config) {
			c.DPoP.Proof.ExternalURL = external
			c.DPoP.Proof.Algorithms = []string{"PS256"}
		}, external + "/api/profile", "adapter: DPoP proof refused",
			"alg", "adapter.Config.DPoP.Proof.Algorithms", "PS256", `"ES256"`},
		{"iat too old", shift(2 * time.Minute), external + "/api/profile", "adapter: DPoP proof refused",
			"iat", "adapter.Config.DPoP.Proof.MaxAge", "MaxAge 1m0s", "T"},
		{"iat ahead", shift(-20 * time.Second), external + "/api/profile", "adapter: DPoP proof refused",
			"iat", "adapter.Config.DPoP.Proof.Leeway", "Leeway 5s", "T"},
		{"Bearer where DPoP is required", func(c *adapter.Config) { c.DPoP.Require = true }, "", "adapter: access token refused",
			"scheme", "adapter.Config.DPoP.Require", `"DPoP"`, `"Bearer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExplainEnv(t, slog.LevelInfo, tt.change)
			var rec *httptest.ResponseRecorder
			var token, proof string
			if tt.proof == "" {
				token = e.kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password").AccessToken
				rec = e.get(token)
			} else {
				key, err := dpop.GenerateKey()
				if err != nil {
					t.Fatal(err)
				}
				token = e.kc.PasswordTokenDPoP(t, key, fake.DPoPClientID, "", "alice", "alice-password").AccessToken
				proof, _ = key.Proof(http.MethodGet, tt.proof, token, "")
				rec = e.dpopGet(t, key, token, tt.proof)
			}
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			recs := e.log.records(t, tt.msg)
			if len(recs) != 1 {
				t.Fatalf("%d lines %q, want 1; log:\n%s", len(recs), tt.msg, e.log)
			}
			line := recs[0]
			str := func(k string) string { s, _ := line[k].(string); return s }
			if str("level") != "INFO" || str("check") != tt.check || str("setting") != tt.setting ||
				!strings.Contains(str("expected"), tt.expected) || !strings.Contains(str("presented"), tt.presented) ||
				str("expected") == str("presented") || str("hint") == "" {
				t.Errorf("line %v: want level INFO, check %q, setting %q, expected ⊇ %q, presented ⊇ %q, a hint",
					line, tt.check, tt.setting, tt.expected, tt.presented)
			}
			assertNoTokenText(t, e.log.String(), token)
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.audits) != 1 || e.audits[0].Kind != adapter.AuditVerificationFailed {
				t.Fatalf("audit events %+v, want one verification_failed", e.audits)
			}
			want := "check=" + tt.check + " expected=" + str("expected") + " presented=" + str("presented") + " setting=" + tt.setting
			if d := e.audits[0].Detail; d != want {
				t.Errorf("audit detail\n %q\nwant\n %q", d, want)
			}
			assertNoTokenText(t, e.audits[0].Detail, token)
			if proof != "" {
				assertNoTokenText(t, e.log.String(), proof)
				assertNoTokenText(t, e.audits[0].Detail, proof)
			}
			// The client gets the fixed text (and the challenge's algs) only.
			answer := rec.Body.String() + strings.Join(rec.Header().Values("WWW-Authenticate"), " ")
			if strings.Contains(answer, tt.setting) || strings.Contains(answer, str("presented")) || strings.Contains(answer, "check") {
				t.Errorf("the client sees the explanation: %s", answer)
			}
		})
	}
}

// TestDPoPRefusalLogLevels: a proof that is at fault alone (a replay) is
// logged at debug only, once a second for its kind, beside the other
// kinds; a missing server nonce, the protocol's first step, is logged at
// debug and not audited.
func TestDPoPRefusalLogLevels(t *testing.T) {
	const external = "https://api.example.com"
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	replay := func(e *explainEnv) (string, string) {
		token := e.kc.PasswordTokenDPoP(t, key, fake.DPoPClientID, "", "alice", "alice-password").AccessToken
		proof, err := key.Proof(http.MethodGet, external+"/api/profile", token, "")
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{200, 401, 401} {
			r := httptest.NewRequest(http.MethodGet, "http://10.0.0.5:8080/api/profile", nil)
			r.Header.Set("Authorization", "DPoP "+token)
			r.Header.Set("DPoP", proof)
			rec := httptest.NewRecorder()
			e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, r)
			if rec.Code != want {
				t.Fatalf("request %d: status %d, want %d", i, rec.Code, want)
			}
		}
		return token, proof
	}
	cfg := func(c *adapter.Config) { c.DPoP.Proof.ExternalURL = external; c.Now = clock }

	e := newExplainEnv(t, slog.LevelInfo, cfg)
	replay(e)
	if s := e.log.String(); s != "" {
		t.Fatalf("a replay logged at info: %s", s)
	}

	e = newExplainEnv(t, slog.LevelDebug, cfg)
	token, proof := replay(e)
	e.dpopGet(t, key, token, "https://other.example.com/api/profile") // another kind: htu
	lines := e.log.records(t, "adapter: DPoP proof refused")
	if len(lines) != 2 || lines[0]["level"] != "DEBUG" || lines[0]["check"] != "replay" || lines[1]["check"] != "htu" {
		t.Fatalf("want one replay line at debug (two refusals in a second) and one htu line:\n%s", e.log)
	}
	assertNoTokenText(t, e.log.String(), token)
	assertNoTokenText(t, e.log.String(), proof)

	e = newExplainEnv(t, slog.LevelDebug, func(c *adapter.Config) {
		c.DPoP.Proof.ExternalURL = external
		c.DPoP.Proof.NonceSecret = []byte(strings.Repeat("n", 32))
	})
	token = e.kc.PasswordTokenDPoP(t, key, fake.DPoPClientID, "", "alice", "alice-password").AccessToken
	rec := e.dpopGet(t, key, token, external+"/api/profile")
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("DPoP-Nonce") == "" {
		t.Fatalf("status %d, DPoP-Nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
	}
	lines = e.log.records(t, "adapter: DPoP proof refused")
	if len(lines) != 1 || lines[0]["level"] != "DEBUG" || lines[0]["check"] != "nonce" ||
		lines[0]["setting"] != "adapter.Config.DPoP.Proof.NonceSecret" {
		t.Fatalf("log:\n%s", e.log)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.audits) != 0 {
		t.Fatalf("a missing nonce was audited: %+v", e.audits)
	}
}
