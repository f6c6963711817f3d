package fake_test

import (
	"encoding/json"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// realmClient returns a client of tokenwarden's test realm file, the one
// keycloaktest imports into the real Keycloak.
func realmClient(t *testing.T, id string) fake.Client {
	t.Helper()
	var realm struct {
		Clients []struct {
			ClientID     string   `json:"clientId"`
			RedirectURIs []string `json:"redirectUris"`
			WebOrigins   []string `json:"webOrigins"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(keycloaktest.RealmJSON(), &realm); err != nil {
		t.Fatal(err)
	}
	for _, c := range realm.Clients {
		if c.ClientID == id {
			return fake.Client{ID: id, RedirectURIs: c.RedirectURIs, WebOrigins: c.WebOrigins}
		}
	}
	t.Fatalf("realm file has no client %q", id)
	return fake.Client{}
}
