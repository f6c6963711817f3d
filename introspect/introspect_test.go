package introspect_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
)

func TestIntrospectActive(t *testing.T) {
	f := newFakeAS(t)
	f.set(raw(200, activeJSON(nil)))
	c := newClient(t, f, nil)
	res, err := c.Introspect(context.Background(), testToken, "")
	if err != nil {
		t.Fatalf("Introspect: %v", err)
	}
	cl := res.Claims
	if cl.Issuer != testIssuer || cl.Subject != "u-alice" || cl.ID != "onrtac:3f1c" || cl.SessionID != "s-1" ||
		cl.AuthorizedParty != "mobile" || cl.ClientID != "mobile" || cl.Type != "Bearer" ||
		cl.PreferredUsername != "alice" || cl.Email != "alice@example.com" {
		t.Errorf("claims = %+v", cl)
	}
	if !cl.Expiry.Equal(testNow.Add(5*time.Minute)) || !cl.IssuedAt.Equal(testNow.Add(-time.Minute)) ||
		!cl.AuthTime.Equal(testNow.Add(-time.Minute)) {
		t.Errorf("dates exp=%v iat=%v auth_time=%v", cl.Expiry, cl.IssuedAt, cl.AuthTime)
	}
	if !slices.Equal(cl.Audience, []string{"backend", "account"}) || !cl.HasRealmRole("user") ||
		!cl.HasClientRole("backend", "reader") || !cl.HasScope("profile") {
		t.Errorf("aud=%v roles=%v %v scope=%q", cl.Audience, cl.RealmRoles, cl.ClientRoles, cl.Scope)
	}
	if res.Username != "alice" || res.TokenType != "Bearer" {
		t.Errorf("username=%q token_type=%q", res.Username, res.TokenType)
	}
	if s := f.last(t); s.Accept != "application/json" || s.Form.Has("token_type_hint") {
		t.Errorf("Accept=%q hint sent=%v", s.Accept, s.Form.Has("token_type_hint"))
	}
}

// TestIntrospectAnswers covers the shapes of 200 answers and the checks on
// active ones.
func TestIntrospectAnswers(t *testing.T) {
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	tests := []struct {
		name    string
		body    string
		cfg     func(*introspect.Config)
		wantErr error
	}{
		{"active", activeJSON(nil), nil, nil},
		{"aud as a string", activeJSON(set("aud", "backend")), nil, nil},
		{"unknown members tolerated", activeJSON(set("x-custom", map[string]any{"a": []int{1}})), nil, nil},
		{"inactive", `{"active":false}`, nil, introspect.ErrInactive},
		{"inactive with whitespace", " {\n\"active\" : false }\n", nil, introspect.ErrInactive},
		{"inactive with extra members", `{"active":false,"exp":1}`, nil, introspect.ErrInactive},
		{"active as string", activeJSON(set("active", "true")), nil, introspect.ErrInvalidResponse},
		{"active as number", activeJSON(set("active", 1)), nil, introspect.ErrInvalidResponse},
		{"active null", activeJSON(set("active", nil)), nil, introspect.ErrInvalidResponse},
		{"active missing", activeJSON(del("active")), nil, introspect.ErrInvalidResponse},
		{"ACTIVE next to active", `{"ACTIVE":true,"active":false}`, nil, introspect.ErrInvalidResponse},
		{"Active only", `{"Active":true}`, nil, introspect.ErrInvalidResponse},
		{"duplicate active", `{"active":false,"active":true}`, nil, introspect.ErrInvalidResponse},
		{"duplicate nested member", strings.Replace(activeJSON(nil), `"realm_access":{`, `"realm_access":{"roles":[],`, 1),
			nil, introspect.ErrInvalidResponse},
		{"not json", `active=true`, nil, introspect.ErrInvalidResponse},
		{"array", `[{"active":true}]`, nil, introspect.ErrInvalidResponse},
		{"trailing data", `{"active":false}{"active":true}`, nil, introspect.ErrInvalidResponse},
		{"empty body", ``, nil, introspect.ErrInvalidResponse},
		{"invalid utf-8", "{\"active\":false,\"x\":\"\xff\"}", nil, introspect.ErrInvalidResponse},
		{"too deep", `{"active":false,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, nil,
			introspect.ErrInvalidResponse},
		{"exp missing", activeJSON(del("exp")), nil, introspect.ErrInvalidResponse},
		{"exp float", strings.Replace(activeJSON(nil), `"exp":1800000300`, `"exp":1800000300.5`, 1), nil,
			introspect.ErrInvalidResponse},
		{"exp exponent", strings.Replace(activeJSON(nil), `"exp":1800000300`, `"exp":1.8e9`, 1), nil,
			introspect.ErrInvalidResponse},
		{"exp string", activeJSON(set("exp", "1800000300")), nil, introspect.ErrInvalidResponse},
		{"exp huge", activeJSON(set("exp", 1e15)), nil, introspect.ErrInvalidResponse},
		{"exp negative", activeJSON(set("exp", -1)), nil, introspect.ErrInvalidResponse},
		{"exp zero", activeJSON(set("exp", 0)), nil, introspect.ErrInvalidResponse},
		{"case-variant duplicate", strings.Replace(activeJSON(nil), `"sub":`, `"SUB":"x","sub":`, 1), nil,
			introspect.ErrInvalidResponse},
		{"iss not a string", activeJSON(set("iss", 1)), nil, introspect.ErrInvalidResponse},
		{"aud with a number", activeJSON(set("aud", []any{"backend", 1})), nil, introspect.ErrInvalidResponse},
		{"roles malformed", activeJSON(set("realm_access", map[string]any{"roles": "user"})), nil,
			introspect.ErrInvalidResponse},
		{"expired by our clock", activeJSON(set("exp", testUnixTime)), nil, introspect.ErrRejected},
		{"expires in 1 s", activeJSON(set("exp", testUnixTime+1)), nil, nil},
		{"wrong issuer", activeJSON(set("iss", testIssuer+"/")), nil, introspect.ErrRejected},
		{"issuer missing", activeJSON(del("iss")), nil, introspect.ErrRejected},
		{"audience missing", activeJSON(set("aud", "account")), nil, introspect.ErrRejected},
		{"audience absent", activeJSON(del("aud")), nil, introspect.ErrRejected},
		{"audience configured", activeJSON(nil), func(c *introspect.Config) { c.Audience = []string{"other", "account"} }, nil},
		{"audience configured, absent", activeJSON(nil), func(c *introspect.Config) { c.Audience = []string{"other"} },
			introspect.ErrRejected},
		{"azp in set", activeJSON(set("aud", "account")), func(c *introspect.Config) { c.AuthorizedParties = []string{"mobile"} }, nil},
		{"azp not in set", activeJSON(nil), func(c *introspect.Config) { c.AuthorizedParties = []string{"web"} },
			introspect.ErrRejected},
		{"either rule: aud saves it", activeJSON(nil), func(c *introspect.Config) {
			c.Audience, c.AuthorizedParties = []string{"backend"}, []string{"web"}
		}, nil},
		{"client_id when azp absent", activeJSON(func(m map[string]any) { m["aud"] = "account"; delete(m, "azp") }),
			func(c *introspect.Config) { c.AuthorizedParties = []string{"mobile"} }, nil},
		{"and rule, both hold", activeJSON(nil), func(c *introspect.Config) {
			c.RequireAudienceAndParty, c.Audience, c.AuthorizedParties = true, []string{"backend"}, []string{"mobile"}
		}, nil},
		{"and rule, azp fails", activeJSON(nil), func(c *introspect.Config) {
			c.RequireAudienceAndParty, c.Audience, c.AuthorizedParties = true, []string{"backend"}, []string{"web"}
		}, introspect.ErrRejected},
		{"and rule, aud fails", activeJSON(set("aud", "account")), func(c *introspect.Config) {
			c.RequireAudienceAndParty, c.Audience, c.AuthorizedParties = true, []string{"backend"}, []string{"mobile"}
		}, introspect.ErrRejected},
		{"insecure skip audience", activeJSON(del("aud")), func(c *introspect.Config) { c.InsecureSkipAudienceCheck = true }, nil},
		{"error member in a 200", `{"error":"invalid_request","error_description":"bad"}`, nil, &introspect.Error{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			f.set(raw(200, tt.body))
			c := newClient(t, f, tt.cfg)
			res, err := c.Introspect(context.Background(), testToken, introspect.HintAccessToken)
			checkErr(t, err, tt.wantErr)
			if (err == nil) != (res != nil) {
				t.Fatalf("result %v with error %v", res, err)
			}
		})
	}
}

// checkErr asserts err matches want: nil, a sentinel (errors.Is) or a
// *introspect.Error (errors.As). No error may contain the test token.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testToken[:20]) {
		t.Fatalf("error contains the token: %v", err)
	}
	var e *introspect.Error
	switch {
	case want == nil:
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	case errors.As(want, &e):
		if !errors.As(err, &e) {
			t.Fatalf("got %v, want a *introspect.Error", err)
		}
	default:
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
}

// TestIntrospectErrors covers the error answers, Keycloak's among them, and
// transport failures.
func TestIntrospectErrors(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(http.ResponseWriter, *http.Request)
		wantErr    error
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{"keycloak unknown hint", raw(400, `{"error":"invalid_request","error_description":"Unsupported token type."}`),
			&introspect.Error{}, 400, "invalid_request", "token_type_hint"},
		{"keycloak public client", raw(403, `{"error":"invalid_request","error_description":"Client not allowed."}`),
			introspect.ErrClientAuth, 403, "invalid_request", "public clients cannot introspect"},
		{"keycloak auth failure", raw(401, `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`),
			introspect.ErrClientAuth, 401, "unauthorized_client", "check the client id"},
		{"keycloak auth failure, invalid_request", raw(401, `{"error":"invalid_request","error_description":"Authentication failed."}`),
			introspect.ErrClientAuth, 401, "invalid_request", "Authentication failed."},
		{"invalid_client 400", raw(400, `{"error":"invalid_client"}`), introspect.ErrClientAuth, 400, "invalid_client", ""},
		{"500 json", raw(500, `{"error":"server_error"}`), introspect.ErrUnavailable, 500, "server_error", ""},
		{"502 html", raw(502, `<html>bad gateway</html>`), introspect.ErrUnavailable, 502, "", "<html>bad gateway</html>"},
		{"503", raw(503, ``), introspect.ErrUnavailable, 503, "", ""},
		{"redirect is not followed", raw(302, ``, "Location", "https://elsewhere.example/"), &introspect.Error{}, 302, "", ""},
		{"error echoing the token", raw(400, `{"error":"invalid_request","error_description":"bad token `+testToken+`"}`),
			&introspect.Error{}, 400, "invalid_request", "[token]"},
		{"html echoing the token", raw(400, `<p>`+testToken+`</p>`), &introspect.Error{}, 400, "", "[token]"},
		{"oversized body", raw(200, `{"active":false,"pad":"`+strings.Repeat("x", 1<<20)+`"}`),
			introspect.ErrInvalidResponse, 0, "", "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			f.set(tt.answer)
			c := newClient(t, f, nil)
			_, err := c.Introspect(context.Background(), testToken, "")
			if err == nil {
				t.Fatal("no error")
			}
			checkErr(t, err, tt.wantErr)
			if tt.wantStatus != 0 {
				var e *introspect.Error
				if !errors.As(err, &e) {
					t.Fatalf("got %v, want *introspect.Error", err)
				}
				if e.Status != tt.wantStatus || e.Code != tt.wantCode || e.Endpoint != introspect.EndpointIntrospection {
					t.Errorf("Error = %+v", e)
				}
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if tt.wantErr != introspect.ErrUnavailable && errors.Is(err, introspect.ErrUnavailable) {
				t.Errorf("%v must not wrap ErrUnavailable", err)
			}
		})
	}
}

func TestIntrospectTransportFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String() + introPath
	l.Close()

	hang := newFakeAS(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang.set(func(http.ResponseWriter, *http.Request) { <-release })

	tests := []struct {
		name string
		cfg  func(*introspect.Config)
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"connection refused", func(c *introspect.Config) { c.IntrospectionURL = closedURL }, nil},
		{"client timeout", func(c *introspect.Config) { c.Timeout = 50 * time.Millisecond }, nil},
		{"context deadline", nil, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, hang, tt.cfg)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			_, err := c.Introspect(ctx, testToken, "")
			checkErr(t, err, introspect.ErrUnavailable)
			if tt.ctx != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v does not wrap context.DeadlineExceeded", err)
			}
		})
	}
}

func TestIntrospectTokenBounds(t *testing.T) {
	f := newFakeAS(t)
	c := newClient(t, f, func(c *introspect.Config) { c.MaxTokenBytes = 64 })
	for _, tok := range []string{"", strings.Repeat("a", 65)} {
		_, err := c.Introspect(context.Background(), tok, "")
		checkErr(t, err, introspect.ErrRejected)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d upstream calls for rejected tokens", n)
	}
	rc := newClient(t, f, func(c *introspect.Config) { c.IntrospectionURL = "" })
	_, err := rc.Introspect(context.Background(), testToken, "")
	checkErr(t, err, introspect.ErrConfig)
}

func TestUpstreamEvents(t *testing.T) {
	f := newFakeAS(t)
	f.set(raw(200, `{"active":false}`))
	var got []introspect.Event
	c := newClient(t, f, func(c *introspect.Config) {
		c.Observe = func(e introspect.Event) { got = append(got, e) }
	})
	_, _ = c.Introspect(context.Background(), testToken, "")
	f.set(raw(503, ``, "Retry-After", "0"))
	_ = c.Revoke(context.Background(), testToken, "")
	if len(got) != 1+3 {
		t.Fatalf("%d events, want 4", len(got))
	}
	if got[0].Kind != introspect.UpstreamCall || got[0].Kind.String() != "upstream" ||
		got[0].Endpoint != introspect.EndpointIntrospection || got[0].Status != 200 || got[0].Err != nil || got[0].Duration <= 0 {
		t.Errorf("event 0 = %+v", got[0])
	}
	if got[3].Endpoint != introspect.EndpointRevocation || got[3].Status != 503 {
		t.Errorf("event 3 = %+v", got[3])
	}
}

// TestLoggingNeverShowsTheToken runs failing and succeeding exchanges with a
// debug logger and checks the records name the endpoint but never the token
// or the secret.
func TestLoggingNeverShowsTheToken(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFakeAS(t)
	c := newClient(t, f, func(c *introspect.Config) { c.Logger = logger; c.Timeout = 50 * time.Millisecond })
	ctx := context.Background()
	f.set(raw(200, `{"active":false}`))
	c.Introspect(ctx, testToken, "")
	f.set(raw(400, `{"error":"invalid_request","error_description":"`+testToken+`"}`))
	c.Introspect(ctx, testToken, "")
	f.set(func(http.ResponseWriter, *http.Request) { time.Sleep(200 * time.Millisecond) })
	c.Introspect(ctx, testToken, "")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "endpoint=introspection") || !strings.Contains(out, "upstream failure") {
		t.Fatalf("log lacks the expected records:\n%s", out)
	}
	for _, secret := range []string{testToken, testToken[:20], testSecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
