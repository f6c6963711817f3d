package adapter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/oidc"
)

func TestRequirements(t *testing.T) {
	c := testClaims("j")
	tests := []struct {
		name      string
		req       Requirement
		want      bool
		wantScope string
	}{
		{"scope present", RequireScope("orders:read"), true, "orders:read"},
		{"scopes all present", RequireScope("openid", "orders:read"), true, "openid orders:read"},
		{"one scope missing", RequireScope("openid", "orders:write"), false, "openid orders:write"},
		{"scope prefix is not the scope", RequireScope("orders"), false, "orders"},
		{"no scopes never met", RequireScope(), false, ""},
		{"realm role", RequireRealmRole("user"), true, ""},
		{"missing realm role", RequireRealmRole("admin"), false, ""},
		{"empty realm role", RequireRealmRole(""), false, ""},
		{"client role", RequireClientRole("backend", "reader"), true, ""},
		{"client role of another client", RequireClientRole("mobile", "reader"), false, ""},
		{"missing client role", RequireClientRole("backend", "writer"), false, ""},
		{"all met", All(RequireRealmRole("user"), RequireScope("openid")), true, "openid"},
		{"all, one unmet", All(RequireRealmRole("user"), RequireScope("orders:write")), false, "orders:write"},
		{"empty all", All(), true, ""},
		{"any, one met", Any(RequireRealmRole("admin"), RequireClientRole("backend", "reader")), true, ""},
		{"any, none met", Any(RequireRealmRole("admin"), RequireScope("a"), RequireScope("b", "a")), false, "a b"},
		{"empty any", Any(), false, ""},
		{"nested", Any(All(RequireRealmRole("admin"), RequireScope("x")), All(RequireRealmRole("user"), RequireScope("openid"))), true, "x openid"},
		{"custom", RequireFunc("email required", func(c *oidc.Claims) bool { return c.Email != "" }), false, ""},
		{"zero requirement", Requirement{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Allow(c); got != tt.want {
				t.Fatalf("Allow = %v, want %v", got, tt.want)
			}
			if tt.req.Allow(nil) {
				t.Fatal("nil claims allowed")
			}
			e := tt.req.check(c)
			if (e == nil) != tt.want {
				t.Fatalf("check = %v", e)
			}
			if e != nil && (e.Status != 403 || e.Code != codeInsufficientScope || e.Scope != tt.wantScope) {
				t.Fatalf("refusal = %+v, want scope %q", e, tt.wantScope)
			}
		})
	}
}

func TestRequireMiddleware(t *testing.T) {
	a, err := New(context.Background(), Config{Verifier: newFakeVerifier(), Store: newFakeStore()})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Require(RequireRealmRole("admin"))(okHandler)
	// Not authenticated at all: 401 without an error code.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	check(t, rec, wantResp{status: 401, challenge: `Bearer realm="api"`})

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = r.WithContext(NewContext(r.Context(), testClaims("j")))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	check(t, rec, wantResp{status: 403, code: codeInsufficientScope,
		challenge: `Bearer realm="api", error="insufficient_scope", error_description="realm role required"`})

	rec = httptest.NewRecorder()
	a.Require(RequireRealmRole("user"))(okHandler).ServeHTTP(rec, r)
	check(t, rec, wantResp{status: 200, body: "user-1 user"})
}

func TestContext(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, ok := FromContext(r.Context()); ok {
		t.Fatal("claims in an empty context")
	}
	if _, ok := FromContext(NewContext(r.Context(), nil)); ok {
		t.Fatal("nil claims reported present")
	}
	c := testClaims("j")
	got, ok := FromContext(NewContext(r.Context(), c))
	if !ok || got != c {
		t.Fatal("claims lost")
	}
}

func TestSanitizeDescription(t *testing.T) {
	tests := []struct{ in, want string }{
		{"token expired", "token expired"},
		{`a "quoted" \ value`, "a ?quoted? ? value"},
		{"tab\there\nnewline", "tab?here?newline"},
		{"é", "??"},
		{"\x7f\x1f!#[]~", "??!#[]~"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200)},
	}
	for _, tt := range tests {
		got := sanitizeDescription(tt.in)
		if got != tt.want {
			t.Errorf("sanitizeDescription(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for i := 0; i < len(got); i++ {
			if !descChar(got[i]) {
				t.Errorf("byte %#x left in %q", got[i], got)
			}
		}
	}
}

func TestCustomErrorWriter(t *testing.T) {
	e := newEnv()
	cfg := e.config()
	cfg.ErrorWriter = func(w http.ResponseWriter, _ *http.Request, ae *AuthError) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(ae.Status)
		w.Write([]byte("nope: " + string(ae.Reason)))
	}
	rec := serve(t, cfg, bearer("expired"))
	if rec.Code != 401 || rec.Body.String() != "nope: expired" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="api", error="invalid_token", error_description="token expired"` {
		t.Fatalf("challenge %q", got)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("no Cache-Control")
	}
}

// TestRequireClaim checks the guard on every shape a claim takes: a string
// (equal), an array (contains), an object (member name), the organization
// and groups fields, and claims absent, null, of another type or without a
// payload at all.
func TestRequireClaim(t *testing.T) {
	c, err := oidc.ParseClaims([]byte(`{"sub":"u","tenant":"acme","allowed-origins":["capacitor://localhost","https://app.example.com"],` +
		`"orgs":{"acme":{"id":"1"},"glo\u0062ex":{}},"mixed":["acme",1],"nulls":["acme",null],"nested":{"inner":["acme"]},"level":3,"none":null,` +
		`"organization":{"acme":{"id":"93f75744"}},"groups":["/staff/ops"]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, claim, value string
		want               bool
	}{
		{"string equal", "tenant", "acme", true},
		{"string differs", "tenant", "acm", false},
		{"array contains", "allowed-origins", "capacitor://localhost", true},
		{"array lacks", "allowed-origins", "capacitor://", false},
		{"object member", "orgs", "acme", true},
		{"object member spelt with an escape", "orgs", "globex", true},
		{"object lacks", "orgs", "id", false},
		{"array with a number", "mixed", "acme", false},
		{"array with a null", "nulls", "acme", true},
		{"nested value is not a member", "nested", "acme", false},
		{"number", "level", "3", false},
		{"null", "none", "null", false},
		{"absent", "missing", "acme", false},
		{"empty value", "tenant", "", false},
		{"organization field", "organization", "acme", true},
		{"organization field lacks", "organization", "93f75744", false},
		{"groups field", "groups", "/staff/ops", true},
		{"groups field is exact", "groups", "/staff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RequireClaim(tt.claim, tt.value).Allow(c); got != tt.want {
				t.Fatalf("RequireClaim(%q, %q) = %v, want %v", tt.claim, tt.value, got, tt.want)
			}
		})
	}
	if RequireClaim("tenant", "acme").Allow(&oidc.Claims{Subject: "u"}) {
		t.Fatal("claims without a payload met a payload claim")
	}
}

// TestMissingClaim: the trigger fires when the payload lacks the claim
// (null counts as present), and when there is no payload to look in.
func TestMissingClaim(t *testing.T) {
	c, err := oidc.ParseClaims([]byte(`{"sub":"u","acr":"1","amr":null,"nested":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"acr": false, "amr": false, "nested": false, "x": true, "ACR": true} {
		if got := MissingClaim(name)(c); got != want {
			t.Errorf("MissingClaim(%q) = %v, want %v", name, got, want)
		}
	}
	if !MissingClaim("acr")(&oidc.Claims{Subject: "u"}) {
		t.Error("claims without a payload do not miss acr")
	}
}
