// Package demo is the narrated scenario of `make demo`: a user of the
// Capacitor app logs in, calls the API, logs out through the API, is refused
// with the old token, logs in again, is signed out by an administrator in
// Keycloak and is refused again, through Keycloak's back-channel logout.
// Each step prints its HTTP status; Run fails on the first step whose status
// differs from the expected one. The same function runs in CI (demo_test.go).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrStep reports a step whose answer differed from the expected one.
var ErrStep = errors.New("demo: step failed")

// Scenario is one run of the demo.
type Scenario struct {
	// Keycloak reaches Keycloak's token endpoint and admin API.
	Keycloak *Keycloak
	// Realm is the realm the backend trusts.
	Realm string
	// BackendURL is the capacitor-backend's base URL.
	BackendURL string
	// Username and Password log in to the "mobile" client. Defaults
	// alice / alice-password.
	Username, Password string
	// Out receives the narration.
	Out io.Writer
	// HTTPClient calls the backend; nil means a client with a timeout.
	HTTPClient *http.Client
}

func defaultClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

type runner struct {
	s    *Scenario
	n    int
	http *http.Client
}

// step prints one numbered line and fails when got differs from want.
func (r *runner) step(what string, want, got int, detail string) error {
	r.n++
	mark := "ok"
	if got != want {
		mark = fmt.Sprintf("FAILED: want %d", want)
	}
	fmt.Fprintf(r.s.Out, "%2d. %-62s -> %d  %s\n", r.n, what, got, mark)
	if detail != "" {
		for line := range strings.SplitSeq(detail, "\n") {
			fmt.Fprintf(r.s.Out, "      %s\n", line)
		}
	}
	if got != want {
		return fmt.Errorf("%w: %d. %s: HTTP %d, want %d", ErrStep, r.n, what, got, want)
	}
	return nil
}

func (r *runner) note(format string, args ...any) {
	fmt.Fprintf(r.s.Out, "      "+format+"\n", args...)
}

// call sends a request to the backend with the access token.
func (r *runner) call(ctx context.Context, method, path, token string, form url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, r.s.BackendURL+path, body)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}

func (r *runner) login(ctx context.Context, what string) (Tokens, error) {
	t, status, err := r.s.Keycloak.PasswordLogin(ctx, r.s.Realm, "mobile", r.s.Username, r.s.Password)
	if status == 0 && err != nil {
		return t, err
	}
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("access token valid %ds, plus a refresh token", t.ExpiresIn)
	}
	return t, r.step(what, http.StatusOK, status, detail)
}

func (r *runner) profile(ctx context.Context, what, token string, want int) error {
	resp, body, err := r.call(ctx, http.MethodGet, "/api/profile", token, nil)
	if err != nil {
		return err
	}
	detail := ""
	if resp.StatusCode == http.StatusOK {
		var p struct {
			Username   string              `json:"username"`
			RealmRoles []string            `json:"realm_roles"`
			Client     map[string][]string `json:"client_roles"`
		}
		_ = json.Unmarshal(body, &p)
		detail = fmt.Sprintf("user %s, realm roles %v, backend roles %v", p.Username, p.RealmRoles, p.Client["backend"])
	} else if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		detail = "WWW-Authenticate: " + h
	}
	return r.step(what, want, resp.StatusCode, detail)
}

// Run plays the scenario.
func (s *Scenario) Run(ctx context.Context) error {
	if s.Username == "" {
		s.Username, s.Password = "alice", "alice-password"
	}
	r := &runner{s: s, http: s.HTTPClient}
	if r.http == nil {
		r.http = defaultClient()
	}

	tok, err := r.login(ctx, fmt.Sprintf("log in as %s (client mobile, password grant)", s.Username))
	if err != nil {
		return err
	}
	r.note("the real app logs in with the authorization-code flow and PKCE: docs/capacitor.md")
	if err := r.profile(ctx, "GET /api/profile", tok.AccessToken, http.StatusOK); err != nil {
		return err
	}

	resp, _, err := r.call(ctx, http.MethodPost, "/auth/logout", tok.AccessToken, url.Values{"refresh_token": {tok.RefreshToken}})
	if err != nil {
		return err
	}
	if err := r.step("POST /auth/logout (bearer + refresh_token)", http.StatusNoContent, resp.StatusCode,
		"the API deny-listed the access token and its session, and revoked the refresh token at Keycloak"); err != nil {
		return err
	}
	if err := r.profile(ctx, "GET /api/profile with the old token", tok.AccessToken, http.StatusUnauthorized); err != nil {
		return err
	}

	tok, err = r.login(ctx, "log in again")
	if err != nil {
		return err
	}
	if err := r.profile(ctx, "GET /api/profile with the new token", tok.AccessToken, http.StatusOK); err != nil {
		return err
	}

	path, status, err := s.Keycloak.LogoutUser(ctx, s.Realm, s.Username)
	if err != nil {
		fmt.Fprintf(s.Out, "      %v\n", err)
	}
	if err := r.step(fmt.Sprintf("an admin signs %s out in Keycloak (admin API)", s.Username), http.StatusNoContent, status,
		"POST "+path+"\nKeycloak posted a logout_token to the API's /auth/backchannel-logout"); err != nil {
		return err
	}
	if err := r.profile(ctx, "GET /api/profile with the new token", tok.AccessToken, http.StatusUnauthorized); err != nil {
		return err
	}
	fmt.Fprintln(s.Out, "demo: every step answered as expected")
	return nil
}
