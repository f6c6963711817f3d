// Package capacitorweb serves the web build of the Capacitor app described in
// docs/capacitor.md: the TypeScript app in this directory (src/, bundled by
// esbuild with `npm ci && npm run build` into dist/), in three variants
// chosen at run time: keycloak-js and oidc-client-ts with bearer tokens, and
// oidc-client-ts with tokens bound to a non-extractable key of the browser
// (DPoP, RFC 9449). Handler serves the built files and /config.json, which
// tells the page where Keycloak and the API are, so one build runs against
// any realm and ports.
//
// The app logs in with the authorization-code flow and PKCE (S256) on
// Keycloak's own login page, calls the tokenwarden API
// (examples/capacitor-backend) with the access token (and a DPoP proof),
// refreshes it, and logs out through the API's /auth/logout. The browser
// tests in this package drive it in Chromium; `make demo-web` serves it for
// a person.
//
// The page's origin must be a redirect URI ("<origin>/") and a web origin of
// both Keycloak clients, and one of the API's CORS origins.
package capacitorweb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The variants of the app: the OIDC library it uses, and whether its tokens
// are bound to the browser's key.
const (
	VariantKeycloakJS   = "keycloak-js"
	VariantOIDCClientTS = "oidc-client-ts"
	// VariantOIDCClientTSDPoP is oidc-client-ts with DPoP: it logs in with
	// Config.DPoPClientID, and every request to the API carries a proof.
	VariantOIDCClientTSDPoP = "oidc-client-ts-dpop"
)

// DefaultAddr is where `make demo-web` serves the app. The test realm's
// mobile client lists http://127.0.0.1:8100/ as a redirect URI and its
// origin as a web origin, marked test-only: Keycloak matches a web origin
// (CORS on its token endpoint) exactly, port included, so the port is fixed.
const DefaultAddr = "127.0.0.1:8100"

// Variants returns the variants of the app.
func Variants() []string {
	return []string{VariantKeycloakJS, VariantOIDCClientTS, VariantOIDCClientTSDPoP}
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("capacitorweb: invalid configuration")

// Config configures Handler.
type Config struct {
	// Dir holds the built app (index.html, app.js, …): dist/ after
	// `npm run build`, or the --outdir given to it. Required.
	Dir string
	// KeycloakURL is Keycloak's root URL as the browser reaches it, e.g.
	// http://127.0.0.1:8080. Required.
	KeycloakURL string
	// Realm is the realm the app logs in to. Required.
	Realm string
	// ClientID is the public client the app logs in with for bearer
	// tokens. Default "mobile".
	ClientID string
	// DPoPClientID is the public client the DPoP variant logs in with, one
	// whose tokens Keycloak binds to the app's key. Default "mobile-dpop".
	DPoPClientID string
	// API is the base URL of the tokenwarden API as the browser reaches it.
	// Required.
	API string
	// Variant is the variant the page uses unless its URL asks for another
	// one (?variant=oidc-client-ts-dpop). Default VariantKeycloakJS.
	Variant string
}

// pageConfig is /config.json, read by src/config.ts.
type pageConfig struct {
	KeycloakURL string `json:"keycloakUrl"`
	Realm       string `json:"realm"`
	ClientID    string `json:"clientId"`
	DPoPClient  string `json:"dpopClientId"`
	API         string `json:"api"`
	Variant     string `json:"variant"`
}

// Handler serves the app: / (index.html), the bundle, and /config.json. The
// page gets a Content-Security-Policy that lets it talk only to its own
// origin, Keycloak and the API, and no Referer leaves it (the login
// redirect's URL carries the authorization code).
func Handler(cfg Config) (http.Handler, error) {
	if cfg.Dir == "" || cfg.Realm == "" {
		return nil, fmt.Errorf("%w: Dir and Realm are required", ErrConfig)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "index.html")); err != nil {
		return nil, fmt.Errorf("%w: %s has no index.html (run npm ci && npm run build in examples/capacitor-web): %w", ErrConfig, cfg.Dir, err)
	}
	kcOrigin, err := origin(cfg.KeycloakURL)
	if err != nil {
		return nil, fmt.Errorf("%w: KeycloakURL: %w", ErrConfig, err)
	}
	apiOrigin, err := origin(cfg.API)
	if err != nil {
		return nil, fmt.Errorf("%w: API: %w", ErrConfig, err)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "mobile"
	}
	if cfg.DPoPClientID == "" {
		cfg.DPoPClientID = "mobile-dpop"
	}
	if cfg.Variant == "" {
		cfg.Variant = VariantKeycloakJS
	}
	if !slices.Contains(Variants(), cfg.Variant) {
		return nil, fmt.Errorf("%w: Variant %q: want one of %s", ErrConfig, cfg.Variant, strings.Join(Variants(), ", "))
	}
	conf, err := json.Marshal(pageConfig{KeycloakURL: strings.TrimRight(cfg.KeycloakURL, "/"), Realm: cfg.Realm,
		ClientID: cfg.ClientID, DPoPClient: cfg.DPoPClientID, API: strings.TrimRight(cfg.API, "/"), Variant: cfg.Variant})
	if err != nil {
		return nil, err
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"connect-src 'self' " + kcOrigin + " " + apiOrigin,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")

	files := http.FileServerFS(os.DirFS(cfg.Dir))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(conf)
	})
	mux.Handle("GET /", files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	}), nil
}

// origin returns scheme://host[:port] of an absolute http(s) URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
