package introspect_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
)

func TestRevoke(t *testing.T) {
	unavailable := raw(503, `{"error":"temporarily_unavailable"}`, "Retry-After", "0")
	// sequence answers the i-th request with answers[i] (the last one repeats).
	sequence := func(answers ...func(http.ResponseWriter, *http.Request)) func(*fakeAS) {
		return func(f *fakeAS) {
			i := 0
			f.set(func(w http.ResponseWriter, r *http.Request) {
				a := answers[min(i, len(answers)-1)]
				i++
				a(w, r)
			})
		}
	}
	one := func(a func(http.ResponseWriter, *http.Request)) func(*fakeAS) { return sequence(a) }
	tests := []struct {
		name      string
		fake      func(*fakeAS)
		cfg       func(*introspect.Config)
		timeout   time.Duration
		wantErr   error
		wantCode  string
		wantCalls int64
	}{
		{"200 empty", one(raw(200, "")), nil, 0, nil, "", 1},
		{"200 invalid_token (Keycloak, unknown or expired token)", one(raw(200, `{"error":"invalid_token","error_description":"Invalid token"}`)),
			nil, 0, nil, "", 1},
		{"200 non-json body", one(raw(200, "ok")), nil, 0, nil, "", 1},
		{"200 with another error", one(raw(200, `{"error":"invalid_request"}`)), nil, 0, &introspect.Error{}, "invalid_request", 1},
		{"400 unsupported_token_type", one(raw(400, `{"error":"unsupported_token_type","error_description":"Unsupported token type"}`)),
			nil, 0, &introspect.Error{}, "unsupported_token_type", 1},
		{"400 another client's token", one(raw(400, `{"error":"invalid_request","error_description":"Unmatching clients"}`)),
			nil, 0, &introspect.Error{}, "invalid_request", 1},
		{"400 invalid_client", one(raw(400, `{"error":"invalid_client"}`)), nil, 0, introspect.ErrClientAuth, "invalid_client", 1},
		{"401 unauthorized_client", one(raw(401, `{"error":"unauthorized_client"}`)), nil, 0, introspect.ErrClientAuth, "unauthorized_client", 1},
		{"500", one(raw(500, "")), nil, 0, introspect.ErrUnavailable, "", 1},
		{"503 then 200", sequence(unavailable, raw(200, "")), nil, 0, nil, "", 2},
		{"503 without Retry-After is retried after 1 s", sequence(raw(503, ""), raw(200, "")), nil, 0, nil, "", 2},
		{"503 with an HTTP-date", sequence(raw(503, "", "Retry-After", testNow.UTC().Format(http.TimeFormat)), raw(200, "")),
			nil, 0, nil, "", 2},
		{"503 until attempts run out", one(unavailable), nil, 0, introspect.ErrUnavailable, "temporarily_unavailable", 3},
		{"503, attempts configured", one(unavailable), func(c *introspect.Config) { c.RevokeMaxAttempts = 5 }, 0,
			introspect.ErrUnavailable, "", 5},
		{"503, retries disabled", one(unavailable), func(c *introspect.Config) { c.RevokeMaxRetryWait = -1 }, 0,
			introspect.ErrUnavailable, "", 1},
		{"503, Retry-After beyond the bound", one(raw(503, "", "Retry-After", "3600")), nil, 0, introspect.ErrUnavailable, "", 1},
		{"503, HTTP-date beyond the bound", one(raw(503, "", "Retry-After", testNow.Add(time.Hour).UTC().Format(http.TimeFormat))),
			nil, 0, introspect.ErrUnavailable, "", 1},
		{"503, Retry-After beyond the deadline", one(raw(503, "", "Retry-After", "5")), nil, time.Second,
			introspect.ErrUnavailable, "", 1},
		{"503, unparsable Retry-After", one(raw(503, "", "Retry-After", "soon")), nil, 0, introspect.ErrUnavailable, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			tt.fake(f)
			c := newClient(t, f, tt.cfg)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := c.Revoke(ctx, testToken, introspect.HintRefreshToken)
			checkErr(t, err, tt.wantErr)
			if n := f.calls.Load(); n != tt.wantCalls {
				t.Errorf("%d upstream calls, want %d", n, tt.wantCalls)
			}
			if tt.wantCode != "" {
				var e *introspect.Error
				if !errors.As(err, &e) || e.Code != tt.wantCode || e.Endpoint != introspect.EndpointRevocation {
					t.Errorf("got %v, want *Error with code %s", err, tt.wantCode)
				}
			}
		})
	}
}

func TestRevokeWaitEndsWithContext(t *testing.T) {
	f := newFakeAS(t)
	f.set(raw(503, "", "Retry-After", "2"))
	c := newClient(t, f, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := c.Revoke(ctx, testToken, "")
	checkErr(t, err, introspect.ErrUnavailable)
	if !errors.Is(err, context.Canceled) && f.calls.Load() != 1 {
		t.Fatalf("got %v after %d calls", err, f.calls.Load())
	}
}

func TestRevokeConfigErrors(t *testing.T) {
	f := newFakeAS(t)
	c := newClient(t, f, func(c *introspect.Config) { c.RevocationURL = "" })
	checkErr(t, c.Revoke(context.Background(), testToken, ""), introspect.ErrConfig)
	c = newClient(t, f, nil)
	checkErr(t, c.Revoke(context.Background(), "", ""), introspect.ErrConfig)
	if f.calls.Load() != 0 {
		t.Fatal("upstream called")
	}
}
