package fake

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The default clients follow tokenwarden's test realm file, which the real
// Keycloak imports: a redirect URI or web origin added there must be added
// here, or a unit test against the fake sees another realm than the
// integration test against Keycloak.
func TestDefaultClientsFollowRealmFile(t *testing.T) {
	b, err := os.ReadFile("../../testdata/keycloak/tokenwarden-realm.json")
	if err != nil {
		t.Fatal(err)
	}
	var realm struct {
		Clients []struct {
			ClientID     string   `json:"clientId"`
			RedirectURIs []string `json:"redirectUris"`
			WebOrigins   []string `json:"webOrigins"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(b, &realm); err != nil {
		t.Fatal(err)
	}
	for _, c := range defaultClients() {
		i := slices.IndexFunc(realm.Clients, func(rc struct {
			ClientID     string   `json:"clientId"`
			RedirectURIs []string `json:"redirectUris"`
			WebOrigins   []string `json:"webOrigins"`
		}) bool {
			return rc.ClientID == c.ID
		})
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
	}
}
