package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// fakeIssuer is an OIDC provider for unit tests: discovery, a JWKS with one
// RSA key, and introspection and revocation endpoints that check the
// backend client's credentials and answer what the test sets.
type fakeIssuer struct {
	t      testing.TB
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer

	mu           sync.Mutex
	active       bool // introspection answer
	revokeStatus int
	revoked      []string // form "token" values received
	calls        map[string]int
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: key, signer: signer, active: true, revokeStatus: http.StatusOK, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// set runs fn under the fake's lock.
func (f *fakeIssuer) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeIssuer) issuer() string { return f.srv.URL + "/realms/app" }

func (f *fakeIssuer) env() map[string]string {
	return map[string]string{
		"TOKENWARDEN_ISSUER":        f.issuer(),
		"TOKENWARDEN_CLIENT_ID":     "backend",
		"TOKENWARDEN_CLIENT_SECRET": "backend-secret",
	}
}

// claims are those of a Keycloak access token issued to the mobile client.
func (f *fakeIssuer) claims(now time.Time) map[string]any {
	return map[string]any{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
		"jti": "onrtac:6b0d3c8e-5a1f-4e59-a7c1-9d1f2e3a4b5c", "iss": f.issuer(), "aud": "backend",
		"sub": "3f6c1c2e-8d4b-4b8e-9b1a-0c2d3e4f5a6b", "typ": "Bearer", "azp": "mobile",
		"sid": "crlYuJbbZY-co9uK3rSMiaoF", "scope": "openid profile email",
		"realm_access":       map[string]any{"roles": []string{"user", "admin"}},
		"resource_access":    map[string]any{"backend": map[string]any{"roles": []string{"reader", "writer"}}},
		"preferred_username": "bob", "email": "bob@example.com",
	}
}

func (f *fakeIssuer) sign(claims map[string]any) string {
	f.t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		f.t.Fatal(err)
	}
	jws, err := f.signer.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[r.Method+" "+r.URL.Path]++
	base := "/realms/app"
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case base + "/.well-known/openid-configuration":
		oidcBase := f.issuer() + "/protocol/openid-connect"
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                f.issuer(),
			"authorization_endpoint":                oidcBase + "/auth",
			"token_endpoint":                        oidcBase + "/token",
			"jwks_uri":                              oidcBase + "/certs",
			"introspection_endpoint":                oidcBase + "/token/introspect",
			"revocation_endpoint":                   oidcBase + "/revoke",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
		})
	case base + "/protocol/openid-connect/certs":
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
		_ = json.NewEncoder(w).Encode(set)
	case base + "/protocol/openid-connect/token/introspect":
		if user, pass, ok := r.BasicAuth(); !ok || user != "backend" || pass != "backend-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}`)
			return
		}
		if !f.active {
			io.WriteString(w, `{"active":false}`)
			return
		}
		ans := f.claims(fixedNow)
		ans["active"], ans["client_id"], ans["username"], ans["token_type"] = true, "mobile", "bob", "Bearer"
		_ = json.NewEncoder(w).Encode(ans)
	case base + "/protocol/openid-connect/revoke":
		_ = r.ParseForm()
		if r.PostForm.Get("client_id") != "mobile" {
			f.t.Errorf("revocation as client %q, want mobile", r.PostForm.Get("client_id"))
		}
		f.revoked = append(f.revoked, r.PostForm.Get("token"))
		if f.revokeStatus == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(f.revokeStatus)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// tamper changes one character of the signature.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestVerifyFake(t *testing.T) {
	f := newFakeIssuer(t)
	good := f.sign(f.claims(fixedNow))
	expired := f.sign(f.claims(fixedNow.Add(-time.Hour)))
	refresh := f.claims(fixedNow)
	refresh["typ"] = "Refresh"
	otherAud := f.claims(fixedNow)
	otherAud["aud"] = "account"

	tests := []struct {
		name     string
		token    string
		args     []string
		env      map[string]string
		wantCode int
		golden   string
		want     string
	}{
		{"valid text", good, nil, nil, exitOK, "verify.txt", ""},
		{"valid json", good, []string{"--json"}, nil, exitOK, "verify.json", ""},
		{"tampered", tamper(good), nil, nil, exitRejected, "", "invalid: oidc: invalid signature"},
		{"tampered json", tamper(good), []string{"--json"}, nil, exitRejected, "verify-invalid.json", ""},
		{"expired", expired, nil, nil, exitRejected, "", "invalid: oidc: token expired"},
		{"refresh token", f.sign(refresh), nil, nil, exitRejected, "", "invalid: oidc: wrong token type"},
		{"other audience", f.sign(otherAud), nil, nil, exitRejected, "", "invalid: oidc: wrong audience"},
		{"authorized party instead", f.sign(otherAud), []string{"--audience", "", "--client-id", "", "--authorized-party", "mobile"},
			nil, exitOK, "", "valid:"},
		{"garbage", "not-a-jwt", nil, nil, exitRejected, "", "invalid: oidc: malformed token"},
		{"no audience", good, nil, map[string]string{"TOKENWARDEN_CLIENT_ID": ""}, exitUsage, "", ""},
		{"ES256 only", good, []string{"--algorithms", "ES256"}, nil, exitRejected, "", "invalid:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := f.env()
			for k, v := range tt.env {
				env[k] = v
			}
			r := invokeAt(t, fixedNow, env, tt.token, append([]string{"verify"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, strings.ReplaceAll(r.stdout, f.issuer(), "https://sso.example.com/realms/app"))
			}
			if !strings.Contains(r.stdout, tt.want) {
				t.Errorf("stdout %q lacks %q", r.stdout, tt.want)
			}
			if strings.Contains(r.stdout+r.stderr, tt.token) && tt.token != "not-a-jwt" {
				t.Error("the token was printed")
			}
		})
	}

	t.Run("issuer down", func(t *testing.T) {
		env := f.env()
		env["TOKENWARDEN_ISSUER"] = "http://" + closedAddr(t) + "/realms/app"
		r := invokeAt(t, fixedNow, env, good, "verify")
		if r.code != exitUnavailable {
			t.Fatalf("exit %d, want %d: %s", r.code, exitUnavailable, r.stderr)
		}
	})
}

func TestIntrospectFake(t *testing.T) {
	f := newFakeIssuer(t)
	token := f.sign(f.claims(fixedNow))

	r := invokeAt(t, fixedNow, f.env(), token, "introspect")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	golden(t, "introspect.txt", strings.ReplaceAll(r.stdout, f.issuer(), "https://sso.example.com/realms/app"))

	f.set(func() { f.active = false })
	r = invokeAt(t, fixedNow, f.env(), token, "introspect", "--json")
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d: %s %s", r.code, exitRejected, r.stdout, r.stderr)
	}
	golden(t, "introspect-inactive.json", r.stdout)

	// Active at the issuer, but not for this audience: refused by the CLI.
	f.set(func() { f.active = true })
	r = invokeAt(t, fixedNow, f.env(), token, "introspect", "--audience", "someone-else")
	if r.code != exitRejected || !strings.HasPrefix(r.stdout, "rejected: introspect: active token rejected") {
		t.Fatalf("other audience: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = invokeAt(t, fixedNow, f.env(), token, "introspect", "--audience", "someone-else", "--any-audience")
	if r.code != exitOK {
		t.Fatalf("--any-audience: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	env := f.env()
	env["TOKENWARDEN_CLIENT_SECRET"] = "wrong-secret-0815"
	r = invokeAt(t, fixedNow, env, token, "introspect")
	if r.code != exitRefused || strings.Contains(r.stderr, "wrong-secret-0815") {
		t.Fatalf("wrong secret: exit %d, stderr %q", r.code, r.stderr)
	}

	delete(env, "TOKENWARDEN_CLIENT_SECRET")
	r = invokeAt(t, fixedNow, env, token, "introspect")
	if r.code != exitUsage || !strings.Contains(r.stderr, "needs the client secret") {
		t.Fatalf("no secret: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRevokeFake(t *testing.T) {
	f := newFakeIssuer(t)
	token := f.sign(f.claims(fixedNow))
	env := map[string]string{"TOKENWARDEN_ISSUER": f.issuer(), "TOKENWARDEN_CLIENT_ID": "mobile"}

	r := invokeAt(t, fixedNow, env, `{"access_token":"a.b.c","refresh_token":"`+token+`"}`,
		"revoke", "--token-type-hint", "refresh_token", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var revoked []string
	f.set(func() { revoked = append(revoked, f.revoked...) })
	if len(revoked) != 1 || revoked[0] != token {
		t.Fatalf("revocation endpoint received %d tokens, want the refresh token", len(f.revoked))
	}
	golden(t, "revoke.json", r.stdout)

	f.set(func() { f.revokeStatus = http.StatusServiceUnavailable })
	r = invokeAt(t, fixedNow, env, token, "revoke", "--timeout", "5s")
	if r.code != exitUnavailable {
		t.Fatalf("503: exit %d, want %d: %s", r.code, exitUnavailable, r.stderr)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{usagef("x"), exitUsage},
		{fmt.Errorf("wrapped: %w", usagef("x")), exitUsage},
		{&notFoundError{"x"}, exitRefused},
		{&partialError{"x"}, exitPartial},
		{context.DeadlineExceeded, exitUnavailable},
		{&gocloak.APIError{Code: 0, Message: "dial"}, exitUnavailable},
		{&gocloak.APIError{Code: 502}, exitUnavailable},
		{&gocloak.APIError{Code: 401}, exitRefused},
		{&gocloak.APIError{Code: 403}, exitRefused},
		{&gocloak.APIError{Code: 404}, exitRefused},
		{fmt.Errorf("x: %w", introspect.ErrInactive), exitRejected},
		{fmt.Errorf("x: %w", introspect.ErrRejected), exitRejected},
		{fmt.Errorf("x: %w", introspect.ErrUnavailable), exitUnavailable},
		{fmt.Errorf("x: %w", introspect.ErrInvalidResponse), exitUnavailable},
		{fmt.Errorf("x: %w", introspect.ErrConfig), exitUsage},
		{&introspect.Error{Endpoint: introspect.EndpointIntrospection, Status: 401}, exitRefused},
		{&introspect.Error{Endpoint: introspect.EndpointRevocation, Status: 400, Code: "invalid_request"}, exitRefused},
		{&introspect.Error{Endpoint: introspect.EndpointRevocation, Status: 503}, exitUnavailable},
		{&oidc.ValidationError{Kind: oidc.ErrExpired}, exitRejected},
		{&oidc.ValidationError{Kind: oidc.ErrBadSignature}, exitRejected},
		{&oidc.ValidationError{Kind: oidc.ErrUnknownKey, Cause: oidc.ErrKeysUnavailable}, exitUnavailable},
		{fmt.Errorf("%w: x", oidc.ErrDiscovery), exitUnavailable},
		{errors.New("something else"), exitUnavailable},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// FuzzExtractToken feeds arbitrary token input: it must never panic, accept
// only a printable ASCII token without whitespace, and never echo the input
// in an error.
func FuzzExtractToken(f *testing.F) {
	f.Add([]byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\n"), "")
	f.Add([]byte(`{"access_token":"a.b.c","refresh_token":"d.e.f"}`), "refresh_token")
	f.Add([]byte("Bearer a.b.c"), "access_token")
	f.Add([]byte("bearer \t a.b.c \r\n"), "")
	f.Add([]byte(`{"access_token":1}`), "")
	f.Add([]byte("a b"), "")
	f.Fuzz(func(t *testing.T, input []byte, hint string) {
		tok, err := extractToken(input, hint)
		if err != nil {
			if tok != "" {
				t.Fatal("token and error")
			}
			if exitCode(err) != exitUsage {
				t.Fatalf("exit code %d", exitCode(err))
			}
			if s := strings.TrimSpace(string(input)); len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if tok == "" {
			t.Fatal("empty token without error")
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] >= 0x7f {
				t.Fatalf("token byte %#x accepted", tok[i])
			}
		}
	})
}

func TestStatusFake(t *testing.T) {
	f := newFakeIssuer(t)
	for _, format := range []string{"txt", "json"} {
		args := []string{"status"}
		if format == "json" {
			args = append(args, "--json")
		}
		r := invokeAt(t, fixedNow, f.env(), "", args...)
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "status."+format, strings.ReplaceAll(r.stdout, f.srv.URL, "https://sso.example.com"))
	}

	env := f.env()
	env["TOKENWARDEN_ISSUER"] = "http://" + closedAddr(t) + "/realms/app"
	if r := invokeAt(t, fixedNow, env, "", "status"); r.code != exitUnavailable {
		t.Fatalf("issuer down: exit %d, want %d", r.code, exitUnavailable)
	}
}
