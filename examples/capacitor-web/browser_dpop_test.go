package capacitorweb_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	capacitorweb "github.com/tokenwarden/tokenwarden/examples/capacitor-web"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// dpopFlow drives the oidc-client-ts variant with DPoP (RFC 9449): the
// client mobile-dpop, PKCE, a non-extractable WebCrypto key in IndexedDB,
// a proof per request, and the API asking for its nonce. It proves g:
//
//   - the login binds the token to the page's key: the authorization
//     request names the key's thumbprint (dpop_jkt), the code exchange
//     carries a proof by it, Keycloak answers token_type DPoP, and the
//     access token's cnf.jkt is the RFC 7638 thumbprint of the public key
//     in the page's proof (computed here, not by the code under test);
//   - the key in IndexedDB is that key, and its private half cannot be
//     exported: the page shows the binding;
//   - the API accepts the page's proofs (profile 200, admin route 403 for a
//     user, 200 for an admin), after one use_dpop_nonce round trip per
//     page, the nonce then kept from answer to answer;
//   - the access token copied out of the page is refused from Go as Bearer
//     (401 invalid_token), as DPoP with a proof by another key (401
//     invalid_token, the key binding), and with the page's own proof
//     replayed (401 invalid_dpop_proof, the replay check: the last one, so
//     every other check passed);
//   - a refresh in the page yields a new token bound to the same key, which
//     the API accepts;
//   - the key survives a reload (the tokens, in memory, do not): the next
//     login, through Keycloak's session without its form, binds to it again;
//   - the logout through /auth/logout with the page's proof answers 204,
//     and the old token with a valid proof by the page's key is refused
//     (401, the deny-list);
//   - an administrator's sign-out reaches the API by back-channel logout:
//     the page's next call is refused, and so is its refresh at Keycloak.
func dpopFlow(t *testing.T, s *stack, browser context.Context) {
	rec := newRecorder(t)
	alice := s.user(t, "user")
	admin := s.user(t, "user", "admin")
	profileURL := s.apiURL + app.RouteProfile
	nonceAsked := func(what string) entry { return entry{What: what, Status: 401, Text: `error="use_dpop_nonce"`} }

	// Login with PKCE, bound to the page's key.
	a := rec.newTab(browser, s, "A", capacitorweb.VariantOIDCClientTSDPoP)
	la := a.login(alice)
	checkPKCE(t, rec, s, la, keycloaktest.DPoPClientID)
	jkt := a.checkIssued(la.exchangeReq, la.tokens, "")
	if got := la.authorize.Get("dpop_jkt"); got != jkt {
		rec.fatalf("A: the authorization request's dpop_jkt is %q, the key of the code exchange %q", got, jkt)
	}
	a.checkKey(jkt)
	a.checkShownBinding(jkt)

	// The API accepts the page's proofs. The first one has no nonce: the
	// API asks for it, the page sends the request once more with it.
	mark := a.net.mark()
	a.press("profile", "signed-in", nonceAsked("GET /api/profile"), entry{What: "GET /api/profile", Status: 200})
	if got := a.eval(`document.getElementById('result').textContent`); !strings.Contains(got, `"username": "`+alice.Username+`"`) {
		rec.fatalf("A: the profile shown is %q", got)
	}
	rs := a.apiCalls(mark, http.MethodGet, app.RouteProfile, 2)
	first := a.checkProof(rs[0], profileURL, la.tokens.AccessToken, jkt)
	second := a.checkProof(rs[1], profileURL, la.tokens.AccessToken, jkt)
	nonce := rs[0].answerHeader("DPoP-Nonce")
	if rs[0].status != 401 || nonce == "" || first.Nonce != "" || second.Nonce != nonce || rs[1].status != 200 || first.JTI == second.JTI {
		rec.fatalf("A: the nonce round trip: %d with DPoP-Nonce %q to a proof with nonce %q, then %d to a proof with nonce %q (jti %q, %q)",
			rs[0].status, nonce, first.Nonce, rs[1].status, second.Nonce, first.JTI, second.JTI)
	}
	replayable := rs[1]
	// The next call reuses the nonce of the last answer: no refusal.
	mark = a.net.mark()
	a.press("admin", "signed-in", entry{What: "GET /api/admin/report", Status: 403, Text: `error="insufficient_scope"`})
	if p := a.checkProof(a.apiCalls(mark, http.MethodGet, app.RouteAdminReport, 1)[0], s.apiURL+app.RouteAdminReport,
		la.tokens.AccessToken, jkt); p.Nonce != replayable.answerHeader("DPoP-Nonce") {
		rec.fatalf("A: the admin call's proof carries nonce %q, the last answer gave %q", p.Nonce, replayable.answerHeader("DPoP-Nonce"))
	}

	// The access token copied out of the page, sent from Go.
	_, am := s.audits(0)
	tok := la.tokens.AccessToken
	st, ch := s.apiCall(t, http.MethodGet, app.RouteProfile, map[string]string{"Authorization": "Bearer " + tok})
	am = s.expectRefusal(rec, "the copied token as Bearer", st, ch, `error="invalid_token"`, am, "dpop_required", "check=cnf")
	other, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if other.Thumbprint() == jkt {
		t.Fatal("the other key is the page's")
	}
	foreign, err := other.Proof(http.MethodGet, profileURL, tok, replayable.answerHeader("DPoP-Nonce"))
	if err != nil {
		t.Fatal(err)
	}
	st, ch = s.apiCall(t, http.MethodGet, app.RouteProfile, map[string]string{"Authorization": "DPoP " + tok, "DPoP": foreign})
	am = s.expectRefusal(rec, "the copied token with a proof by another key", st, ch, `error="invalid_token"`, am, "invalid_dpop_proof", "check=jkt")
	st, ch = s.apiCall(t, http.MethodGet, app.RouteProfile, map[string]string{
		"Authorization": replayable.header("Authorization"), "DPoP": replayable.header("DPoP")})
	s.expectRefusal(rec, "the page's request replayed (its token and proof)", st, ch, `error="invalid_dpop_proof"`, am, "invalid_dpop_proof", "check=replay")

	// A refresh in the page: a new token, bound to the same key, accepted.
	mark = a.net.mark()
	a.press("refresh", "signed-in", entry{What: "refresh", Status: 200})
	rf := a.tokenRequest(mark, "refresh_token")
	var fresh tokenResponse
	decode(t, rec, rf.body, &fresh)
	a.checkIssued(rf.req, fresh, jkt)
	if fresh.AccessToken == tok || fresh.RefreshToken == "" || fresh.RefreshToken == la.tokens.RefreshToken {
		rec.fatalf("A: the refresh answered the same tokens (rotation is on in this realm)")
	}
	mark = a.net.mark()
	a.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	a.checkProof(a.apiCalls(mark, http.MethodGet, app.RouteProfile, 1)[0], profileURL, fresh.AccessToken, jkt)
	a.checkShownBinding(jkt)

	// A reload: the tokens were in memory only, the key was not. Keycloak's
	// session logs the page in again without its form, bound to the same key.
	a.rec.check(a.run(chromedp.Reload()), "A: reload")
	a.rec.check(a.waitFor(`document.getElementById('status').dataset.state === 'signed-out'`), "A: after the reload")
	a.rec.snap(a, "reloaded")
	a.checkKey(jkt)
	lr := a.loginSSO(alice)
	a.checkIssued(lr.exchangeReq, lr.tokens, jkt)
	a.press("profile", "signed-in", nonceAsked("GET /api/profile"), entry{What: "GET /api/profile", Status: 200})

	// Logout through the API, with the page's proof; then the old token,
	// with a valid proof by the page's key, is refused: by the deny-list.
	mark = a.net.mark()
	a.press("logout", "signed-out", entry{What: "POST /auth/logout", Status: 204})
	a.checkProof(a.apiCalls(mark, http.MethodPost, app.RouteLogout, 1)[0], s.apiURL+app.RouteLogout, lr.tokens.AccessToken, jkt)
	_, am = s.audits(0)
	mark = a.net.mark()
	a.press("old-token", "signed-out",
		entry{What: "GET /api/profile (old token)", Status: 401, Text: `error_description="token revoked"`})
	a.checkProof(a.apiCalls(mark, http.MethodGet, app.RouteProfile, 1)[0], profileURL, lr.tokens.AccessToken, jkt)
	if evs, _ := s.audits(am); len(evs) != 1 || evs[0].Kind != "revoked_token_presented" {
		rec.fatalf("A: the old token after logout: audit events %+v, want one revoked_token_presented", evs)
	}

	// An admin reaches the admin route with the proofs of another browser
	// context, and so another key.
	c := rec.newTab(browser, s, "C", capacitorweb.VariantOIDCClientTSDPoP)
	lc := c.login(admin)
	if jc := c.checkIssued(lc.exchangeReq, lc.tokens, ""); jc == jkt {
		rec.fatalf("C: two browser contexts share the key %s", jkt)
	}
	c.press("admin", "signed-in", nonceAsked("GET /api/admin/report"), entry{What: "GET /api/admin/report", Status: 200})

	// An administrator signs the admin out in Keycloak: the back-channel
	// logout reaches the API, the page's next call is refused, and so is
	// its refresh, proof and all.
	_, am = s.audits(0)
	s.realm.LogoutUser(t, admin.Username)
	mark = c.net.mark()
	c.press("profile", "signed-out",
		entry{What: "GET /api/profile", Status: 401, Text: `error="invalid_token"`},
		entry{What: "refresh", Status: 400})
	if r := c.tokenCalls(mark, "refresh_token"); len(r) != 1 || r[0].header("DPoP") == "" {
		rec.fatalf("C: the refused refresh: %d requests, want one with a DPoP proof", len(r))
	}
	if evs, _ := s.audits(am); len(evs) == 0 || evs[0].Kind != "backchannel_logout" {
		rec.fatalf("C: after the administrator's sign-out: audit events %+v, want a backchannel_logout first", evs)
	}
}

// checkIssued checks a token request of the page and Keycloak's answer: a
// proof by the page's key for POST to the token endpoint, without ath;
// token_type DPoP; the access token bound (cnf.jkt) to the proof's key,
// which is want unless want is empty. It returns the key's thumbprint.
func (tb *tab) checkIssued(r request, tok tokenResponse, want string) string {
	tb.rec.t.Helper()
	p, err := parseProof(r.header("DPoP"))
	if err != nil {
		tb.rec.fatalf("%s: the token request's DPoP header: %v", tb.name, err)
	}
	jkt := p.JWK.thumbprint()
	if p.HTM != http.MethodPost || p.HTU != tb.s.realm.TokenURL() || p.ATH != "" || p.JTI == "" {
		tb.rec.fatalf("%s: the token request's proof: htm %q htu %q ath %q jti %q", tb.name, p.HTM, p.HTU, p.ATH, p.JTI)
	}
	if want != "" && jkt != want {
		tb.rec.fatalf("%s: the token request's proof is by key %s, want %s", tb.name, jkt, want)
	}
	if tok.TokenType != "DPoP" {
		tb.rec.fatalf("%s: Keycloak answered token_type %q, want DPoP", tb.name, tok.TokenType)
	}
	var c struct {
		Typ string `json:"typ"`
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := keycloaktest.UnverifiedClaims(tok.AccessToken, &c); err != nil {
		tb.rec.fatalf("%s: the access token: %v", tb.name, err)
	}
	if c.Cnf.JKT != jkt || c.Typ != "DPoP" {
		tb.rec.fatalf("%s: the access token has typ %q and cnf.jkt %q, the page's key is %s", tb.name, c.Typ, c.Cnf.JKT, jkt)
	}
	return jkt
}

// checkProof checks a request of the page to the API: the token with the
// DPoP scheme, and a proof for this method and URL, with the token's hash,
// by the key jkt. It returns the proof.
func (tb *tab) checkProof(r request, url, token, jkt string) proof {
	tb.rec.t.Helper()
	if got := r.header("Authorization"); got != "DPoP "+token {
		tb.rec.fatalf("%s: %s %s: Authorization %.20q…, want the DPoP scheme and the page's token", tb.name, r.method, r.url, got)
	}
	p, err := parseProof(r.header("DPoP"))
	if err != nil {
		tb.rec.fatalf("%s: %s %s: the DPoP header: %v", tb.name, r.method, r.url, err)
	}
	if p.HTM != r.method || p.HTU != url || p.ATH != s256(token) || p.JTI == "" || p.IAT == 0 {
		tb.rec.fatalf("%s: %s %s: proof htm %q htu %q ath %q jti %q iat %d", tb.name, r.method, r.url, p.HTM, p.HTU, p.ATH, p.JTI, p.IAT)
	}
	if got := p.JWK.thumbprint(); got != jkt {
		tb.rec.fatalf("%s: %s %s: the proof is by key %s, want %s", tb.name, r.method, r.url, got, jkt)
	}
	return p
}

// keyState is what the page's IndexedDB holds for the DPoP client.
type keyState struct {
	Found       bool     `json:"found"`
	Extractable bool     `json:"extractable"`
	Type        string   `json:"type"`
	Algorithm   string   `json:"algorithm"`
	Curve       string   `json:"curve"`
	Usages      []string `json:"usages"`
	ExportError string   `json:"exportError"`
	Public      jwk      `json:"public"`
}

// checkKey reads the key oidc-client-ts keeps in IndexedDB (database
// "oidc", store "dpop", one entry per client) and checks that its private
// half cannot leave the browser (extractable false: exporting it throws)
// and that its public half is the key jkt of the proofs.
func (tb *tab) checkKey(jkt string) {
	tb.rec.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	k, err := chromedp.Run(ctx, chromedp.Evaluate[keyState](fmt.Sprintf(`(async () => {
  const req = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const db = await req(indexedDB.open('oidc'));
  const state = await req(db.transaction('dpop').objectStore('dpop').get(%q));
  db.close();
  if (!state) return { found: false };
  const key = state.keys.privateKey;
  let exportError = '';
  for (const format of ['pkcs8', 'jwk']) {
    try { await crypto.subtle.exportKey(format, key); } catch (e) { exportError = e.name; continue; }
    exportError = '';
    break;
  }
  return { found: true, extractable: key.extractable, type: key.type, algorithm: key.algorithm.name, curve: key.algorithm.namedCurve,
    usages: key.usages, exportError, public: await crypto.subtle.exportKey('jwk', state.keys.publicKey) };
})()`, keycloaktest.DPoPClientID), chromedp.EvalAwaitPromise))
	if err != nil {
		tb.rec.fatalf("%s: read the DPoP key in IndexedDB: %v", tb.name, err)
	}
	if !k.Found {
		tb.rec.fatalf("%s: no DPoP key in IndexedDB", tb.name)
	}
	if k.Extractable || k.ExportError == "" || k.Type != "private" || k.Algorithm != "ECDSA" || k.Curve != "P-256" ||
		strings.Join(k.Usages, " ") != "sign" {
		tb.rec.fatalf("%s: the private key in IndexedDB: %+v, want a non-extractable ECDSA P-256 signing key", tb.name, k)
	}
	if got := k.Public.thumbprint(); got != jkt || k.Public.D != "" {
		tb.rec.fatalf("%s: the key in IndexedDB is %s, the proofs' %s", tb.name, got, jkt)
	}
}

// checkShownBinding waits until the page shows a token bound to its own
// key, jkt.
func (tb *tab) checkShownBinding(jkt string) {
	tb.rec.t.Helper()
	el := `document.getElementById('binding').dataset`
	err := tb.waitFor(fmt.Sprintf(`%s.binding === 'dpop' && %s.jkt === %q && %s.key === %q`, el, el, jkt, el, jkt))
	if err != nil {
		tb.rec.fatalf("%s: the page does not show the token bound to its key %s: %v (it shows %q)", tb.name, jkt, err,
			tb.eval(`document.getElementById('binding').textContent`))
	}
}

// apiCalls waits for the page's n calls to the API path after mark, each
// answered, and returns them.
func (tb *tab) apiCalls(mark int, method, path string, n int) []request {
	tb.rec.t.Helper()
	var rs []request
	err := tb.until(func() bool {
		rs = tb.apiRequests(mark, method, path)
		for _, r := range rs {
			if r.status == 0 {
				return false
			}
		}
		return len(rs) >= n
	})
	if err != nil || len(rs) != n {
		tb.rec.fatalf("%s: %d answered %s %s requests, want %d (%v)", tb.name, len(rs), method, path, n, err)
	}
	return rs
}

// tokenCalls returns the page's requests to the token endpoint with this
// grant after mark.
func (tb *tab) tokenCalls(mark int, grant string) []request {
	return tb.net.find(mark, func(r *request) bool {
		return r.method == http.MethodPost && r.url == tb.s.realm.TokenURL() && strings.Contains(string(r.post), "grant_type="+grant)
	})
}

// expectRefusal checks a request sent from Go: a 401 whose challenges
// contain want, and one audit event of the API since mark with this reason
// and an explanation starting with detail (the check that refused it). It
// returns the next mark.
func (s *stack) expectRefusal(rec *recorder, what string, status int, challenges, want string, mark int, reason, detail string) int {
	rec.t.Helper()
	if status != http.StatusUnauthorized || !strings.Contains(challenges, want) {
		rec.fatalf("%s: the API answered %d %q, want 401 with %s", what, status, challenges, want)
	}
	evs, next := s.audits(mark)
	if len(evs) != 1 || evs[0].Reason != reason || !strings.HasPrefix(evs[0].Detail, detail) {
		rec.fatalf("%s: audit events %+v, want one %s with %s", what, evs, reason, detail)
	}
	return next
}

// proof is a DPoP proof as the page sent it, decoded without verification
// (the API verifies): the members of its header and of its payload, whose
// names differ.
type proof struct {
	Typ string `json:"typ"`
	Alg string `json:"alg"`
	JWK jwk    `json:"jwk"`

	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath"`
	Nonce string `json:"nonce"`
}

// parseProof decodes a proof's header and payload and checks the header:
// typ dpop+jwt, ES256, a public P-256 key.
func parseProof(jws string) (proof, error) {
	var p proof
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return p, fmt.Errorf("%d parts, want a compact JWS", len(parts))
	}
	for _, part := range parts[:2] {
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			return p, err
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return p, err
		}
	}
	if p.Typ != "dpop+jwt" || p.Alg != "ES256" || p.JWK.Kty != "EC" || p.JWK.Crv != "P-256" || p.JWK.D != "" {
		return p, errors.New("header: typ " + p.Typ + ", alg " + p.Alg + ", jwk " + p.JWK.Kty + " " + p.JWK.Crv + ": want dpop+jwt, ES256, a public P-256 key")
	}
	return p, nil
}

// jwk is an EC JSON Web Key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d,omitempty"` // a private member: never in a proof
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of an EC key: its required
// members in lexicographic order, without whitespace, hashed.
func (k jwk) thumbprint() string {
	b, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{k.Crv, k.Kty, k.X, k.Y})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
