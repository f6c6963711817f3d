package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// bobID is bob's sub in the fake realm of the golden-file tests.
const bobID = "3f6c1c2e-8d4b-4b8e-9b1a-0c2d3e4f5a6b"

// realm is a fake Keycloak realm (keycloaktest/fake) on the golden-file
// clock, whose revocation endpoint answers 503 while down is set.
type realm struct {
	*fake.Keycloak
	down atomic.Bool
}

func newRealm(t testing.TB) *realm {
	t.Helper()
	r := &realm{}
	r.Keycloak = fake.New(t, fake.Config{
		Now: func() time.Time { return fixedNow },
		Users: []fake.User{{Username: "bob", ID: bobID, RealmRoles: []string{"user", "admin"},
			ClientRoles: map[string][]string{fake.BackendClientID: {"reader", "writer"}}}},
		Middleware: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if r.down.Load() && strings.HasSuffix(req.URL.Path, "/revoke") {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, req)
			})
		},
	})
	return r
}

func (r *realm) env() map[string]string {
	return map[string]string{
		"TOKENWARDEN_ISSUER":        r.IssuerURL(),
		"TOKENWARDEN_CLIENT_ID":     fake.BackendClientID,
		"TOKENWARDEN_CLIENT_SECRET": fake.BackendClientSecret,
	}
}

// login returns bob's tokens from the mobile client.
func (r *realm) login(t testing.TB) fake.Tokens {
	return r.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password")
}

// stable replaces what differs between runs (the server's address, the
// token's jti and sid, the realm's kid) with fixed text, for golden files.
func (r *realm) stable(t testing.TB, out string, tok fake.Tokens) string {
	t.Helper()
	var c struct {
		JTI string `json:"jti"`
	}
	if err := keycloaktest.UnverifiedClaims(tok.AccessToken, &c); err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(r.BaseURL, "https://sso.example.com", c.JTI, "onrtro:6b0d3c8e-5a1f-4e59-a7c1-9d1f2e3a4b5c",
		tok.SessionID, "crlYuJbbZY-co9uK3rSMiaoF", r.KeyID(), "realm-key").Replace(out)
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
	f := newRealm(t)
	login := f.login(t)
	good := login.AccessToken
	expired := f.Break(t, good, fake.Expired)
	refreshTyp := f.Resign(t, good, func(_, c map[string]any) { c["typ"] = "Refresh" })
	otherAud := f.Resign(t, good, func(_, c map[string]any) { c["aud"] = "account" })

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
		{"refresh token", login.RefreshToken, nil, nil, exitRejected, "", `invalid: oidc: disallowed signing algorithm: alg expected one of ["RS256"], presented "HS512"`},
		{"payload typ Refresh", refreshTyp, nil, nil, exitRejected, "", `invalid: oidc: wrong token type: typ expected "Bearer" or "DPoP", presented "Refresh"`},
		{"other audience", otherAud, nil, nil, exitRejected, "", "invalid: oidc: wrong audience"},
		{"authorized party instead", otherAud, []string{"--audience", "", "--client-id", "", "--authorized-party", "mobile"},
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
				golden(t, tt.golden, f.stable(t, r.stdout, login))
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
	f := newRealm(t)
	login := f.login(t)
	token := login.AccessToken

	r := invokeAt(t, fixedNow, f.env(), token, "introspect")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	golden(t, "introspect.txt", f.stable(t, r.stdout, login))

	// Active at the issuer, but not for this audience: refused by the CLI.
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

	// The session ended at Keycloak: inactive.
	f.LogoutUser(t, "bob")
	r = invokeAt(t, fixedNow, f.env(), token, "introspect", "--json")
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d: %s %s", r.code, exitRejected, r.stdout, r.stderr)
	}
	golden(t, "introspect-inactive.json", r.stdout)
}

func TestRevokeFake(t *testing.T) {
	f := newRealm(t)
	login := f.login(t)
	env := map[string]string{"TOKENWARDEN_ISSUER": f.IssuerURL(), "TOKENWARDEN_CLIENT_ID": fake.MobileClientID}

	r := invokeAt(t, fixedNow, env, `{"access_token":"a.b.c","refresh_token":"`+login.RefreshToken+`"}`,
		"revoke", "--token-type-hint", "refresh_token", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "revoke.json", r.stdout)
	// The refresh token, not the access token, was revoked: its session
	// part is gone, so refreshing fails.
	resp, err := f.HTTPClient.PostForm(f.TokenURL(), url.Values{"grant_type": {"refresh_token"},
		"client_id": {fake.MobileClientID}, "refresh_token": {login.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh after revocation: %d, want 400", resp.StatusCode)
	}

	f.down.Store(true)
	r = invokeAt(t, fixedNow, env, f.login(t).RefreshToken, "revoke", "--timeout", "5s")
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
	f := newRealm(t)
	for _, format := range []string{"txt", "json"} {
		args := []string{"status"}
		if format == "json" {
			args = append(args, "--json")
		}
		r := invokeAt(t, fixedNow, f.env(), "", args...)
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "status."+format, strings.ReplaceAll(r.stdout, f.BaseURL, "https://sso.example.com"))
	}

	env := f.env()
	env["TOKENWARDEN_ISSUER"] = "http://" + closedAddr(t) + "/realms/app"
	if r := invokeAt(t, fixedNow, env, "", "status"); r.code != exitUnavailable {
		t.Fatalf("issuer down: exit %d, want %d", r.code, exitUnavailable)
	}
}

// TestVerifyExplain: --explain prints every check with ok or failed and the
// values compared, against the discovered configuration; the check the
// verifier refused on is failed with its values, and no token text is
// printed.
func TestVerifyExplain(t *testing.T) {
	f := newRealm(t)
	login := f.login(t)
	other := fake.New(t, fake.Config{Realm: "other", Now: func() time.Time { return fixedNow }})
	foreign := other.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
	stable := func(out string) string {
		return strings.NewReplacer(f.BaseURL, "https://sso.example.com", other.BaseURL, "https://other.example.com",
			f.KeyID(), "realm-key", other.KeyID(), "other-realm-key").Replace(out)
	}

	tests := []struct {
		name, token string
		args        []string
		code        int
		golden      string
		failed      []string // the checks that must be failed
	}{
		{"valid", login.AccessToken, nil, exitOK, "", nil},
		{"wrong audience", login.AccessToken, []string{"--audience", "orders-api"}, exitRejected, "verify-explain.txt", []string{"aud"}},
		{"another realm", foreign.AccessToken, []string{"--json"}, exitRejected, "verify-explain.json", []string{"kid", "iss"}},
		{"expired", f.Break(t, login.AccessToken, fake.Expired), nil, exitRejected, "", []string{"exp"}},
		{"garbage", "not-a-jwt", nil, exitRejected, "", []string{"jws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invokeAt(t, fixedNow, f.env(), tt.token, append([]string{"verify", "--explain"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, stable(f.stable(t, r.stdout, login)))
			}
			var failed []string
			for line := range strings.SplitSeq(r.stdout, "\n") {
				if fs := strings.Fields(line); len(fs) >= 2 && fs[1] == checkFailed {
					failed = append(failed, fs[0])
				}
			}
			if strings.Contains(r.stdout, `"result": "failed"`) {
				var v tokenVerdict
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatal(err)
				}
				for _, c := range v.Checks {
					if c.Result == checkFailed {
						failed = append(failed, c.Check)
					}
				}
			}
			if strings.Join(failed, ",") != strings.Join(tt.failed, ",") {
				t.Errorf("failed checks %v, want %v:\n%s", failed, tt.failed, r.stdout)
			}
			for _, want := range []string{"jws", "alg", "kid", "sig"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("check %s not listed:\n%s", want, r.stdout)
				}
			}
			if tt.token != "not-a-jwt" {
				for _, seg := range append([]string{tt.token}, strings.Split(tt.token, ".")...) {
					if len(seg) >= 20 && strings.Contains(r.stdout+r.stderr, seg[:20]) {
						t.Fatal("token text printed")
					}
				}
			}
		})
	}
}
