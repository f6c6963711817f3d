package fake

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// realmFileClient is a client of the realm file, as far as the fake models
// it.
type realmFileClient struct {
	ClientID               string            `json:"clientId"`
	PublicClient           bool              `json:"publicClient"`
	Secret                 string            `json:"secret"`
	ServiceAccountsEnabled bool              `json:"serviceAccountsEnabled"`
	RedirectURIs           []string          `json:"redirectUris"`
	WebOrigins             []string          `json:"webOrigins"`
	Attributes             map[string]string `json:"attributes"`
	ProtocolMappers        []struct {
		ProtocolMapper string            `json:"protocolMapper"`
		Config         map[string]string `json:"config"`
	} `json:"protocolMappers"`
}

// The default clients follow tokenwarden's test realm file, which the real
// Keycloak imports: every client of the file is a default client and the
// other way round, and a redirect URI, web origin, secret, audience mapper,
// PKCE method or DPoP binding set there is set here, or a unit test against
// the fake sees another realm than the integration test against Keycloak.
func TestDefaultClientsFollowRealmFile(t *testing.T) {
	b, err := os.ReadFile("../../testdata/keycloak/tokenwarden-realm.json")
	if err != nil {
		t.Fatal(err)
	}
	var realm struct {
		Clients []realmFileClient `json:"clients"`
	}
	if err := json.Unmarshal(b, &realm); err != nil {
		t.Fatal(err)
	}
	defaults := defaultClients()
	for _, rc := range realm.Clients {
		if !slices.ContainsFunc(defaults, func(c Client) bool { return c.ID == rc.ClientID }) {
			t.Errorf("realm file client %q is not a default client", rc.ClientID)
		}
	}
	for _, c := range defaults {
		i := slices.IndexFunc(realm.Clients, func(rc realmFileClient) bool { return rc.ClientID == c.ID })
		if i < 0 {
			t.Errorf("client %q is not in the realm file", c.ID)
			continue
		}
		rc := realm.Clients[i]
		if !slices.Equal(c.WebOrigins, rc.WebOrigins) {
			t.Errorf("client %q: web origins %q, realm file %q", c.ID, c.WebOrigins, rc.WebOrigins)
		}
		if !slices.Equal(c.RedirectURIs, rc.RedirectURIs) {
			t.Errorf("client %q: redirect URIs %q, realm file %q", c.ID, c.RedirectURIs, rc.RedirectURIs)
		}
		if rc.PublicClient != (c.Secret == "") || !rc.PublicClient && c.Secret != rc.Secret {
			t.Errorf("client %q: secret %q, realm file public %v secret %q", c.ID, c.Secret, rc.PublicClient, rc.Secret)
		}
		if c.ServiceAccount != rc.ServiceAccountsEnabled {
			t.Errorf("client %q: service account %v, realm file %v", c.ID, c.ServiceAccount, rc.ServiceAccountsEnabled)
		}
		if pkce := rc.Attributes["pkce.code.challenge.method"]; c.PKCE != pkce {
			t.Errorf("client %q: PKCE %q, realm file %q", c.ID, c.PKCE, pkce)
		}
		if bound := rc.Attributes["dpop.bound.access.tokens"] == "true"; c.DPoP != bound {
			t.Errorf("client %q: DPoP %v, realm file %v", c.ID, c.DPoP, bound)
		}
		var aud []string
		for _, m := range rc.ProtocolMappers {
			if m.ProtocolMapper == "oidc-audience-mapper" && m.Config["access.token.claim"] == "true" {
				aud = append(aud, m.Config["included.client.audience"])
			}
		}
		if !slices.Equal(c.Audience, aud) {
			t.Errorf("client %q: audience %q, realm file's audience mappers %q", c.ID, c.Audience, aud)
		}
	}
}
