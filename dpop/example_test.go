package dpop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"golang.org/x/oauth2"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// A resource server checks the proof that comes with a DPoP-bound token.
// The adapter package does all of this for a Keycloak token; this is the
// bare verifier.
func ExampleVerifier() {
	store := revocation.NewMemory(revocation.Config{}) // or the Redis store, shared by replicas
	defer store.Close()
	v, err := dpop.NewVerifier(dpop.Config{Replay: store, ExternalURL: "https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}

	// The client's side: a key, and a proof for the request.
	key, _ := dpop.GenerateKey()
	token := "eyJ...the access token, bound to key (cnf.jkt)"
	proof, _ := key.Proof("GET", "https://api.example.com/api/profile", token, "")

	// The API, behind a proxy, sees http://10.0.0.5:8080/api/profile.
	r := httptest.NewRequest("GET", "http://10.0.0.5:8080/api/profile", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", proof)
	jkt := key.Thumbprint() // in real life: the verified token's cnf.jkt
	if _, err := v.Verify(r.Context(), r, token, jkt); err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted")

	// The same proof again: refused, on this replica or any other that
	// shares the store.
	_, err = v.Verify(r.Context(), r, token, jkt)
	var e *dpop.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Check)
	}
	// Output:
	// accepted
	// invalid_dpop_proof replay
}

// With golang.org/x/oauth2: the Transport in the context's client signs
// the token requests (the tokens are then bound to the key), and, as the
// base of Config.Client's transport, the API requests, whose
// "Authorization: DPoP <token>" (token_type DPoP) gets ath in the proof.
func ExampleTransport_oauth2() {
	key, err := dpop.GenerateKey() // an app keeps it in its keystore
	if err != nil {
		log.Fatal(err)
	}
	as := fakeAuthorizationServer()
	defer as.Close()

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient,
		&http.Client{Transport: &dpop.Transport{Key: key}})
	conf := &oauth2.Config{ClientID: "mobile", Endpoint: oauth2.Endpoint{
		TokenURL: as.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Type())

	client := conf.Client(ctx, tok) // sends "Authorization: DPoP …" with a proof
	resp, err := client.Get(as.URL + "/api")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// DPoP
	// 200 OK
}

// fakeAuthorizationServer issues a DPoP token to a request with a proof,
// and serves an API that wants the token with a proof carrying ath.
func fakeAuthorizationServer() *httptest.Server {
	store := revocation.NewMemory(revocation.Config{})
	v, _ := dpop.NewVerifier(dpop.Config{Replay: store})
	jkts := map[string]string{} // token -> bound key
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Verify(r.Context(), r, "", "")
		if err != nil {
			http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
			return
		}
		jkts["at-1"] = p.JKT
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "DPoP", "expires_in": 300})
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if len(auth) < 5 || auth[:5] != "DPoP " {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if _, err := v.Verify(r.Context(), r, auth[5:], jkts[auth[5:]]); err != nil || jkts[auth[5:]] == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return httptest.NewServer(mux)
}
