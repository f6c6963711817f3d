package keycloaktest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// TestKeycloakRevocationFlow walks the protocol path tokenwarden builds on,
// with nothing but net/http against the real Keycloak: discovery, a
// password-grant token for the mobile client, RFC 7662 introspection as
// backend (active, aud contains backend), RFC 7009 revocation as mobile,
// introspection again (inactive).
func TestKeycloakRevocationFlow(t *testing.T) {
	issuer := testenv.KeycloakIssuer(t)
	client := &http.Client{Timeout: 30 * time.Second}

	post := func(t *testing.T, endpoint string, form url.Values, basicUser, basicPass string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicUser != "" {
			req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}

	// Discovery.
	resp, err := client.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		IntrospectionEndpoint string   `json:"introspection_endpoint"`
		RevocationEndpoint    string   `json:"revocation_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		BackchannelLogout     bool     `json:"backchannel_logout_supported"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&disc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: HTTP %d: %v", resp.StatusCode, err)
	}
	if disc.Issuer != issuer || disc.TokenEndpoint == "" || disc.IntrospectionEndpoint == "" || disc.RevocationEndpoint == "" ||
		disc.JWKSURI == "" || !slices.Contains(disc.CodeChallengeMethods, "S256") || !disc.BackchannelLogout {
		t.Fatalf("discovery document incomplete: %+v", disc)
	}

	// Password grant for the public mobile client.
	status, body := post(t, disc.TokenEndpoint, url.Values{
		"grant_type": {"password"}, "client_id": {"mobile"},
		"username": {"alice"}, "password": {"alice-password"}, "scope": {"openid"},
	}, "", "")
	if status != http.StatusOK {
		t.Fatalf("token: HTTP %d: %.200s", status, body)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		t.Fatalf("token response: %v (type %q)", err, tok.TokenType)
	}

	introspect := func(t *testing.T) map[string]any {
		t.Helper()
		status, body := post(t, disc.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}}, "backend", "backend-secret")
		if status != http.StatusOK {
			t.Fatalf("introspection: HTTP %d: %.200s", status, body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	// Introspection as backend: active, backend in aud (Keycloak 26.6.2+
	// answers inactive otherwise).
	in := introspect(t)
	if in["active"] != true {
		t.Fatalf("fresh token inactive: %v", in)
	}
	var aud []string
	switch v := in["aud"].(type) {
	case string:
		aud = []string{v}
	case []any:
		for _, a := range v {
			s, _ := a.(string)
			aud = append(aud, s)
		}
	}
	if !slices.Contains(aud, "backend") || in["azp"] != "mobile" || in["username"] != "alice" {
		t.Fatalf("introspection: aud=%v azp=%v username=%v", in["aud"], in["azp"], in["username"])
	}

	// RFC 7009 revocation by the public client: HTTP 200, empty body.
	status, body = post(t, disc.RevocationEndpoint, url.Values{
		"token": {tok.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {"mobile"},
	}, "", "")
	if status != http.StatusOK || strings.Contains(string(body), `"error"`) {
		t.Fatalf("revocation: HTTP %d: %.200s", status, body)
	}

	// Introspection again: exactly {"active":false}.
	in = introspect(t)
	if len(in) != 1 || in["active"] != false {
		t.Fatalf("revoked token introspection = %v, want {\"active\":false}", in)
	}
}
