package keycloaktest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// introspect asks Keycloak about token as the backend client.
func introspect(t *testing.T, kc *keycloaktest.Keycloak, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, kc.IssuerURL()+"/protocol/openid-connect/token/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.SetBasicAuth(keycloaktest.BackendClientID, keycloaktest.BackendClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := kc.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: HTTP %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func audience(m map[string]any) []string {
	switch v := m["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func TestPasswordTokenRolesAndAudience(t *testing.T) {
	kc := keycloaktest.New(t)
	tests := []struct {
		user, pass  string
		realmRoles  []string
		clientRoles []string
	}{
		{"alice", "alice-password", []string{"user"}, []string{"reader"}},
		{"bob", "bob-password", []string{"admin", "user"}, []string{"reader", "writer"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			tk := kc.PasswordToken(t, keycloaktest.MobileClientID, "", tt.user, tt.pass)
			if tk.AccessToken == "" || tk.RefreshToken == "" || tk.IDToken == "" || tk.SessionID == "" || tk.Subject == "" {
				t.Fatalf("incomplete tokens: %+v", tk)
			}
			var c struct {
				Typ         string `json:"typ"`
				Azp         string `json:"azp"`
				Iss         string `json:"iss"`
				Exp, Iat    int64
				RealmAccess struct{ Roles []string }            `json:"realm_access"`
				ResourceAcc map[string]struct{ Roles []string } `json:"resource_access"`
			}
			if err := keycloaktest.UnverifiedClaims(tk.AccessToken, &c); err != nil {
				t.Fatal(err)
			}
			slices.Sort(c.RealmAccess.Roles)
			roles := c.ResourceAcc[keycloaktest.BackendClientID].Roles
			slices.Sort(roles)
			if c.Typ != "Bearer" || c.Azp != "mobile" || c.Iss != kc.IssuerURL() || c.Exp-c.Iat != 300 {
				t.Errorf("claims typ=%q azp=%q iss=%q lifetime=%d", c.Typ, c.Azp, c.Iss, c.Exp-c.Iat)
			}
			for _, r := range tt.realmRoles {
				if !slices.Contains(c.RealmAccess.Roles, r) {
					t.Errorf("realm roles %v lack %q", c.RealmAccess.Roles, r)
				}
			}
			if !slices.Equal(roles, tt.clientRoles) {
				t.Errorf("backend roles %v, want %v", roles, tt.clientRoles)
			}
			in := introspect(t, kc, tk.AccessToken)
			if in["active"] != true || !slices.Contains(audience(in), keycloaktest.BackendClientID) {
				t.Fatalf("introspection: active=%v aud=%v", in["active"], in["aud"])
			}
		})
	}
}

func TestClientCredentials(t *testing.T) {
	kc := keycloaktest.New(t)
	tk := kc.ClientCredentialsToken(t, keycloaktest.BackendClientID, keycloaktest.BackendClientSecret)
	var c struct {
		Azp string `json:"azp"`
		Sid string `json:"sid"`
	}
	if err := keycloaktest.UnverifiedClaims(tk.AccessToken, &c); err != nil {
		t.Fatal(err)
	}
	if c.Azp != keycloaktest.BackendClientID || c.Sid != "" {
		t.Fatalf("service-account token azp=%q sid=%q", c.Azp, c.Sid)
	}
}

func TestLoginPKCE(t *testing.T) {
	kc := keycloaktest.New(t)
	tk := kc.LoginPKCE(t, "alice", "alice-password")
	if tk.IDToken == "" || tk.RefreshToken == "" {
		t.Fatalf("incomplete tokens: %+v", tk)
	}
	in := introspect(t, kc, tk.AccessToken)
	if in["active"] != true || in["azp"] != keycloaktest.MobileClientID || in["username"] != "alice" || in["sid"] != tk.SessionID {
		t.Fatalf("introspection of the PKCE token: %v", in)
	}
	if !slices.Contains(audience(in), keycloaktest.BackendClientID) {
		t.Fatalf("aud %v lacks backend", in["aud"])
	}
}

// TestDPoPLogins: the DPoP client's password grant and PKCE code flow,
// with a proof by the test's key, give tokens bound to it as Keycloak 26
// writes them; without a proof Keycloak refuses; a bound refresh token is
// refreshed with a proof by its key only; introspection states the binding.
func TestDPoPLogins(t *testing.T) {
	kc := keycloaktest.New(t).IsolatedRealm(t, "") // the shared realm may predate the DPoP client
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	bound := func(name string, tk keycloaktest.Tokens) {
		t.Helper()
		var c struct {
			Typ string `json:"typ"`
			Cnf struct {
				JKT  string `json:"jkt"`
				Type string `json:"kc-jkt-type"`
			} `json:"cnf"`
		}
		if err := keycloaktest.UnverifiedClaims(tk.AccessToken, &c); err != nil {
			t.Fatal(err)
		}
		if tk.TokenType != "DPoP" || c.Typ != "DPoP" || c.Cnf.JKT != key.Thumbprint() || c.Cnf.Type != "DPoP" {
			t.Fatalf("%s: token_type %q, typ %q, cnf %+v; want DPoP bound to %s", name, tk.TokenType, c.Typ, c.Cnf, key.Thumbprint())
		}
	}
	pw := kc.PasswordTokenDPoP(t, key, keycloaktest.DPoPClientID, "", "alice", "alice-password")
	bound("password grant", pw)
	in := introspect(t, kc, pw.AccessToken)
	if cnf, _ := in["cnf"].(map[string]any); in["active"] != true || in["token_type"] != "DPoP" || cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("introspection: %v", in)
	}
	code := kc.LoginPKCEWith(t, keycloaktest.PKCELogin{ClientID: keycloaktest.DPoPClientID, Username: "bob", Password: "bob-password", DPoP: key})
	bound("code flow", code)
	bound("refresh", kc.RefreshDPoP(t, key, keycloaktest.DPoPClientID, "", code.RefreshToken))

	_, err = kc.Token(t, "", url.Values{"grant_type": {"password"}, "client_id": {keycloaktest.DPoPClientID},
		"username": {"alice"}, "password": {"alice-password"}})
	var ge *keycloaktest.GrantError
	if !errors.As(err, &ge) || ge.Status != 400 || ge.Description != "DPoP proof is missing" {
		t.Fatalf("without a proof: %v", err)
	}
	other, _ := dpop.GenerateKey()
	_, err = kc.TokenDPoP(t, other, "", url.Values{"grant_type": {"refresh_token"}, "client_id": {keycloaktest.DPoPClientID},
		"refresh_token": {pw.RefreshToken}})
	if !errors.As(err, &ge) || ge.Code != "invalid_grant" {
		t.Fatalf("refresh with another key: %v", err)
	}
}

// TestDPoPFeatureOn: the server info admin endpoint lists Keycloak's DPoP
// feature as a default one, enabled: no start option is needed, and
// discovery advertises the proof algorithms.
func TestDPoPFeatureOn(t *testing.T) {
	kc := keycloaktest.New(t)
	req, _ := http.NewRequest(http.MethodGet, kc.BaseURL+"/admin/serverinfo", nil)
	req.Header.Set("Authorization", "Bearer "+kc.AdminToken(t))
	resp, err := kc.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Features []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Enabled bool   `json:"enabled"`
		} `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(info.Features, func(f struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Enabled bool   `json:"enabled"`
	}) bool {
		return f.Name == "DPOP"
	})
	if i < 0 || !info.Features[i].Enabled || info.Features[i].Type != "DEFAULT" {
		t.Fatalf("DPOP feature: %+v", info.Features)
	}
	disc, err := kc.HTTPClient.Get(kc.IssuerURL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer disc.Body.Close()
	var d struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(disc.Body).Decode(&d); err != nil || !slices.Contains(d.Algs, "ES256") {
		t.Fatalf("dpop_signing_alg_values_supported %v (%v)", d.Algs, err)
	}
}

func TestCreateUserLogoutAndDeleteSession(t *testing.T) {
	kc := keycloaktest.New(t)
	_, u := kc.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"}, ClientRoles: map[string][]string{"backend": {"writer"}}})

	// Two sessions: one ended by id, then the rest by "logout user".
	a := kc.PasswordToken(t, "mobile", "", u.Username, u.Password)
	b := kc.LoginPKCE(t, u.Username, u.Password)
	if got := kc.Sessions(t, u.Username); len(got) != 2 || !slices.Contains(got, a.SessionID) || !slices.Contains(got, b.SessionID) {
		t.Fatalf("sessions %v, want %s and %s", got, a.SessionID, b.SessionID)
	}
	kc.DeleteSession(t, a.SessionID)
	if introspect(t, kc, a.AccessToken)["active"] != false {
		t.Fatal("token of a deleted session still active")
	}
	if introspect(t, kc, b.AccessToken)["active"] != true {
		t.Fatal("token of the other session inactive after deleting one session")
	}
	kc.LogoutUser(t, u.Username)
	if introspect(t, kc, b.AccessToken)["active"] != false {
		t.Fatal("token still active after logging the user out")
	}
	if got := kc.Sessions(t, u.Username); len(got) != 0 {
		t.Fatalf("sessions after logout: %v", got)
	}
}

func TestSetClientAttributesRestores(t *testing.T) {
	kc := keycloaktest.New(t)
	const attr = "tokenwarden.test.marker"
	t.Run("set", func(t *testing.T) {
		kc.SetClientAttributes(t, "backend", map[string]string{attr: "x"})
		if got := (*kc.Client(t, "backend").Attributes)[attr]; got != "x" {
			t.Fatalf("attribute = %q", got)
		}
	})
	if got := (*kc.Client(t, "backend").Attributes)[attr]; got != "" {
		t.Fatalf("attribute not restored: %q", got)
	}
}

// receiver records the POSTs Keycloak sends to an API.
type receiver struct {
	mu   sync.Mutex
	got  map[string][]string // path -> bodies
	srv  *httptest.Server
	hits chan string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string][]string{}, hits: make(chan string, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], string(b))
		r.mu.Unlock()
		r.hits <- req.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, path string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		if bs := r.got[path]; len(bs) > 0 {
			r.mu.Unlock()
			return bs[0]
		}
		r.mu.Unlock()
		select {
		case <-r.hits:
		case <-deadline:
			t.Fatalf("keycloak sent nothing to %s", path)
		}
	}
}

// TestIsolatedRealmNotifications proves the realm's API URLs: back-channel
// logout reaches the mobile client's URL, push-revocation and logout-all
// reach the backend client's admin URL (k_push_not_before, k_logout), and a
// rotated key signs new tokens.
func TestIsolatedRealmNotifications(t *testing.T) {
	kc := keycloaktest.New(t)
	api := newReceiver(t)
	iso := kc.IsolatedRealm(t, api.srv.URL)
	if iso.Realm == kc.Realm || !strings.HasSuffix(iso.IssuerURL(), "/realms/"+iso.Realm) {
		t.Fatalf("isolated realm %q", iso.Realm)
	}

	tk := iso.PasswordToken(t, "mobile", "", "alice", "alice-password")
	iso.LogoutUser(t, "alice")
	body := api.wait(t, "/auth/backchannel-logout")
	form, _ := url.ParseQuery(body)
	var lt struct {
		Sid    string         `json:"sid"`
		Aud    any            `json:"aud"`
		Events map[string]any `json:"events"`
	}
	if err := keycloaktest.UnverifiedClaims(form.Get("logout_token"), &lt); err != nil {
		t.Fatalf("back-channel logout body: %v", err)
	}
	if lt.Sid != tk.SessionID || lt.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		t.Fatalf("logout token sid=%q events=%v, want sid %q", lt.Sid, lt.Events, tk.SessionID)
	}

	nb := iso.SetNotBeforeNow(t)
	res := iso.PushRevocation(t)
	if len(res.SuccessRequests) != 1 || len(res.FailedRequests) != 0 {
		t.Fatalf("push-revocation result %+v", res)
	}
	var push struct {
		Action    string `json:"action"`
		NotBefore int64  `json:"notBefore"`
		Resource  string `json:"resource"`
	}
	if err := keycloaktest.UnverifiedClaims(api.wait(t, "/auth/keycloak/k_push_not_before"), &push); err != nil {
		t.Fatal(err)
	}
	if push.Action != "PUSH_NOT_BEFORE" || push.NotBefore != nb || push.Resource != "backend" {
		t.Fatalf("k_push_not_before %+v, want notBefore %d", push, nb)
	}

	if res := iso.LogoutAll(t); len(res.SuccessRequests) != 1 {
		t.Fatalf("logout-all result %+v", res)
	}
	var lo struct {
		Action string `json:"action"`
	}
	if err := keycloaktest.UnverifiedClaims(api.wait(t, "/auth/keycloak/k_logout"), &lo); err != nil || lo.Action != "LOGOUT" {
		t.Fatalf("k_logout action %q: %v", lo.Action, err)
	}

	kid := iso.RotateKeys(t)
	after := iso.PasswordToken(t, "mobile", "", "bob", "bob-password")
	if got := headerKID(t, after.AccessToken); got != kid {
		t.Fatalf("token signed with kid %q, want the rotated %q", got, kid)
	}
}

func headerKID(t *testing.T, jws string) string {
	t.Helper()
	h, _, _ := strings.Cut(jws, ".")
	var hdr struct {
		Kid string `json:"kid"`
	}
	// The header decodes like a payload.
	if err := keycloaktest.UnverifiedClaims("x."+h+".x", &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

func TestCloneClientBackchannel(t *testing.T) {
	kc := keycloaktest.New(t)
	api := newReceiver(t)
	id := kc.CloneClient(t, "mobile", func(c *gocloak.Client) {
		(*c.Attributes)["backchannel.logout.url"] = api.srv.URL + "/bc"
	})
	_, u := kc.CreateUser(t, keycloaktest.User{})
	tk := kc.LoginPKCEWith(t, keycloaktest.PKCELogin{ClientID: id, Username: u.Username, Password: u.Password})
	if in := introspect(t, kc, tk.AccessToken); in["active"] != true || in["azp"] != id {
		t.Fatalf("clone's token introspection %v", in)
	}
	kc.DeleteSession(t, tk.SessionID)
	form, _ := url.ParseQuery(api.wait(t, "/bc"))
	var lt struct {
		Aud any    `json:"aud"`
		Sid string `json:"sid"`
	}
	if err := keycloaktest.UnverifiedClaims(form.Get("logout_token"), &lt); err != nil || lt.Aud != id || lt.Sid != tk.SessionID {
		t.Fatalf("logout token aud=%v sid=%q: %v", lt.Aud, lt.Sid, err)
	}
}
