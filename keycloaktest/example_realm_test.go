package keycloaktest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// The realm every test of this package gets: its clients and users, read
// from the embedded realm file.
func ExampleRealmJSON() {
	var realm struct {
		Realm   string `json:"realm"`
		Clients []struct {
			ClientID     string `json:"clientId"`
			PublicClient bool   `json:"publicClient"`
		} `json:"clients"`
		Users []struct {
			Username string `json:"username"`
		} `json:"users"`
	}
	if err := json.Unmarshal(keycloaktest.RealmJSON(), &realm); err != nil {
		log.Fatal(err)
	}
	fmt.Println("realm", realm.Realm)
	for _, c := range realm.Clients {
		fmt.Println("client", c.ClientID, "public:", c.PublicClient)
	}
	for _, u := range realm.Users {
		fmt.Println("user", u.Username)
	}
	// Output:
	// realm tokenwarden
	// client backend public: false
	// client mobile public: true
	// client mobile-dpop public: true
	// user alice
	// user bob
	// user service-account-backend
}

// Tests read claims of the tokens Keycloak returned without verifying them
// (the API under test does that).
func ExampleUnverifiedClaims() {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"3f6c1c2e","sid":"crlYuJbbZY","typ":"Bearer"}`))
	token := "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln"
	var c struct {
		Subject   string `json:"sub"`
		SessionID string `json:"sid"`
	}
	if err := keycloaktest.UnverifiedClaims(token, &c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject, c.SessionID)
	fmt.Println(keycloaktest.UnverifiedClaims("not-a-jws", &c))
	// Output:
	// 3f6c1c2e crlYuJbbZY
	// keycloaktest: not a compact JWS
}
