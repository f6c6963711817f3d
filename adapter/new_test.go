package adapter_test

import (
	"context"
	"encoding/json"
	"errors"
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
)

// provider is an httptest OpenID provider: discovery, JWKS, introspection
// (every token inactive) and revocation, recording what it is asked.
type provider struct {
	*httptest.Server
	m       *attack.Material
	noIntro bool

	mu       sync.Mutex
	requests []string // method path client_id
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{m: attack.NewMaterial(t)}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	p.m.Issuer = p.URL + "/realms/acme"
	return p
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	base := "/realms/acme/protocol/openid-connect"
	client, _, _ := r.BasicAuth()
	if err := r.ParseForm(); err == nil && client == "" {
		client = r.PostForm.Get("client_id")
	}
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+r.URL.Path+" "+client)
	p.mu.Unlock()
	switch r.URL.Path {
	case "/realms/acme/.well-known/openid-configuration":
		doc := map[string]any{"issuer": p.m.Issuer, "jwks_uri": p.URL + base + "/certs",
			"token_endpoint": p.URL + base + "/token", "revocation_endpoint": p.URL + base + "/revoke",
			"authorization_endpoint": p.URL + base + "/auth"}
		if !p.noIntro {
			doc["introspection_endpoint"] = p.URL + base + "/token/introspect"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	case base + "/certs":
		w.Write(p.m.JWKS())
	case base + "/token/introspect":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"active":false}`))
	case base + "/revoke":
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (p *provider) asked(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// hookMetrics counts the events of the parts New builds.
type hookMetrics struct {
	mu      sync.Mutex
	fetches int
	cache   map[introspect.EventKind]int
}

func (m *hookMetrics) Decision(adapter.Outcome, adapter.Reason) {}
func (m *hookMetrics) Introspection(string, time.Duration)      {}
func (m *hookMetrics) StoreDegraded(bool)                       {}
func (m *hookMetrics) AuditDropped()                            {}
func (m *hookMetrics) KeySetFetch(oidc.FetchEvent)              { m.mu.Lock(); m.fetches++; m.mu.Unlock() }
func (m *hookMetrics) IntrospectionCache(ev introspect.Event) {
	m.mu.Lock()
	m.cache[ev.Kind]++
	m.mu.Unlock()
}

// New from the issuer URL builds the verifier on the discovered key set,
// the introspection client and cache (with the client secret) and the
// public-client revokers of Clients, and wires Metrics to the key set and
// the cache.
func TestNewFromDiscovery(t *testing.T) {
	p := newProvider(t)
	m := &hookMetrics{cache: map[introspect.EventKind]int{}}
	auth, err := adapter.New(context.Background(), adapter.Config{Issuer: p.m.Issuer, Audience: p.m.Audience,
		Clients: []string{"mobile"}, ClientSecret: "s3cret", InsecureAllowHTTP: true, Metrics: m,
		Now: func() time.Time { return p.m.Now }})
	if err != nil {
		t.Fatal(err)
	}
	token := p.m.Valid()
	if s := get(auth.Middleware(noContent), "/", token); s != http.StatusNoContent {
		t.Fatalf("a valid token: %d", s)
	}
	if s := get(auth.Introspected(noContent), "/", p.m.Sign(p.m.RS256Header(), p.m.Payload(map[string]any{"jti": "other"}))); s != http.StatusUnauthorized {
		t.Fatalf("introspected, inactive: %d, want 401", s)
	}
	if p.asked("POST /realms/acme/protocol/openid-connect/token/introspect "+p.m.Audience) != 1 {
		t.Fatalf("introspection not asked as %s: %v", p.m.Audience, p.requests)
	}
	rec := post(auth.LogoutHandler(), "/logout", "application/x-www-form-urlencoded", url.Values{"refresh_token": {"rt"}}.Encode(), token)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if n := p.asked("POST /realms/acme/protocol/openid-connect/revoke mobile"); n != 2 {
		t.Fatalf("revocations as the public client mobile: %d, want 2 (refresh and access token): %v", n, p.requests)
	}
	m.mu.Lock()
	fetches, misses := m.fetches, m.cache[introspect.CacheMiss]
	m.mu.Unlock()
	if fetches == 0 || misses != 1 {
		t.Fatalf("metrics: %d key-set fetches, %d cache misses; want some and 1", fetches, misses)
	}
	if err := auth.Close(); err != nil {
		t.Fatal(err)
	}
	if err := auth.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestNewFromDiscoveryErrors(t *testing.T) {
	p := newProvider(t)
	p.noIntro = true
	for name, tt := range map[string]struct {
		cfg  adapter.Config
		want error
	}{
		"no audience":                    {adapter.Config{Issuer: p.m.Issuer, InsecureAllowHTTP: true}, adapter.ErrConfig},
		"secret, no introspection":       {adapter.Config{Issuer: p.m.Issuer, Audience: "backend", ClientSecret: "s", InsecureAllowHTTP: true}, adapter.ErrConfig},
		"http without InsecureAllowHTTP": {adapter.Config{Issuer: p.m.Issuer, Audience: "backend"}, oidc.ErrInsecureURL},
		"issuer not found":               {adapter.Config{Issuer: p.URL + "/realms/other", Audience: "backend", InsecureAllowHTTP: true}, oidc.ErrDiscovery},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := adapter.New(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) || a != nil {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// With a Verifier of its own, New still builds the Introspector and the
// revokers Config asks for, and no key set.
func TestNewBuildsOnlyWhatIsMissing(t *testing.T) {
	p := newProvider(t)
	auth := newAuth(t, adapter.Config{Verifier: staticVerifier(t, p.m), Issuer: p.m.Issuer, Audience: p.m.Audience,
		Clients: []string{"mobile"}, ClientSecret: "s3cret", InsecureAllowHTTP: true, Now: func() time.Time { return p.m.Now }})
	if s := get(auth.Introspected(noContent), "/", p.m.Valid()); s != http.StatusUnauthorized {
		t.Fatalf("introspected, inactive: %d, want 401", s)
	}
	rec := post(auth.LogoutHandler(), "/logout", "application/x-www-form-urlencoded", url.Values{"refresh_token": {"rt"}}.Encode(),
		p.m.Sign(p.m.RS256Header(), p.m.Payload(map[string]any{"jti": "other"})))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if p.asked("POST /realms/acme/protocol/openid-connect/token/introspect") != 1 ||
		p.asked("POST /realms/acme/protocol/openid-connect/revoke mobile") != 2 || p.asked("GET /realms/acme/protocol/openid-connect/certs") != 0 {
		t.Fatalf("requests: %v", p.requests)
	}
}
