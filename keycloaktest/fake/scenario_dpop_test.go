package fake_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// dpopScenario runs the DPoP (RFC 9449) part against tg, a realm with the
// DPoP client: bound tokens from the password grant, the code flow and a
// refresh; the refusals of the token, logout and userinfo endpoints; what
// introspection and revocation do with bound tokens.
func dpopScenario(t *testing.T, tg *target) []string {
	r := &record{t: t, name: tg.name}
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := dpop.GenerateKey()
	oc := tg.issuer + "/protocol/openid-connect/"
	realm := tg.issuer[strings.LastIndex(tg.issuer, "/")+1:]
	proof := func(k *dpop.Key, method, u, token string) map[string]string {
		p, err := k.Proof(method, u, token, "")
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{"DPoP": p}
		if token != "" {
			h["Authorization"] = "DPoP " + token
		}
		return h
	}
	password := url.Values{"grant_type": {"password"}, "client_id": {fake.DPoPClientID}, "username": {"alice"},
		"password": {"alice-password"}, "scope": {"openid"}}
	r.check("DPoP client, no proof", tg.do(t, http.MethodPost, oc+"token", password, "", "", nil).oauthErr(t),
		[]any{400, "invalid_request", "DPoP proof is missing"})

	hdr := proof(key, http.MethodPost, oc+"token", "")
	resp := tg.do(t, http.MethodPost, oc+"token", password, "", "", hdr)
	tok := resp.json(t)
	r.check("DPoP token response", []any{resp.Status, tok["token_type"]}, []any{200, "DPoP"})
	r.add("DPoP token response members", keys(tok))
	access, refresh := str(tok["access_token"]), str(tok["refresh_token"])
	h, at := parts(t, access)
	cnf, _ := at["cnf"].(map[string]any)
	r.add("DPoP access token header", headerShape(h))
	r.check("DPoP access token binding", []any{at["typ"], keys(cnf), cnf["jkt"] == key.Thumbprint(), cnf["kc-jkt-type"]},
		[]any{"DPoP", []string{"jkt", "kc-jkt-type"}, true, "DPoP"})
	r.add("DPoP access token members", keys(at))
	_, rt := parts(t, refresh)
	rcnf, _ := rt["cnf"].(map[string]any)
	r.check("DPoP refresh token binding", []any{rt["typ"], rcnf["jkt"] == key.Thumbprint(), rcnf["kc-jkt-type"]}, []any{"Refresh", true, "DPoP"})

	r.check("replayed proof", tg.do(t, http.MethodPost, oc+"token", password, "", "", hdr).oauthErr(t),
		[]any{400, "invalid_request", "DPoP proof has already been used"})
	r.check("proof for another URL", tg.do(t, http.MethodPost, oc+"token", password, "", "", proof(key, http.MethodPost, oc+"tokens", "")).oauthErr(t),
		[]any{400, "invalid_request", "DPoP HTTP URL mismatch"})
	mobile := url.Values{"grant_type": {"password"}, "client_id": {fake.MobileClientID}, "username": {"alice"}, "password": {"alice-password"}}
	r.check("a client without the attribute, with a proof", tg.do(t, http.MethodPost, oc+"token", mobile, "", "",
		proof(key, http.MethodPost, oc+"token", "")).json(t)["token_type"], "DPoP")

	in := tg.introspect(t, access, "").json(t)
	icnf, _ := in["cnf"].(map[string]any)
	r.check("introspection of a bound token", []any{in["active"], in["token_type"], in["typ"], icnf["jkt"] == key.Thumbprint()},
		[]any{true, "DPoP", "DPoP", true})

	blank := func(c string) string { return strings.ReplaceAll(c, `realm="`+realm+`"`, `realm="…"`) }
	ub := tg.do(t, http.MethodGet, oc+"userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + access})
	r.check("userinfo, bound token as Bearer", []any{ub.Status, blank(ub.Header.Get("WWW-Authenticate"))},
		[]any{401, `Bearer realm="…", error="invalid_token", error_description="Token verification failed"`})
	uo := tg.do(t, http.MethodGet, oc+"userinfo", nil, "", "", proof(other, http.MethodGet, oc+"userinfo", access))
	r.check("userinfo, proof by another key", []any{uo.Status, blank(uo.Header.Get("WWW-Authenticate"))},
		[]any{401, `DPoP algs="PS384 RS384 EdDSA ES384 ES256 RS256 ES512 PS256 PS512 RS512", realm="…", error="invalid_token", error_description="Token verification failed"`})
	r.check("userinfo with the proof", tg.do(t, http.MethodGet, oc+"userinfo", nil, "", "", proof(key, http.MethodGet, oc+"userinfo", access)).Status, 200)

	refreshForm := url.Values{"grant_type": {"refresh_token"}, "client_id": {fake.DPoPClientID}, "refresh_token": {refresh}}
	r.check("refresh, no proof", tg.do(t, http.MethodPost, oc+"token", refreshForm, "", "", nil).oauthErr(t),
		[]any{400, "invalid_request", "DPoP proof is missing"})
	r.check("refresh, proof by another key", tg.do(t, http.MethodPost, oc+"token", refreshForm, "", "", proof(other, http.MethodPost, oc+"token", "")).oauthErr(t),
		[]any{400, "invalid_grant", "DPoP confirmation doesn't match DPoP proof"})
	rf := tg.do(t, http.MethodPost, oc+"token", refreshForm, "", "", proof(key, http.MethodPost, oc+"token", ""))
	rtok := rf.json(t)
	_, rat := parts(t, str(rtok["access_token"]))
	r.check("refresh with the proof", []any{rf.Status, rtok["token_type"], rat["cnf"].(map[string]any)["jkt"] == key.Thumbprint()}, []any{200, "DPoP", true})

	logout := url.Values{"client_id": {fake.DPoPClientID}, "refresh_token": {str(rtok["refresh_token"])}}
	r.check("logout endpoint, no proof", tg.do(t, http.MethodPost, oc+"logout", logout, "", "", nil).oauthErr(t),
		[]any{400, "invalid_grant", "DPoP proof is missing"})
	rv := tg.revokePublic(t, fake.DPoPClientID, str(rtok["refresh_token"]))
	r.check("revocation of a bound refresh token, no proof", []any{rv.Status, string(rv.Body)}, []any{200, ""})
	r.check("its access token after the revocation", tg.introspect(t, str(rtok["access_token"]), "").json(t)["active"], false)

	// The code flow, as an app does it, with the proof at the exchange.
	base := tg.issuer[:strings.Index(tg.issuer, "/realms/")]
	browser := &keycloaktest.Keycloak{BaseURL: base, Realm: realm, HTTPClient: tg.http}
	code := browser.LoginPKCEWith(t, keycloaktest.PKCELogin{ClientID: fake.DPoPClientID, Username: "bob", Password: "bob-password", DPoP: key})
	_, cat := parts(t, code.AccessToken)
	r.check("code flow", []any{code.TokenType, cat["typ"], cat["cnf"].(map[string]any)["jkt"] == key.Thumbprint()}, []any{"DPoP", "DPoP", true})
	return r.lines
}

// TestDPoPScenarioFake runs the DPoP scenario against the fake alone.
func TestDPoPScenarioFake(t *testing.T) {
	dpopScenario(t, fakeTarget(t, fake.New(t, fake.Config{})))
}

// TestDPoPScenarioSameAsKeycloak runs it against the fake and the real
// Keycloak (a realm of its own, imported with the DPoP client) and
// requires the same answers.
func TestDPoPScenarioSameAsKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	var fk, real []string
	t.Run("fake", func(t *testing.T) { fk = dpopScenario(t, fakeTarget(t, fake.New(t, fake.Config{}))) })
	t.Run("keycloak", func(t *testing.T) { real = dpopScenario(t, realTarget(t, kc.IsolatedRealm(t, ""))) })
	compare(t, fk, real)
}
