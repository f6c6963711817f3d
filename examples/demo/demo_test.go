package demo_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	"github.com/tokenwarden/tokenwarden/examples/demo"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// TestScenario is `make demo` as a test: the capacitor backend in-process
// with the Memory store, a fresh copy of the realm whose back-channel logout
// URL and admin URL point at it, and the narrated scenario against the real
// Keycloak.
func TestScenario(t *testing.T) {
	kc := keycloaktest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiURL := "http://" + l.Addr().String()
	realm := kc.IsolatedRealm(t, apiURL)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	a, err := app.New(ctx, app.Config{Issuer: realm.IssuerURL(), ClientSecret: keycloaktest.BackendClientSecret}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, l, log) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	var out bytes.Buffer
	s := &demo.Scenario{
		Keycloak:   &demo.Keycloak{BaseURL: kc.BaseURL, AdminUser: kc.AdminUser, AdminPassword: kc.AdminPassword},
		Realm:      realm.Realm,
		BackendURL: apiURL,
		Out:        &out,
	}
	err = s.Run(ctx)
	t.Logf("scenario:\n%s", out.String())
	if err != nil {
		t.Logf("backend log:\n%s", logs.String())
		t.Fatal(err)
	}
	for _, want := range []string{"-> 204", "-> 401", `error="invalid_token"`, "backchannel"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("narration lacks %q", want)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"kind":"backchannel_logout"`)) {
		t.Errorf("the backend logged no back-channel logout:\n%s", logs.String())
	}
}

// TestScenarioFailsOnWrongStatus: a backend that never refuses anything
// fails the scenario at the first refusal it should have made.
func TestScenarioFailsOnWrongStatus(t *testing.T) {
	kc := keycloaktest.New(t)
	lax := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(`{"username":"alice"}`))
	}))
	defer lax.Close()
	var out bytes.Buffer
	s := &demo.Scenario{
		Keycloak:   &demo.Keycloak{BaseURL: kc.BaseURL, AdminUser: kc.AdminUser, AdminPassword: kc.AdminPassword},
		Realm:      kc.Realm,
		BackendURL: lax.URL,
		Out:        &out,
	}
	err := s.Run(context.Background())
	if !errors.Is(err, demo.ErrStep) {
		t.Fatalf("Run = %v, want ErrStep\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), " 4. GET /api/profile with the old token") || !strings.Contains(out.String(), "FAILED: want 401") {
		t.Errorf("narration:\n%s", out.String())
	}
}
