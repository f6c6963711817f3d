package adapter_test

// Keycloak behaviours beyond password and PKCE logins, each against the
// real Keycloak (keycloaktest) in a realm of the test's own: lightweight
// access tokens, offline tokens, refresh-token reuse detection, standard
// token exchange, organizations and groups, two realms in one API, and a
// Keycloak whose front-end URL is fixed. docs/keycloak.md lists what each
// test proves.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// api is one API instance in front of a realm: the middleware on /api/...,
// the handlers on /auth/..., a log, and a count of the back-channel logout
// requests Keycloak sent.
type api struct {
	url         string
	auth        *adapter.Authenticator
	log         *syncBuffer
	backchannel atomic.Int64
}

// me is what the /api routes answer: the identity and roles the handler
// sees.
type me struct {
	Sub           string              `json:"sub"`
	Scope         string              `json:"scope"`
	RealmRoles    []string            `json:"realm_roles"`
	ClientRoles   map[string][]string `json:"client_roles"`
	Organizations []string            `json:"organizations"`
	Groups        []string            `json:"groups"`
}

// mountAPI builds an Authenticator with cfg (Issuer, Audience, Clients and
// ClientSecret default to realm's backend and mobile clients) and mounts it
// on mux; routes are extra guarded routes under /api/.
func mountAPI(t *testing.T, url string, mux *http.ServeMux, realm *keycloaktest.Keycloak, cfg adapter.Config,
	routes map[string]adapter.Requirement) *api {
	t.Helper()
	a := &api{url: url, log: &syncBuffer{}}
	if cfg.Issuer == "" && cfg.Verifier == nil {
		cfg.Issuer = realm.IssuerURL()
	}
	if cfg.Audience == "" {
		cfg.Audience = keycloaktest.BackendClientID
	}
	if cfg.Clients == nil {
		cfg.Clients = []string{keycloaktest.MobileClientID}
	}
	cfg.InsecureAllowHTTP = true
	cfg.Logger = slog.New(slog.NewTextHandler(a.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	auth, err := adapter.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	a.auth = auth
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := adapter.FromContext(r.Context())
		json.NewEncoder(w).Encode(me{Sub: c.Subject, Scope: c.Scope, RealmRoles: c.RealmRoles, ClientRoles: c.ClientRoles,
			Organizations: c.Organizations, Groups: c.Groups})
	})
	mux.Handle("GET /api/me", auth.Middleware(echo))
	mux.Handle("GET /api/strict", auth.Introspected(echo))
	for path, req := range routes {
		mux.Handle("GET /api/"+path, auth.Middleware(auth.Require(req)(echo)))
	}
	mux.Handle("POST /auth/logout", auth.LogoutHandler())
	bc := auth.BackchannelLogoutHandler()
	mux.Handle("POST /auth/backchannel-logout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.backchannel.Add(1)
		bc.ServeHTTP(w, r)
	}))
	mux.Handle("/auth/keycloak/", auth.KeycloakAdminHandler())
	return a
}

// call presents token on path and returns the status and, on 200, what the
// handler saw.
func (a *api) call(t *testing.T, path, token string) (int, me) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m me
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, m
}

func (a *api) expect(t *testing.T, path, token string, want int) me {
	t.Helper()
	got, m := a.call(t, path, token)
	if got != want {
		t.Fatalf("%s: HTTP %d, want %d; log:\n%s", path, got, want, a.log.String())
	}
	return m
}

// payload decodes a token's payload without verification.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := keycloaktest.UnverifiedClaims(token, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readerUser(t *testing.T, realm *keycloaktest.Keycloak) (string, keycloaktest.User) {
	t.Helper()
	return realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
}

func passwordGrant(t *testing.T, realm *keycloaktest.Keycloak, client string, u keycloaktest.User, scope string) keycloaktest.Tokens {
	t.Helper()
	tk, err := realm.Token(t, "", url.Values{"grant_type": {"password"}, "client_id": {client},
		"username": {u.Username}, "password": {u.Password}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func refreshGrant(t *testing.T, realm *keycloaktest.Keycloak, client, refresh string) (keycloaktest.Tokens, error) {
	t.Helper()
	return realm.Token(t, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {refresh}})
}

// revokeAtKeycloak revokes token at the realm (RFC 7009) as the public
// client.
func revokeAtKeycloak(t *testing.T, realm *keycloaktest.Keycloak, client, token string) {
	t.Helper()
	rv, err := introspect.New(introspect.Config{RevocationURL: realm.IssuerURL() + "/protocol/openid-connect/revoke",
		ClientID: client, InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rv.Revoke(context.Background(), token, ""); err != nil {
		t.Fatal(err)
	}
}

// TestKeycloakLightweightAccessTokens: a client with
// client.use.lightweight.access.token.enabled gets access tokens without
// sub and roles (aud only through the audience mapper's lightweight.claim,
// which the test realm sets). The API introspects every such token: the
// handler and the guards see the identity and roles of the answer; a token
// revoked at Keycloak, or whose user is revoked here by sub, is refused;
// without an introspector the token is refused (503 not_configured) with
// a log line naming Config.ClientSecret, never passed on anonymous.
func TestKeycloakLightweightAccessTokens(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	lw := realm.CloneClient(t, keycloaktest.MobileClientID, func(c *gocloak.Client) {
		(*c.Attributes)["client.use.lightweight.access.token.enabled"] = "true"
	})
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{ClientSecret: keycloaktest.BackendClientSecret,
		Clients: []string{keycloaktest.MobileClientID, lw}},
		map[string]adapter.Requirement{
			"reader": adapter.RequireClientRole(keycloaktest.BackendClientID, "reader"),
			"admin":  adapter.RequireRealmRole("admin"),
		})
	id, u := readerUser(t, realm)

	tok := passwordGrant(t, realm, lw, u, "openid")
	p := payload(t, tok.AccessToken)
	// The shape measured on 26.7.3: no sub, no roles, scope present, aud
	// from the mapper's lightweight.claim.
	for _, name := range []string{"sub", "realm_access", "resource_access"} {
		if _, ok := p[name]; ok {
			t.Fatalf("lightweight token has %s: %v", name, p)
		}
	}
	if p["scope"] == "" || p["aud"] != keycloaktest.BackendClientID {
		t.Fatalf("lightweight token scope %v aud %v", p["scope"], p["aud"])
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	c, err := oidc.ParseClaims(raw)
	if err != nil || !adapter.Lightweight(c) {
		t.Fatalf("Lightweight does not recognise the token: %v", err)
	}

	got := a.expect(t, "/api/me", tok.AccessToken, http.StatusOK)
	if got.Sub != id || !strings.Contains(strings.Join(got.RealmRoles, ","), "user") ||
		strings.Join(got.ClientRoles[keycloaktest.BackendClientID], ",") != "reader" {
		t.Fatalf("handler saw %+v, want sub %s with roles from introspection", got, id)
	}
	a.expect(t, "/api/reader", tok.AccessToken, http.StatusOK)
	a.expect(t, "/api/admin", tok.AccessToken, http.StatusForbidden)

	t.Run("revoked at Keycloak", func(t *testing.T) {
		fresh := passwordGrant(t, realm, lw, u, "openid")
		revokeAtKeycloak(t, realm, lw, fresh.AccessToken)
		a.expect(t, "/api/me", fresh.AccessToken, http.StatusUnauthorized)
	})
	t.Run("user revoked by sub", func(t *testing.T) {
		// The token names no sub: only the introspected identity can meet
		// a revocation of the user.
		if err := a.auth.Store().RevokeSubject(context.Background(), realm.IssuerURL(), id, time.Now().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		a.expect(t, "/api/me", tok.AccessToken, http.StatusUnauthorized)
	})
	t.Run("no aud without the mapper's lightweight.claim", func(t *testing.T) {
		bare := realm.CloneClient(t, lw, func(c *gocloak.Client) {
			for _, m := range *c.ProtocolMappers {
				(*m.Config)["lightweight.claim"] = "false"
			}
		})
		tk := passwordGrant(t, realm, bare, u, "openid")
		if _, ok := payload(t, tk.AccessToken)["aud"]; ok {
			t.Fatal("aud present without lightweight.claim")
		}
		srv2, mux2 := newServer(t) // a fresh instance: its log lines are not rate-limited yet
		b := mountAPI(t, srv2.URL, mux2, realm, adapter.Config{ClientSecret: keycloaktest.BackendClientSecret, Clients: []string{bare}}, nil)
		b.expect(t, "/api/me", tk.AccessToken, http.StatusUnauthorized)
		if !strings.Contains(b.log.String(), "lightweight.claim") {
			t.Fatalf("the log does not say why:\n%s", b.log)
		}
	})
	t.Run("no introspector", func(t *testing.T) {
		srv2, mux2 := newServer(t)
		b := mountAPI(t, srv2.URL, mux2, realm, adapter.Config{Clients: []string{lw}}, nil)
		other := passwordGrant(t, realm, lw, u, "openid")
		b.expect(t, "/api/me", other.AccessToken, http.StatusServiceUnavailable)
		if !strings.Contains(b.log.String(), "Config.ClientSecret") {
			t.Fatalf("the log does not name the setting:\n%s", b.log)
		}
	})
}

// TestKeycloakOfflineTokens: an offline session shares the id (sid) of the
// online session it was requested in (measured on 26.7.3). The end of the
// online session (back-channel logout without revoke_offline_access) refuses
// the online session's tokens and leaves the offline session's (their scope
// holds offline_access), those already issued and those minted afterwards.
// RFC 7009 revocation of the offline refresh token and the admin's consent
// removal ("revoke offline access") send nothing: introspection sees them.
// A logout token with revoke_offline_access refuses both.
func TestKeycloakOfflineTokens(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{ClientSecret: keycloaktest.BackendClientSecret}, nil)
	uid, u := readerUser(t, realm)
	offline := []string{"openid", "offline_access"}
	login := func(jar http.CookieJar, scopes []string) keycloaktest.Tokens {
		return realm.LoginPKCEWith(t, keycloaktest.PKCELogin{Username: u.Username, Password: u.Password, Jar: jar, Scopes: scopes})
	}

	jar, _ := cookiejar.New(nil)
	on := login(jar, nil)
	off := login(jar, offline)
	var rt struct {
		Typ string `json:"typ"`
	}
	if err := keycloaktest.UnverifiedClaims(off.RefreshToken, &rt); err != nil || rt.Typ != "Offline" {
		t.Fatalf("offline refresh token typ %q (%v)", rt.Typ, err)
	}
	if on.SessionID == "" || off.SessionID != on.SessionID {
		t.Fatalf("offline sid %q, online sid %q: Keycloak no longer shares the id", off.SessionID, on.SessionID)
	}
	a.expect(t, "/api/me", on.AccessToken, http.StatusOK)
	if m := a.expect(t, "/api/strict", off.AccessToken, http.StatusOK); !strings.Contains(m.Scope, "offline_access") {
		t.Fatalf("introspected offline token scope %q", m.Scope)
	}

	t.Run("online logout leaves the offline session", func(t *testing.T) {
		before := a.backchannel.Load()
		resp, err := realm.HTTPClient.PostForm(realm.IssuerURL()+"/protocol/openid-connect/logout",
			url.Values{"client_id": {keycloaktest.MobileClientID}, "refresh_token": {on.RefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || a.backchannel.Load() != before+1 {
			t.Fatalf("logout: HTTP %d, %d back-channel logouts", resp.StatusCode, a.backchannel.Load()-before)
		}
		a.expect(t, "/api/me", on.AccessToken, http.StatusUnauthorized)
		a.expect(t, "/api/me", off.AccessToken, http.StatusOK)
		later, err := refreshGrant(t, realm, keycloaktest.MobileClientID, off.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if later.SessionID != on.SessionID {
			t.Fatalf("refreshed offline sid %q", later.SessionID)
		}
		a.expect(t, "/api/me", later.AccessToken, http.StatusOK)
		a.expect(t, "/api/strict", later.AccessToken, http.StatusOK)
	})

	t.Run("RFC 7009 revocation of the offline refresh token", func(t *testing.T) {
		tk := login(nil, offline)
		a.expect(t, "/api/me", tk.AccessToken, http.StatusOK)
		before := a.backchannel.Load()
		revokeAtKeycloak(t, realm, keycloaktest.MobileClientID, tk.RefreshToken)
		if _, err := refreshGrant(t, realm, keycloaktest.MobileClientID, tk.RefreshToken); err == nil {
			t.Fatal("revoked offline refresh token still refreshes")
		}
		if n := a.backchannel.Load() - before; n != 0 {
			t.Fatalf("%d back-channel logouts on revocation", n)
		}
		// No notification: the plain route cannot know; introspection can,
		// and deny-lists the token for every route.
		a.expect(t, "/api/me", tk.AccessToken, http.StatusOK)
		a.expect(t, "/api/strict", tk.AccessToken, http.StatusUnauthorized)
		a.expect(t, "/api/me", tk.AccessToken, http.StatusUnauthorized)
	})

	t.Run("consent removal revokes offline access silently", func(t *testing.T) {
		realm.SetClientAttributes(t, keycloaktest.MobileClientID, map[string]string{"backchannel.logout.revoke.offline.tokens": "true"})
		jar, _ := cookiejar.New(nil)
		on, off := login(jar, nil), login(jar, offline)
		before := a.backchannel.Load()
		realm.AdminRequest(t, http.MethodDelete, "/users/"+uid+"/consents/"+keycloaktest.MobileClientID, nil, nil)
		if n := a.backchannel.Load() - before; n != 0 {
			t.Fatalf("%d back-channel logouts on consent removal", n)
		}
		if _, err := refreshGrant(t, realm, keycloaktest.MobileClientID, off.RefreshToken); err == nil {
			t.Fatal("offline refresh token survives the consent removal")
		}
		a.expect(t, "/api/strict", off.AccessToken, http.StatusUnauthorized)
		a.expect(t, "/api/strict", on.AccessToken, http.StatusOK)
	})

	t.Run("logout token with revoke_offline_access", func(t *testing.T) {
		realm.SetClientAttributes(t, keycloaktest.MobileClientID, map[string]string{"backchannel.logout.revoke.offline.tokens": "true"})
		jar, _ := cookiejar.New(nil)
		on, off := login(jar, nil), login(jar, offline)
		before := a.backchannel.Load()
		realm.DeleteSession(t, on.SessionID) // the client's attribute is on: the token carries revoke_offline_access
		if n := a.backchannel.Load() - before; n != 1 {
			t.Fatalf("%d back-channel logouts", n)
		}
		a.expect(t, "/api/me", on.AccessToken, http.StatusUnauthorized)
		a.expect(t, "/api/me", off.AccessToken, http.StatusUnauthorized)
		// Keycloak 26.7.3 itself keeps the offline session: it still
		// refreshes. Tokens it mints within the cut-off (the logout's iat
		// + 5 min) are refused here.
		if later, err := refreshGrant(t, realm, keycloaktest.MobileClientID, off.RefreshToken); err == nil {
			t.Logf("Keycloak kept the offline session after revoke_offline_access")
			a.expect(t, "/api/me", later.AccessToken, http.StatusUnauthorized)
		} else {
			t.Logf("Keycloak ended the offline session: %v", err)
		}
	})
}

// TestKeycloakRefreshReuseDetection: with revokeRefreshToken and
// refreshTokenMaxReuse 0, a replayed refresh token makes Keycloak end the
// client session. It sends no back-channel logout, so the API learns it by
// introspection: the introspected route refuses every access token of the
// session (and deny-lists each for all routes); the plain route accepts
// them until they expire.
func TestKeycloakRefreshReuseDetection(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	realm.AdminRequest(t, http.MethodPut, "", map[string]any{"revokeRefreshToken": true, "refreshTokenMaxReuse": 0}, nil)
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{ClientSecret: keycloaktest.BackendClientSecret}, nil)
	_, u := readerUser(t, realm)

	first := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	second, err := refreshGrant(t, realm, keycloaktest.MobileClientID, first.RefreshToken) // the app
	if err != nil {
		t.Fatal(err)
	}
	// The plain route only: an active answer would be cached (for half the
	// token's remaining life at most), and the introspected route below
	// would be answered from it.
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		a.expect(t, "/api/me", tok, http.StatusOK)
	}
	before := a.backchannel.Load()
	_, err = refreshGrant(t, realm, keycloaktest.MobileClientID, first.RefreshToken) // the attacker
	var ge *keycloaktest.GrantError
	if !errors.As(err, &ge) || ge.Code != "invalid_grant" || !strings.Contains(ge.Description, "reuse") {
		t.Fatalf("replay: %v", err)
	}
	_, err = refreshGrant(t, realm, keycloaktest.MobileClientID, second.RefreshToken)
	if !errors.As(err, &ge) || ge.Code != "invalid_grant" {
		t.Fatalf("the app's newest refresh token after the replay: %v", err)
	}
	t.Logf("Keycloak: %s", ge.Description)
	if n := a.backchannel.Load() - before; n != 0 {
		t.Fatalf("Keycloak sent %d back-channel logouts on reuse", n)
	}
	a.expect(t, "/api/me", second.AccessToken, http.StatusOK) // no notification reached the plain route
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		a.expect(t, "/api/strict", tok, http.StatusUnauthorized)
		a.expect(t, "/api/me", tok, http.StatusUnauthorized)
	}
}

// TestKeycloakTokenExchange: standard token exchange (RFC 8693, on by
// default in 26.x): a gateway client exchanges the app's token, whose aud
// lacks the backend, for one whose aud is the backend. The backend accepts
// the exchanged token (azp gateway, the app's sid) and refuses the
// original; a logout of the user's session reaches the API once (the app's
// back-channel URL) and refuses both, as Keycloak's introspection does.
func TestKeycloakTokenExchange(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	realm.AdminRequest(t, http.MethodPost, "/clients", map[string]any{
		"clientId": "gateway", "enabled": true, "publicClient": false, "secret": "gateway-secret",
		"standardFlowEnabled": false, "directAccessGrantsEnabled": false,
		"attributes": map[string]string{"standard.token.exchange.enabled": "true"},
		"protocolMappers": []map[string]any{{"name": "audience backend", "protocol": "openid-connect",
			"protocolMapper": "oidc-audience-mapper", "config": map[string]string{
				"included.client.audience": keycloaktest.BackendClientID, "access.token.claim": "true", "introspection.token.claim": "true"}}},
	}, nil)
	app := realm.CloneClient(t, keycloaktest.MobileClientID, func(c *gocloak.Client) {
		(*(*c.ProtocolMappers)[0].Config)["included.client.audience"] = "gateway"
	})
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{ClientSecret: keycloaktest.BackendClientSecret, Clients: []string{app}}, nil)
	// No backend role: Keycloak would otherwise add backend to aud itself.
	_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"}})

	orig := realm.PasswordToken(t, app, "", u.Username, u.Password)
	ex, err := realm.Token(t, "gateway-secret", url.Values{"client_id": {"gateway"},
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {orig.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"audience":           {keycloaktest.BackendClientID}})
	if err != nil {
		t.Fatal(err)
	}
	po, pe := payload(t, orig.AccessToken), payload(t, ex.AccessToken)
	t.Logf("original aud %v azp %v; exchanged aud %v azp %v sid %v", po["aud"], po["azp"], pe["aud"], pe["azp"], pe["sid"])
	if pe["azp"] != "gateway" || pe["sid"] != orig.SessionID {
		t.Fatalf("exchanged token: %v", pe)
	}
	a.expect(t, "/api/me", orig.AccessToken, http.StatusUnauthorized) // aud: gateway, account
	if got := a.expect(t, "/api/me", ex.AccessToken, http.StatusOK); got.Sub != orig.Subject {
		t.Fatalf("exchanged token's sub %q, want %q", got.Sub, orig.Subject)
	}
	a.expect(t, "/api/strict", ex.AccessToken, http.StatusOK)

	before := a.backchannel.Load()
	realm.LogoutUser(t, u.Username)
	if n := a.backchannel.Load() - before; n != 1 {
		t.Fatalf("%d back-channel logouts, want 1 (to the app client)", n)
	}
	a.expect(t, "/api/me", ex.AccessToken, http.StatusUnauthorized)
	// The session revocation covers the original's sid too.
	if m := a.auth.Store().Check(revocation.Token{Issuer: realm.IssuerURL(), SessionID: orig.SessionID,
		IssuedAt: time.Now()}); m != revocation.SessionMatch {
		t.Fatalf("original's session: %v", m)
	}
}

// TestKeycloakOrganizationsAndGroups: Keycloak's organization claim (an
// array of aliases; an object keyed by alias with the mapper's id option)
// and the group membership mapper's groups claim (full paths or names)
// feed RequireClaim on real tokens.
func TestKeycloakOrganizationsAndGroups(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	realm.AdminRequest(t, http.MethodPut, "", map[string]any{"organizationsEnabled": true}, nil)
	uid, u := readerUser(t, realm)
	for _, alias := range []string{"acme", "globex"} {
		realm.AdminRequest(t, http.MethodPost, "/organizations", map[string]any{"name": alias + " Inc", "alias": alias,
			"enabled": true, "domains": []map[string]any{{"name": alias + ".example"}}}, nil)
	}
	var orgs []struct{ ID, Alias string }
	realm.AdminRequest(t, http.MethodGet, "/organizations?search=acme", nil, &orgs)
	if len(orgs) != 1 {
		t.Fatalf("organizations %+v", orgs)
	}
	addMember(t, realm, orgs[0].ID, uid)
	realm.AdminRequest(t, http.MethodPost, "/groups", map[string]any{"name": "staff"}, nil)
	var groups []struct{ ID, Name string }
	realm.AdminRequest(t, http.MethodGet, "/groups?search=staff", nil, &groups)
	realm.AdminRequest(t, http.MethodPost, "/groups/"+groups[0].ID+"/children", map[string]any{"name": "ops"}, nil)
	var kids []struct{ ID string }
	realm.AdminRequest(t, http.MethodGet, "/groups/"+groups[0].ID+"/children", nil, &kids)
	realm.AdminRequest(t, http.MethodPut, "/users/"+uid+"/groups/"+kids[0].ID, nil, nil)

	groupMapper := func(full string) gocloak.ProtocolMapperRepresentation {
		return gocloak.ProtocolMapperRepresentation{Name: gocloak.StringP("groups"), Protocol: gocloak.StringP("openid-connect"),
			ProtocolMapper: gocloak.StringP("oidc-group-membership-mapper"), Config: &map[string]string{
				"claim.name": "groups", "full.path": full, "access.token.claim": "true", "introspection.token.claim": "true"}}
	}
	fullPaths := realm.CloneClient(t, keycloaktest.MobileClientID, func(c *gocloak.Client) {
		*c.ProtocolMappers = append(*c.ProtocolMappers, groupMapper("true"))
	})
	names := realm.CloneClient(t, keycloaktest.MobileClientID, func(c *gocloak.Client) {
		*c.ProtocolMappers = append(*c.ProtocolMappers, groupMapper("false"))
	})
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{Clients: []string{fullPaths, names}},
		map[string]adapter.Requirement{
			"acme":      adapter.RequireClaim("organization", "acme"),
			"globex":    adapter.RequireClaim("organization", "globex"),
			"ops":       adapter.RequireClaim("groups", "/staff/ops"),
			"staff":     adapter.RequireClaim("groups", "/staff"),
			"ops-name":  adapter.RequireClaim("groups", "ops"),
			"capacitor": adapter.RequireClaim("allowed-origins", "capacitor://localhost"),
		})

	tk := passwordGrant(t, realm, fullPaths, u, "openid organization")
	p := payload(t, tk.AccessToken)
	t.Logf("organization %v groups %v", p["organization"], p["groups"])
	if got := a.expect(t, "/api/me", tk.AccessToken, http.StatusOK); strings.Join(got.Organizations, ",") != "acme" ||
		strings.Join(got.Groups, ",") != "/staff/ops" {
		t.Fatalf("claims %+v", got)
	}
	a.expect(t, "/api/acme", tk.AccessToken, http.StatusOK)
	a.expect(t, "/api/globex", tk.AccessToken, http.StatusForbidden)
	a.expect(t, "/api/ops", tk.AccessToken, http.StatusOK)
	a.expect(t, "/api/staff", tk.AccessToken, http.StatusForbidden) // a subgroup's member is not the parent's
	a.expect(t, "/api/ops-name", tk.AccessToken, http.StatusForbidden)
	a.expect(t, "/api/capacitor", tk.AccessToken, http.StatusOK)

	without := passwordGrant(t, realm, fullPaths, u, "openid") // organization scope not asked for
	if _, ok := payload(t, without.AccessToken)["organization"]; ok {
		t.Fatal("organization claim without the organization scope")
	}
	a.expect(t, "/api/acme", without.AccessToken, http.StatusForbidden)

	// The organization scope's mapper with "add organization id": the
	// claim becomes an object keyed by alias.
	var scopes []struct {
		ID, Name        string
		ProtocolMappers []map[string]any
	}
	realm.AdminRequest(t, http.MethodGet, "/client-scopes", nil, &scopes)
	for _, sc := range scopes {
		if sc.Name != "organization" {
			continue
		}
		for _, pm := range sc.ProtocolMappers {
			if pm["protocolMapper"] != "oidc-organization-membership-mapper" {
				continue
			}
			cfg := pm["config"].(map[string]any)
			cfg["addOrganizationId"], cfg["jsonType.label"] = "true", "JSON"
			realm.AdminRequest(t, http.MethodPut, "/client-scopes/"+sc.ID+"/protocol-mappers/models/"+pm["id"].(string), pm, nil)
		}
	}
	ids := passwordGrant(t, realm, names, u, "openid organization")
	p = payload(t, ids.AccessToken)
	t.Logf("with ids: organization %v groups %v", p["organization"], p["groups"])
	if _, ok := p["organization"].(map[string]any); !ok {
		t.Fatalf("organization claim with ids is %T, want an object", p["organization"])
	}
	a.expect(t, "/api/acme", ids.AccessToken, http.StatusOK)
	a.expect(t, "/api/globex", ids.AccessToken, http.StatusForbidden)
	a.expect(t, "/api/ops-name", ids.AccessToken, http.StatusOK)
	a.expect(t, "/api/ops", ids.AccessToken, http.StatusForbidden)
}

func addMember(t *testing.T, realm *keycloaktest.Keycloak, org, user string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, realm.BaseURL+"/admin/realms/"+realm.Realm+"/organizations/"+org+"/members",
		strings.NewReader(strconv.Quote(user)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+realm.AdminToken(t))
	req.Header.Set("Content-Type", "application/json")
	resp, err := realm.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add organization member: HTTP %d", resp.StatusCode)
	}
}

// TestKeycloakTwoRealms: one API trusts two real realms through
// oidc.MultiVerifier. Each realm's token is accepted with its own roles; a
// back-channel logout from realm A revokes A's session only (stored under
// A's issuer); a token of realm A whose iss is rewritten to realm B's is
// refused.
func TestKeycloakTwoRealms(t *testing.T) {
	kc := keycloaktest.New(t)
	srv, mux := newServer(t)
	realmA, realmB := kc.IsolatedRealm(t, srv.URL), kc.IsolatedRealm(t, srv.URL)
	ctx := context.Background()
	var fetchesB atomic.Int64
	verifier := func(realm *keycloaktest.Keycloak, fetches *atomic.Int64) *oidc.Verifier {
		d, err := oidc.Discover(ctx, oidc.DiscoveryConfig{Issuer: realm.IssuerURL(), InsecureAllowHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		ks, err := d.NewRemoteKeySet(oidc.KeySetConfig{Observe: func(oidc.FetchEvent) {
			if fetches != nil {
				fetches.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ks.Close)
		v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: d.Issuer, Keys: ks, Audience: []string{keycloaktest.BackendClientID},
			Logout: oidc.LogoutTokenConfig{Audience: []string{keycloaktest.MobileClientID}}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	mv, err := oidc.NewMultiVerifier(verifier(realmA, nil), verifier(realmB, &fetchesB))
	if err != nil {
		t.Fatal(err)
	}
	a := mountAPI(t, srv.URL, mux, realmA, adapter.Config{Verifier: mv, Clients: []string{}},
		map[string]adapter.Requirement{"admin": adapter.RequireRealmRole("admin")})

	_, ua := realmA.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user", "admin"}})
	_, ub := realmB.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"}})
	ta := realmA.PasswordToken(t, keycloaktest.MobileClientID, "", ua.Username, ua.Password)
	tb := realmB.PasswordToken(t, keycloaktest.MobileClientID, "", ub.Username, ub.Password)
	if got := a.expect(t, "/api/me", ta.AccessToken, http.StatusOK); !strings.Contains(strings.Join(got.RealmRoles, ","), "admin") {
		t.Fatalf("realm A roles %v", got.RealmRoles)
	}
	a.expect(t, "/api/admin", ta.AccessToken, http.StatusOK)
	a.expect(t, "/api/me", tb.AccessToken, http.StatusOK)
	a.expect(t, "/api/admin", tb.AccessToken, http.StatusForbidden)

	// Realm A's token with realm B's iss: MultiVerifier hands it to B's
	// verifier, whose key set lacks A's key.
	parts := strings.Split(ta.AccessToken, ".")
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(pl,
		[]byte(`"iss":"`+realmA.IssuerURL()+`"`), []byte(`"iss":"`+realmB.IssuerURL()+`"`), 1)) + "." + parts[2]
	if forged == ta.AccessToken {
		t.Fatal("iss not rewritten")
	}
	fb := fetchesB.Load()
	for range 5 {
		a.expect(t, "/api/me", forged, http.StatusUnauthorized)
	}
	if n := fetchesB.Load() - fb; n > 1 {
		t.Fatalf("%d JWKS fetches of realm B for the forged token, want at most 1", n)
	}

	realmA.LogoutUser(t, ua.Username)
	a.expect(t, "/api/me", ta.AccessToken, http.StatusUnauthorized)
	a.expect(t, "/api/me", tb.AccessToken, http.StatusOK)
	// Stored under A's issuer: the same sid under B's issuer is untouched.
	st := a.auth.Store()
	at := time.Now()
	if m := st.Check(revocation.Token{Issuer: realmA.IssuerURL(), SessionID: ta.SessionID, IssuedAt: at}); m != revocation.SessionMatch {
		t.Fatalf("realm A session: %v", m)
	}
	if m := st.Check(revocation.Token{Issuer: realmB.IssuerURL(), SessionID: ta.SessionID, IssuedAt: at}); m.Revoked() {
		t.Fatalf("realm B with realm A's sid: %v", m)
	}
}

// TestKeycloakFixedHostname starts a Keycloak of its own with --hostname
// set to a public URL on a host that does not resolve
// (http://kc.example.test:<port>) while the API reaches it on 127.0.0.1
// through Config.InternalURL: discovery, JWKS, introspection and
// back-channel logout work, iss is the public issuer exactly, and the
// internal spelling is refused as an issuer.
func TestKeycloakFixedHostname(t *testing.T) {
	port := freePort(t)
	public := "http://kc.example.test:" + strconv.Itoa(port)
	kc := keycloaktest.StartPrivate(t, keycloaktest.Private{HTTPPort: port, Args: []string{"--hostname=" + public}})
	srv, mux := newServer(t)
	realm := kc.IsolatedRealm(t, srv.URL)
	issuer := public + "/realms/" + realm.Realm
	a := mountAPI(t, srv.URL, mux, realm, adapter.Config{Issuer: issuer, InternalURL: kc.BaseURL,
		ClientSecret: keycloaktest.BackendClientSecret}, nil)
	_, u := readerUser(t, realm)

	tok := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password) // asked on 127.0.0.1
	if iss := payload(t, tok.AccessToken)["iss"]; iss != issuer {
		t.Fatalf("iss %v, want %s", iss, issuer)
	}
	a.expect(t, "/api/me", tok.AccessToken, http.StatusOK)
	a.expect(t, "/api/strict", tok.AccessToken, http.StatusOK)

	// The internal spelling is not the issuer: no alias is accepted.
	_, err := adapter.New(context.Background(), adapter.Config{Issuer: realm.IssuerURL(), Audience: keycloaktest.BackendClientID,
		InsecureAllowHTTP: true})
	if !errors.Is(err, oidc.ErrDiscovery) || !strings.Contains(err.Error(), "issuer mismatch") {
		t.Fatalf("issuer spelt with 127.0.0.1: %v, want an issuer mismatch (ErrDiscovery)", err)
	}

	before := a.backchannel.Load()
	realm.LogoutUser(t, u.Username)
	if n := a.backchannel.Load() - before; n != 1 {
		t.Fatalf("%d back-channel logouts", n)
	}
	a.expect(t, "/api/me", tok.AccessToken, http.StatusUnauthorized)

	fresh := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	revokeAtKeycloak(t, realm, keycloaktest.MobileClientID, fresh.AccessToken)
	a.expect(t, "/api/strict", fresh.AccessToken, http.StatusUnauthorized)
}
