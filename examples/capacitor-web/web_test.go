package capacitorweb_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	capacitorweb "github.com/tokenwarden/tokenwarden/examples/capacitor-web"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>app</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := capacitorweb.Handler(capacitorweb.Config{Dir: dir, KeycloakURL: "http://127.0.0.1:8080/", Realm: "tokenwarden",
		API: "http://127.0.0.1:8081"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var conf map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&conf); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"keycloakUrl": "http://127.0.0.1:8080", "realm": "tokenwarden", "clientId": "mobile",
		"dpopClientId": "mobile-dpop", "api": "http://127.0.0.1:8081", "variant": "keycloak-js"}
	for k, v := range want {
		if conf[k] != v {
			t.Errorf("config.json %s = %v, want %v", k, conf[k], v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' http://127.0.0.1:8080 http://127.0.0.1:8081") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}

	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>app</title>") {
		t.Errorf("GET /: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Post(srv.URL+"/config.json", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /config.json: %d", resp.StatusCode)
	}
}

func TestHandlerConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := capacitorweb.Config{Dir: dir, KeycloakURL: "http://kc:8080", Realm: "r", API: "https://api.example"}
	tests := []struct {
		name   string
		change func(*capacitorweb.Config)
	}{
		{"not built", func(c *capacitorweb.Config) { c.Dir = t.TempDir() }},
		{"no realm", func(c *capacitorweb.Config) { c.Realm = "" }},
		{"relative keycloak url", func(c *capacitorweb.Config) { c.KeycloakURL = "/auth" }},
		{"api with credentials", func(c *capacitorweb.Config) { c.API = "https://u:p@api.example" }},
		{"api not http", func(c *capacitorweb.Config) { c.API = "javascript:alert(1)" }},
		{"unknown variant", func(c *capacitorweb.Config) { c.Variant = "auth0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			if _, err := capacitorweb.Handler(c); !errors.Is(err, capacitorweb.ErrConfig) {
				t.Fatalf("Handler = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := capacitorweb.Handler(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
}

// TestRealmWebClient holds the test realm's mobile clients (the Bearer one
// and the DPoP one) to exact URIs: the native app's custom scheme, and the
// web build's loopback origin that make demo-web serves, marked test-only.
func TestRealmWebClient(t *testing.T) {
	var realm struct {
		Clients []struct {
			ClientID     string            `json:"clientId"`
			Description  string            `json:"description"`
			RedirectURIs []string          `json:"redirectUris"`
			WebOrigins   []string          `json:"webOrigins"`
			Attributes   map[string]string `json:"attributes"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(keycloaktest.RealmJSON(), &realm); err != nil {
		t.Fatal(err)
	}
	web := "http://" + capacitorweb.DefaultAddr
	for _, id := range []string{keycloaktest.MobileClientID, keycloaktest.DPoPClientID} {
		found := false
		for _, c := range realm.Clients {
			if c.ClientID != id {
				continue
			}
			found = true
			post := strings.Split(c.Attributes["post.logout.redirect.uris"], "##")
			for _, u := range slices.Concat(c.RedirectURIs, post) {
				if strings.Contains(u, "*") {
					t.Errorf("%s: wildcard URI %q: exact URIs only", id, u)
				}
			}
			if !slices.Equal(c.RedirectURIs, []string{keycloaktest.MobileRedirectURL, web + "/"}) {
				t.Errorf("%s: redirect URIs %q", id, c.RedirectURIs)
			}
			if !slices.Contains(c.WebOrigins, web) || !slices.Contains(post, web+"/") {
				t.Errorf("%s: web origins %q, post-logout URIs %q: want %s", id, c.WebOrigins, post, web)
			}
			if len(c.Description) > 255 { // Keycloak's column: a longer one fails the realm import
				t.Errorf("%s: description of %d characters, Keycloak stores 255", id, len(c.Description))
			}
			if !strings.Contains(c.Description, "TEST ONLY") || !strings.Contains(c.Description, web) {
				t.Errorf("%s: the description does not mark %s as test-only: %q", id, web, c.Description)
			}
			if c.Attributes["pkce.code.challenge.method"] != "S256" {
				t.Errorf("%s: PKCE S256 not required", id)
			}
			if dpop := c.Attributes["dpop.bound.access.tokens"] == "true"; dpop != (id == keycloaktest.DPoPClientID) {
				t.Errorf("%s: dpop.bound.access.tokens %q", id, c.Attributes["dpop.bound.access.tokens"])
			}
		}
		if !found {
			t.Errorf("no %s client in the test realm", id)
		}
	}
}
