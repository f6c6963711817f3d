package adapter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/oidc"
)

const testAlgs = `algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA"`

// dpopEnv is env with a client key and a token bound to it ("bound",
// Keycloak's shape: typ DPoP and cnf.jkt), one bound to another key
// ("foreign"), and a bound token whose cnf only introspection knows.
type dpopEnv struct {
	*env
	key *dpop.Key
}

func newDPoPEnv(t testing.TB) *dpopEnv {
	t.Helper()
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &dpopEnv{env: newEnv(), key: key}
	bound := testClaims("jti-bound")
	bound.Type, bound.Confirmation = "DPoP", &oidc.Confirmation{JKT: key.Thumbprint()}
	e.v.claims["bound"] = bound
	e.in.active["bound"] = bound
	other, _ := dpop.GenerateKey()
	foreign := testClaims("jti-foreign")
	foreign.Type, foreign.Confirmation = "DPoP", &oidc.Confirmation{JKT: other.Thumbprint()}
	e.v.claims["foreign"] = foreign
	// A token whose binding only the introspection answer states.
	e.v.claims["opaque-binding"] = testClaims("jti-ob")
	ob := testClaims("jti-ob")
	ob.Confirmation = &oidc.Confirmation{JKT: key.Thumbprint()}
	e.in.active["opaque-binding"] = ob
	return e
}

func (e *dpopEnv) config() Config {
	cfg := e.env.config()
	cfg.DPoP.Proof.Now = time.Now // the proofs are signed now; the fakes live at t0
	return cfg
}

// dpopRequest is a request with "Authorization: DPoP token" and a proof by
// key for method and target (as the client addresses it).
func dpopRequest(t testing.TB, key *dpop.Key, method, target, token string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	proof, err := key.Proof(method, r.URL.String(), token, "")
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("DPoP", proof)
	return r
}

func challenges(rec *httptest.ResponseRecorder) string {
	return strings.Join(rec.Header().Values("WWW-Authenticate"), " | ")
}

// TestDPoPMatrix: the RFC 9449 answers of the middleware for each way a
// DPoP request can go, with the default policy (allow).
func TestDPoPMatrix(t *testing.T) {
	e := newDPoPEnv(t)
	const url = "http://api.example/orders"
	withProof := func(mutate func(r *http.Request)) *http.Request {
		r := dpopRequest(t, e.key, "GET", url, "bound")
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	other, _ := dpop.GenerateKey()
	replayed := withProof(nil)
	tests := []struct {
		name       string
		req        *http.Request
		status     int
		code       string
		challenges string
		reason     Reason
	}{
		{"bound token with its proof", withProof(nil), 200, "", "", ReasonOK},
		{"bound token as Bearer", bearer("bound"), 401, "invalid_token",
			`Bearer realm="api", error="invalid_token", error_description="DPoP-bound token sent as Bearer" | DPoP realm="api", ` + testAlgs, ReasonDPoPRequired},
		{"unbound Bearer token", bearer("good"), 200, "", "", ReasonOK},
		{"no proof", withProof(func(r *http.Request) { r.Header.Del("DPoP") }), 401, "invalid_dpop_proof",
			`Bearer realm="api" | DPoP realm="api", error="invalid_dpop_proof", error_description="invalid DPoP proof", ` + testAlgs, ReasonInvalidDPoPProof},
		{"two proofs", withProof(func(r *http.Request) { r.Header.Add("DPoP", r.Header.Get("DPoP")) }), 401, "invalid_dpop_proof", "", ReasonInvalidDPoPProof},
		{"proof for another URL", func() *http.Request {
			r := dpopRequest(t, e.key, "GET", "http://api.example/admin", "bound")
			r2 := httptest.NewRequest("GET", url, nil)
			r2.Header = r.Header
			return r2
		}(), 401, "invalid_dpop_proof", "", ReasonInvalidDPoPProof},
		{"proof for another method", func() *http.Request {
			r := dpopRequest(t, e.key, "POST", url, "bound")
			r2 := httptest.NewRequest("GET", url, nil)
			r2.Header = r.Header
			return r2
		}(), 401, "invalid_dpop_proof", "", ReasonInvalidDPoPProof},
		{"proof for another token", func() *http.Request {
			r := dpopRequest(t, e.key, "GET", url, "good")
			r.Header.Set("Authorization", "DPoP bound")
			return r
		}(), 401, "invalid_dpop_proof", "", ReasonInvalidDPoPProof},
		{"proof by another key", dpopRequest(t, other, "GET", url, "bound"), 401, "invalid_token",
			`Bearer realm="api" | DPoP realm="api", error="invalid_token", error_description="invalid DPoP key binding", ` + testAlgs, ReasonInvalidDPoPProof},
		{"token bound to another key", dpopRequest(t, e.key, "GET", url, "foreign"), 401, "invalid_token", "", ReasonInvalidDPoPProof},
		{"unbound token with DPoP", dpopRequest(t, e.key, "GET", url, "good"), 401, "invalid_token", "", ReasonInvalidToken},
		{"replayed proof", replayed, 401, "invalid_dpop_proof", "", ReasonInvalidDPoPProof},
		{"DPoP and Bearer headers", withProof(func(r *http.Request) { r.Header.Add("Authorization", "Bearer bound") }), 400, "invalid_request", "", ReasonMultipleTokens},
		{"no credentials", bearer(""), 401, "", `Bearer realm="api" | DPoP realm="api", ` + testAlgs, ReasonNoCredentials},
		{"revoked bound token", dpopRequest(t, e.key, "GET", url, "revoked-bound"), 401, "invalid_token", "", ReasonRevoked},
	}
	revoked := testClaims("jti-revoked-bound")
	revoked.Type, revoked.Confirmation = "DPoP", &oidc.Confirmation{JKT: e.key.Thumbprint()}
	e.v.claims["revoked-bound"] = revoked
	e.s.jtis[revoked.Issuer+" jti-revoked-bound"] = true

	m := &countMetrics{decisions: map[string]int{}}
	cfg := e.config()
	cfg.Metrics = m
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// The replayed proof is used once before the table runs.
	if rec := httptest.NewRecorder(); true {
		a.Middleware(okHandler).ServeHTTP(rec, replayed.Clone(context.Background()))
		if rec.Code != 200 {
			t.Fatalf("first use of the replayed proof: %d %s", rec.Code, challenges(rec))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			m.decisions = map[string]int{}
			a.Middleware(okHandler).ServeHTTP(rec, tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, challenges(rec), tt.status)
			}
			if tt.code != "" && !strings.Contains(rec.Body.String(), `"error":"`+tt.code+`"`) {
				t.Fatalf("body %s, want error %s", rec.Body, tt.code)
			}
			if tt.challenges != "" && challenges(rec) != tt.challenges {
				t.Fatalf("challenges\n %s\nwant\n %s", challenges(rec), tt.challenges)
			}
			if tt.status != 200 && rec.Header().Get("DPoP-Nonce") != "" {
				t.Fatal("DPoP-Nonce without nonces")
			}
			want := "deny/" + string(tt.reason)
			if tt.status == 200 {
				want = "allow/ok"
			}
			if m.decisions[want] != 1 {
				t.Fatalf("decisions %v, want %s", m.decisions, want)
			}
		})
	}
}

// TestDPoPRequire: with DPoPPolicy.Require a Bearer token is refused on
// every route, and the challenge offers DPoP only; with Route, on the
// routes it names.
func TestDPoPRequire(t *testing.T) {
	e := newDPoPEnv(t)
	cfg := e.config()
	cfg.DPoP.Require = true
	rec := serve(t, cfg, bearer("good"))
	if rec.Code != 401 || challenges(rec) != `DPoP realm="api", error="invalid_token", error_description="DPoP-bound token required", `+testAlgs {
		t.Fatalf("%d %s", rec.Code, challenges(rec))
	}
	rec = serve(t, cfg, bearer(""))
	if rec.Code != 401 || challenges(rec) != `DPoP realm="api", `+testAlgs {
		t.Fatalf("no credentials: %d %s", rec.Code, challenges(rec))
	}
	if rec := serve(t, cfg, dpopRequest(t, e.key, "GET", "http://api.example/orders", "bound")); rec.Code != 200 {
		t.Fatalf("DPoP: %d %s", rec.Code, challenges(rec))
	}

	cfg = e.config()
	cfg.DPoP.Route = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/pay") }
	payReq := httptest.NewRequest("GET", "/pay/1", nil)
	payReq.Header.Set("Authorization", "Bearer good")
	if rec := serve(t, cfg, payReq); rec.Code != 401 || !strings.Contains(rec.Body.String(), "invalid_token") {
		t.Fatalf("Bearer on a DPoP route: %d", rec.Code)
	}
	if rec := serve(t, cfg, bearer("good")); rec.Code != 200 {
		t.Fatalf("Bearer elsewhere: %d", rec.Code)
	}
	if rec := serve(t, cfg, dpopRequest(t, e.key, "GET", "http://api.example/pay/1", "bound")); rec.Code != 200 {
		t.Fatalf("DPoP on a DPoP route: %d %s", rec.Code, challenges(rec))
	}
}

// TestDPoPNonce: with a nonce secret, a proof without the nonce is
// refused with use_dpop_nonce and a DPoP-Nonce header; the retry with it
// passes, and the answer offers the current nonce; dpop.Transport does the
// retry by itself.
func TestDPoPNonce(t *testing.T) {
	e := newDPoPEnv(t)
	cfg := e.config()
	cfg.DPoP.Proof.NonceSecret = []byte(strings.Repeat("k", 32))
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Middleware(okHandler))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
	req.Header.Set("Authorization", "DPoP bound")
	proof, _ := e.key.Proof("GET", srv.URL+"/orders", "bound", "")
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || nonce == "" || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `DPoP realm="api", error="use_dpop_nonce"`) {
		t.Fatalf("%d nonce %q %v", resp.StatusCode, nonce, resp.Header.Values("WWW-Authenticate"))
	}
	proof, _ = e.key.Proof("GET", srv.URL+"/orders", "bound", nonce)
	req.Header.Set("DPoP", proof)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("DPoP-Nonce") != nonce {
		t.Fatalf("with the nonce: %d, offered %q", resp.StatusCode, resp.Header.Get("DPoP-Nonce"))
	}

	// A client with dpop.Transport retries once by itself.
	hc := &http.Client{Transport: &dpop.Transport{Key: e.key}}
	req, _ = http.NewRequest("GET", srv.URL+"/orders", nil)
	req.Header.Set("Authorization", "DPoP bound")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("transport: %d", resp.StatusCode)
	}
	// Bearer answers never carry a nonce.
	if rec := httptest.NewRecorder(); true {
		a.Middleware(okHandler).ServeHTTP(rec, bearer("good"))
		if rec.Code != 200 || rec.Header().Get("DPoP-Nonce") != "" {
			t.Fatalf("Bearer: %d nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
		}
	}
}

// TestDPoPIntrospectedBinding: under introspection the binding comes from
// the answer: a token whose cnf only the answer holds passes with its
// proof and is refused as Bearer; an answer whose cnf.jkt differs from the
// token's is refused.
func TestDPoPIntrospectedBinding(t *testing.T) {
	e := newDPoPEnv(t)
	cfg := e.config()
	cfg.Policy.Always = true
	if rec := serve(t, cfg, dpopRequest(t, e.key, "GET", "http://api.example/orders", "opaque-binding")); rec.Code != 200 {
		t.Fatalf("DPoP: %d %s", rec.Code, challenges(rec))
	}
	if rec := serve(t, cfg, bearer("opaque-binding")); rec.Code != 401 || !strings.Contains(rec.Body.String(), "invalid_token") {
		t.Fatalf("as Bearer: %d %s", rec.Code, rec.Body)
	}
	// Without the policy, the DPoP request asks the introspector for the
	// binding the token lacks.
	cfg.Policy.Always = false
	calls := e.in.calls
	if rec := serve(t, cfg, dpopRequest(t, e.key, "GET", "http://api.example/orders", "opaque-binding")); rec.Code != 200 || e.in.calls != calls+1 {
		t.Fatalf("DPoP without policy: %d, %d introspections", rec.Code, e.in.calls-calls)
	}
	// Two bindings that disagree.
	other, _ := dpop.GenerateKey()
	mixed := testClaims("jti-bound")
	mixed.Type, mixed.Confirmation = "DPoP", &oidc.Confirmation{JKT: other.Thumbprint()}
	e.in.active["bound"] = mixed
	cfg.Policy.Always = true
	if rec := serve(t, cfg, dpopRequest(t, e.key, "GET", "http://api.example/orders", "bound")); rec.Code != 401 {
		t.Fatalf("disagreeing bindings: %d", rec.Code)
	}
}

// TestDPoPReplayStoreDown: a proof that cannot be recorded is not
// accepted: 503, not 401.
func TestDPoPReplayStoreDown(t *testing.T) {
	e := newDPoPEnv(t)
	e.s.failWrite = errors.New("redis down")
	rec := serve(t, e.config(), dpopRequest(t, e.key, "GET", "http://api.example/orders", "bound"))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || len(rec.Header().Values("WWW-Authenticate")) != 0 {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

// TestDPoPRequirementChallenge: a 403 for a DPoP request carries
// insufficient_scope in the DPoP challenge.
func TestDPoPRequirementChallenge(t *testing.T) {
	e := newDPoPEnv(t)
	a, err := New(context.Background(), e.config())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h := a.Middleware(a.Require(RequireScope("orders:write"))(okHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, dpopRequest(t, e.key, "GET", "http://api.example/orders", "bound"))
	want := `Bearer realm="api" | DPoP realm="api", error="insufficient_scope", error_description="scope required", scope="orders:write", ` + testAlgs
	if rec.Code != 403 || challenges(rec) != want {
		t.Fatalf("%d\n %s\nwant\n %s", rec.Code, challenges(rec), want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, bearer("good"))
	if rec.Code != 403 || !strings.HasPrefix(challenges(rec), `Bearer realm="api", error="insufficient_scope"`) {
		t.Fatalf("Bearer: %d %s", rec.Code, challenges(rec))
	}
}

// TestDPoPAudit: a refused proof is audited with the verified token's
// identity and the explanation, which names the setting
// (TestDPoPRefusalExplained holds the log line to it).
func TestDPoPAudit(t *testing.T) {
	e := newDPoPEnv(t)
	var got []AuditEvent
	cfg := e.config()
	cfg.Audit = func(_ context.Context, ev AuditEvent) { got = append(got, ev) }
	r := dpopRequest(t, e.key, "GET", "https://api.example.com/orders", "bound")
	r.Host = "10.0.0.5:8080" // behind a proxy, without ExternalURL
	r.TLS = nil
	rec := serve(t, cfg, r)
	if rec.Code != 401 || len(got) != 1 {
		t.Fatalf("%d, %d events", rec.Code, len(got))
	}
	ev := got[0]
	if ev.Kind != AuditVerificationFailed || ev.Reason != ReasonInvalidDPoPProof || ev.TokenID != "jti-bound" ||
		!strings.HasPrefix(ev.Detail, "check=htu ") || !strings.HasSuffix(ev.Detail, " setting=adapter.Config.DPoP.Proof.ExternalURL") ||
		strings.Contains(ev.Detail, "bound") {
		t.Fatalf("event %+v", ev)
	}
}

// TestDPoPConfigErrors: a proof configuration New cannot use.
func TestDPoPConfigErrors(t *testing.T) {
	e := newDPoPEnv(t)
	for name, mod := range map[string]func(*Config){
		"HS256":        func(c *Config) { c.DPoP.Proof.Algorithms = []string{"HS256"} },
		"short secret": func(c *Config) { c.DPoP.Proof.NonceSecret = []byte("x") },
		"bad url":      func(c *Config) { c.DPoP.Proof.ExternalURL = "api.example.com" },
	} {
		cfg := e.config()
		mod(&cfg)
		if _, err := New(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestExtractScheme: the Authorization header's scheme.
func TestExtractScheme(t *testing.T) {
	var e Extractor
	for _, tc := range []struct {
		header string
		want   scheme
		err    error
	}{
		{"DPoP abc", schemeDPoP, nil},
		{"dpop abc", schemeDPoP, nil},
		{"DPOP  abc", schemeDPoP, nil},
		{"Bearer abc", schemeBearer, nil},
		{"DPoPx abc", schemeNone, errNoCredentials},
		{"DPoP", schemeDPoP, errMalformedBearer},
		{"DPoP a b", schemeDPoP, errMalformedBearer},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", tc.header)
		_, got, err := e.extract(r, true)
		if got != tc.want || !errors.Is(err, tc.err) || tc.err == nil && err != nil {
			t.Errorf("%q: scheme %d, %v", tc.header, got, err)
		}
	}
}

// TestDPoPLogout: LogoutHandler takes a DPoP-bound access token only with
// its proof (a copied token cannot end the session either), deny-lists it
// and revokes the refresh token upstream.
func TestDPoPLogout(t *testing.T) {
	const url = "http://api.example/auth/logout"
	logoutReq := func(e *dpopEnv, key *dpop.Key, scheme string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, url, strings.NewReader("refresh_token=rt1"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", scheme+" bound")
		if key != nil {
			p, _ := key.Proof(http.MethodPost, url, "bound", "")
			r.Header.Set("DPoP", p)
		}
		return r
	}
	other, _ := dpop.GenerateKey()
	for _, tc := range []struct {
		name    string
		req     func(e *dpopEnv) *http.Request
		want    int
		revoked bool
	}{
		{"with its proof", func(e *dpopEnv) *http.Request { return logoutReq(e, e.key, "DPoP") }, 204, true},
		{"as Bearer", func(e *dpopEnv) *http.Request { return logoutReq(e, nil, "Bearer") }, 401, false},
		{"as Bearer with a proof", func(e *dpopEnv) *http.Request { return logoutReq(e, e.key, "Bearer") }, 401, false},
		{"without proof", func(e *dpopEnv) *http.Request { return logoutReq(e, nil, "DPoP") }, 401, false},
		{"proof by another key", func(e *dpopEnv) *http.Request { return logoutReq(e, other, "DPoP") }, 401, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDPoPEnv(t)
			rv := &fakeRevoker{}
			cfg := e.config()
			cfg.Revokers = map[string]Revoker{"mobile": rv}
			a, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			rec := httptest.NewRecorder()
			a.LogoutHandler().ServeHTTP(rec, tc.req(e))
			if rec.Code != tc.want {
				t.Fatalf("%d, want %d: %s %s", rec.Code, tc.want, challenges(rec), rec.Body)
			}
			denied := e.s.jtis["https://kc.example/realms/tw jti-bound"]
			if denied != tc.revoked || (len(rv.revoked) > 0) != tc.revoked {
				t.Fatalf("deny-listed %v, revoked upstream %v", denied, rv.revoked)
			}
		})
	}
}
