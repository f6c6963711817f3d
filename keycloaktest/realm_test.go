package keycloaktest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRealmCopyInSync(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "testdata", "keycloak", "tokenwarden-realm.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(realmJSON, want) {
		t.Fatal("keycloaktest/tokenwarden-realm.json differs from testdata/keycloak/tokenwarden-realm.json: copy the testdata file over it")
	}
}

type realmFile struct {
	Realm               string `json:"realm"`
	AccessTokenLifespan int    `json:"accessTokenLifespan"`
	RevokeRefreshToken  bool   `json:"revokeRefreshToken"`
	Roles               struct {
		Realm  []struct{ Name string } `json:"realm"`
		Client map[string][]struct{ Name string }
	} `json:"roles"`
	Clients []struct {
		ClientID                  string            `json:"clientId"`
		PublicClient              bool              `json:"publicClient"`
		Secret                    string            `json:"secret"`
		ServiceAccountsEnabled    bool              `json:"serviceAccountsEnabled"`
		StandardFlowEnabled       bool              `json:"standardFlowEnabled"`
		DirectAccessGrantsEnabled bool              `json:"directAccessGrantsEnabled"`
		FrontchannelLogout        *bool             `json:"frontchannelLogout"`
		AdminURL                  string            `json:"adminUrl"`
		RedirectURIs              []string          `json:"redirectUris"`
		WebOrigins                []string          `json:"webOrigins"`
		Attributes                map[string]string `json:"attributes"`
		ProtocolMappers           []struct {
			ProtocolMapper string            `json:"protocolMapper"`
			Config         map[string]string `json:"config"`
		} `json:"protocolMappers"`
	} `json:"clients"`
	Users []struct {
		Username      string              `json:"username"`
		Email         string              `json:"email"`
		EmailVerified bool                `json:"emailVerified"`
		FirstName     string              `json:"firstName"`
		LastName      string              `json:"lastName"`
		RealmRoles    []string            `json:"realmRoles"`
		ClientRoles   map[string][]string `json:"clientRoles"`
		Credentials   []struct {
			Value     string `json:"value"`
			Temporary bool   `json:"temporary"`
		} `json:"credentials"`
	} `json:"users"`
}

// TestRealmContract checks the realm file against the service contract the
// other packages' tests rely on.
func TestRealmContract(t *testing.T) {
	var r realmFile
	if err := json.Unmarshal(realmJSON, &r); err != nil {
		t.Fatal(err)
	}
	if r.Realm != "tokenwarden" || r.AccessTokenLifespan != 300 || r.RevokeRefreshToken {
		t.Errorf("realm=%q lifespan=%d revokeRefreshToken=%v", r.Realm, r.AccessTokenLifespan, r.RevokeRefreshToken)
	}
	var realmRoles []string
	for _, x := range r.Roles.Realm {
		realmRoles = append(realmRoles, x.Name)
	}
	if !slices.Contains(realmRoles, "user") || !slices.Contains(realmRoles, "admin") {
		t.Errorf("realm roles %v", realmRoles)
	}
	clients := map[string]int{}
	for i, c := range r.Clients {
		clients[c.ClientID] = i
	}
	bi, ok1 := clients[BackendClientID]
	mi, ok2 := clients[MobileClientID]
	if !ok1 || !ok2 {
		t.Fatalf("clients %v", clients)
	}
	b, m := r.Clients[bi], r.Clients[mi]
	if b.PublicClient || b.Secret != BackendClientSecret || !b.ServiceAccountsEnabled || !b.DirectAccessGrantsEnabled ||
		b.FrontchannelLogout == nil || *b.FrontchannelLogout || b.AdminURL != "${TOKENWARDEN_API_URL:http://127.0.0.1:8081}/auth/keycloak" {
		t.Errorf("backend client: %+v", b)
	}
	if !m.PublicClient || !m.StandardFlowEnabled || !m.DirectAccessGrantsEnabled || m.FrontchannelLogout == nil || *m.FrontchannelLogout {
		t.Errorf("mobile client flags: %+v", m)
	}
	if !slices.Contains(m.RedirectURIs, MobileRedirectURL) || !slices.Contains(m.WebOrigins, "capacitor://localhost") || !slices.Contains(m.WebOrigins, "https://localhost") {
		t.Errorf("mobile redirects %v origins %v", m.RedirectURIs, m.WebOrigins)
	}
	wantAttrs := map[string]string{
		"pkce.code.challenge.method":          "S256",
		"backchannel.logout.url":              "${TOKENWARDEN_API_URL:http://127.0.0.1:8081}/auth/backchannel-logout",
		"backchannel.logout.session.required": "true",
	}
	for a, v := range wantAttrs {
		if m.Attributes[a] != v {
			t.Errorf("mobile attribute %s = %q, want %q", a, m.Attributes[a], v)
		}
	}
	aud := false
	for _, pm := range m.ProtocolMappers {
		if pm.ProtocolMapper == "oidc-audience-mapper" && pm.Config["included.client.audience"] == BackendClientID &&
			pm.Config["access.token.claim"] == "true" && pm.Config["introspection.token.claim"] == "true" {
			aud = true
		}
	}
	if !aud {
		t.Error("mobile client lacks the audience mapper adding backend to aud")
	}
	// The DPoP client: the mobile client with DPoP required.
	di, ok := clients[DPoPClientID]
	if !ok {
		t.Fatalf("no client %s", DPoPClientID)
	}
	d := r.Clients[di]
	if !d.PublicClient || !d.StandardFlowEnabled || d.Attributes["dpop.bound.access.tokens"] != "true" ||
		d.Attributes["pkce.code.challenge.method"] != "S256" || d.FrontchannelLogout == nil || *d.FrontchannelLogout ||
		!slices.Equal(d.RedirectURIs, m.RedirectURIs) || !slices.Equal(d.WebOrigins, m.WebOrigins) {
		t.Errorf("DPoP client: %+v", d)
	}
	lightweightAud := false
	for _, pm := range d.ProtocolMappers {
		if pm.ProtocolMapper == "oidc-audience-mapper" && pm.Config["included.client.audience"] == BackendClientID &&
			pm.Config["access.token.claim"] == "true" && pm.Config["introspection.token.claim"] == "true" && pm.Config["lightweight.claim"] == "true" {
			lightweightAud = true
		}
	}
	if !lightweightAud {
		t.Error("DPoP client lacks the audience mapper adding backend to aud (lightweight.claim too)")
	}
	if got := r.Roles.Client[BackendClientID]; len(got) != 2 {
		t.Errorf("backend client roles %v", got)
	}
	users := map[string][]string{"alice": {"user"}, "bob": {"user", "admin"}}
	userClientRoles := map[string][]string{"alice": {"reader"}, "bob": {"reader", "writer"}}
	for _, u := range r.Users {
		want, ok := users[u.Username]
		if !ok {
			continue
		}
		delete(users, u.Username)
		if !slices.Equal(u.RealmRoles, want) || !slices.Equal(u.ClientRoles[BackendClientID], userClientRoles[u.Username]) {
			t.Errorf("user %s roles %v %v", u.Username, u.RealmRoles, u.ClientRoles)
		}
		if u.Email == "" || !u.EmailVerified || u.FirstName == "" || u.LastName == "" {
			t.Errorf("user %s lacks profile fields (the login form would ask for them)", u.Username)
		}
		if len(u.Credentials) != 1 || u.Credentials[0].Value != u.Username+"-password" || u.Credentials[0].Temporary {
			t.Errorf("user %s credentials", u.Username)
		}
	}
	if len(users) != 0 {
		t.Errorf("users missing: %v", users)
	}
}
