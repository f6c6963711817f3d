package adapter_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// dpopCall sends method path to r with "Authorization: DPoP token" and a
// fresh proof by key for method and proofPath (path when empty), and
// returns the status and the answer's headers.
func dpopCall(t *testing.T, r *replica, key *dpop.Key, method, path, proofPath, token string, form url.Values) (int, http.Header) {
	t.Helper()
	if proofPath == "" {
		proofPath = path
	}
	proof, err := key.Proof(method, r.srv.URL+proofPath, token, "")
	if err != nil {
		t.Fatal(err)
	}
	return sendDPoP(t, r, method, path, token, proof, form)
}

// sendDPoP sends a request with a given proof.
func sendDPoP(t *testing.T, r *replica, method, path, token, proof string, form url.Values) (int, http.Header) {
	t.Helper()
	return sendDPoPAs(t, r, "", method, path, token, proof, form)
}

// challenge returns the DPoP challenge of an answer.
func dpopChallenge(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		if strings.HasPrefix(v, "DPoP ") {
			return v
		}
	}
	return ""
}

// TestKeycloakDPoP runs two API replicas sharing one Redis store against a
// real Keycloak realm with the DPoP client (mobile-dpop), whose logout
// notifications reach replica A, and DPoP-bound tokens that Keycloak 26
// issued to a key of the test.
func TestKeycloakDPoP(t *testing.T) {
	realm, a, b := twoReplicas(t, "tw-adapter-dpop-")
	both := []*replica{a, b}

	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	login := func(t *testing.T) (keycloaktest.User, keycloaktest.Tokens) {
		_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
			ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
		return u, realm.PasswordTokenDPoP(t, key, keycloaktest.DPoPClientID, "", u.Username, u.Password)
	}
	_, tok := login(t)
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type %q", tok.TokenType)
	}

	t.Run("bound token with a good proof: 200 on both replicas, also introspected", func(t *testing.T) {
		for _, r := range both {
			for _, path := range []string{"/api/orders", "/api/strict"} {
				if s, h := dpopCall(t, r, key, http.MethodGet, path, "", tok.AccessToken, nil); s != http.StatusOK {
					t.Fatalf("%s %s: %d %q", r.name, path, s, dpopChallenge(h))
				}
			}
		}
	})

	t.Run("the same token as Bearer: 401 invalid_token", func(t *testing.T) {
		for _, r := range both {
			for _, path := range []string{"/api/orders", "/api/strict"} {
				if s, body := r.get(t, path, tok.AccessToken); s != http.StatusUnauthorized || !strings.Contains(body, "invalid_token") {
					t.Fatalf("%s %s: %d %s", r.name, path, s, body)
				}
			}
		}
	})

	t.Run("a proof replayed on the other replica: 401", func(t *testing.T) {
		proof, _ := key.Proof(http.MethodGet, a.srv.URL+"/api/orders", tok.AccessToken, "")
		if s, _ := sendDPoP(t, a, http.MethodGet, "/api/orders", tok.AccessToken, proof, nil); s != http.StatusOK {
			t.Fatalf("first use on A: %d", s)
		}
		// B is reached at another origin: the proof names A's. Put both
		// behind one name, as a load balancer does, to replay exactly; a
		// fresh proof for that name passes on B, so the refusal below is
		// the replay alone.
		fresh, _ := key.Proof(http.MethodGet, a.srv.URL+"/api/orders", tok.AccessToken, "")
		if s, h := sendDPoPAs(t, b, a.srv.URL, http.MethodGet, "/api/orders", tok.AccessToken, fresh, nil); s != http.StatusOK {
			t.Fatalf("fresh proof on B behind A's name: %d %q", s, dpopChallenge(h))
		}
		s, h := sendDPoPAs(t, b, a.srv.URL, http.MethodGet, "/api/orders", tok.AccessToken, proof, nil)
		if s != http.StatusUnauthorized || !strings.Contains(dpopChallenge(h), `error="invalid_dpop_proof"`) {
			t.Fatalf("replay on B: %d %q", s, dpopChallenge(h))
		}
		if s, _ := sendDPoP(t, a, http.MethodGet, "/api/orders", tok.AccessToken, proof, nil); s != http.StatusUnauthorized {
			t.Fatalf("replay on A: %d", s)
		}
	})

	t.Run("a proof for another URL, method or token: 401", func(t *testing.T) {
		_, other := login(t) // bound to the same key
		for name, call := range map[string]func() (int, http.Header){
			"URL": func() (int, http.Header) {
				return dpopCall(t, a, key, http.MethodGet, "/api/orders", "/api/strict", tok.AccessToken, nil)
			},
			"method": func() (int, http.Header) {
				proof, _ := key.Proof(http.MethodPost, a.srv.URL+"/api/orders", tok.AccessToken, "")
				return sendDPoP(t, a, http.MethodGet, "/api/orders", tok.AccessToken, proof, nil)
			},
			"token": func() (int, http.Header) {
				proof, _ := key.Proof(http.MethodGet, a.srv.URL+"/api/orders", other.AccessToken, "")
				return sendDPoP(t, a, http.MethodGet, "/api/orders", tok.AccessToken, proof, nil)
			},
		} {
			if s, h := call(); s != http.StatusUnauthorized || !strings.Contains(dpopChallenge(h), `error="invalid_dpop_proof"`) {
				t.Fatalf("another %s: %d %q", name, s, dpopChallenge(h))
			}
		}
	})

	t.Run("key swap: token bound to key A, proof by key B: 401", func(t *testing.T) {
		thief, _ := dpop.GenerateKey()
		for _, r := range both {
			s, h := dpopCall(t, r, thief, http.MethodGet, "/api/orders", "", tok.AccessToken, nil)
			if s != http.StatusUnauthorized || !strings.Contains(dpopChallenge(h), `error="invalid_token"`) {
				t.Fatalf("%s: %d %q", r.name, s, dpopChallenge(h))
			}
		}
	})

	t.Run("a refreshed DPoP token keeps working", func(t *testing.T) {
		fresh := realm.RefreshDPoP(t, key, keycloaktest.DPoPClientID, "", tok.RefreshToken)
		if fresh.AccessToken == tok.AccessToken || fresh.TokenType != "DPoP" {
			t.Fatalf("refresh: %+v", fresh.TokenType)
		}
		for _, r := range both {
			if s, _ := dpopCall(t, r, key, http.MethodGet, "/api/orders", "", fresh.AccessToken, nil); s != http.StatusOK {
				t.Fatalf("%s: %d", r.name, s)
			}
		}
	})

	t.Run("a token from the PKCE code flow works the same", func(t *testing.T) {
		u, _ := login(t)
		code := realm.LoginPKCEWith(t, keycloaktest.PKCELogin{ClientID: keycloaktest.DPoPClientID, Username: u.Username, Password: u.Password, DPoP: key})
		if s, _ := dpopCall(t, b, key, http.MethodGet, "/api/orders", "", code.AccessToken, nil); s != http.StatusOK {
			t.Fatalf("%d", s)
		}
	})

	t.Run("logout on A with the proof revokes the DPoP tokens on A and B and at Keycloak", func(t *testing.T) {
		_, lt := login(t)
		if s, _ := dpopCall(t, b, key, http.MethodGet, "/api/orders", "", lt.AccessToken, nil); s != http.StatusOK {
			t.Fatalf("B before logout: %d", s)
		}
		form := url.Values{"refresh_token": {lt.RefreshToken}}
		// Without the proof, logout is refused: a copied token cannot end the session.
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/auth/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+lt.AccessToken)
		if resp, err := a.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("logout as Bearer: %v %v", resp.StatusCode, err)
		}
		if s, h := dpopCall(t, a, key, http.MethodPost, "/auth/logout", "", lt.AccessToken, form); s != http.StatusNoContent {
			t.Fatalf("logout: %d %q", s, dpopChallenge(h))
		}
		if s, _ := dpopCall(t, a, key, http.MethodGet, "/api/orders", "", lt.AccessToken, nil); s != http.StatusUnauthorized {
			t.Fatalf("A after logout: %d", s)
		}
		eventually(t, "B refuses the logged-out DPoP token", func() bool {
			s, _ := dpopCall(t, b, key, http.MethodGet, "/api/orders", "", lt.AccessToken, nil)
			return s == http.StatusUnauthorized
		})
		// Keycloak revoked the bound refresh token without a proof
		// (measured on 26.7.3: the revocation endpoint takes none).
		if _, err := realm.TokenDPoP(t, key, "", url.Values{"grant_type": {"refresh_token"},
			"client_id": {keycloaktest.DPoPClientID}, "refresh_token": {lt.RefreshToken}}); err == nil {
			t.Fatal("the refresh token still works at Keycloak")
		}
	})

	t.Run("back-channel logout reaches A and revokes the DPoP tokens on A and B", func(t *testing.T) {
		u, bt := login(t)
		for _, r := range both {
			if s, _ := dpopCall(t, r, key, http.MethodGet, "/api/orders", "", bt.AccessToken, nil); s != http.StatusOK {
				t.Fatalf("%s before: %d", r.name, s)
			}
		}
		realm.LogoutUser(t, u.Username) // Keycloak POSTs a logout token (aud mobile-dpop) to A
		if s, _ := dpopCall(t, a, key, http.MethodGet, "/api/orders", "", bt.AccessToken, nil); s != http.StatusUnauthorized {
			t.Fatalf("A after back-channel logout: %d", s)
		}
		eventually(t, "B refuses the DPoP token of the ended session", func() bool {
			s, _ := dpopCall(t, b, key, http.MethodGet, "/api/orders", "", bt.AccessToken, nil)
			return s == http.StatusUnauthorized
		})
	})
}

// sendDPoPAs sends a request to r; with origin, its Host header is that
// of origin, as a load balancer in front of both replicas forwards it.
func sendDPoPAs(t *testing.T, r *replica, origin, method, path, token, proof string, form url.Values) (int, http.Header) {
	t.Helper()
	body := strings.NewReader("")
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Host = strings.TrimPrefix(origin, "http://")
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
