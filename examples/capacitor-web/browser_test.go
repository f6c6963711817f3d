package capacitorweb_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	capacitorweb "github.com/tokenwarden/tokenwarden/examples/capacitor-web"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// TestBrowser runs the app's web build in Debian's Chromium, once per
// variant, against the real Keycloak (its own login page), the capacitor
// backend and the app's code as built by npm. Each variant with bearer
// tokens (keycloak-js, oidc-client-ts) proves:
//
//	a. PKCE: the authorization request carries code_challenge_method=S256 and
//	   the challenge of the verifier sent at the code exchange; the same code
//	   replayed at the token endpoint is refused;
//	b. the API answers the page 200, the admin route 403 for a user and 200
//	   for an admin;
//	c. a refresh in the page rotates both tokens and the API accepts the new
//	   access token;
//	d. the app's logout through the API: the old access token is refused by
//	   the API (401), the refresh token by Keycloak;
//	e. an admin signs the user out in Keycloak: the back-channel logout
//	   reaches the API and the page's next call is refused (401), its refresh
//	   too;
//	f. two tabs with two sessions: logging out one leaves the other working;
//	h. a logout while the phone is offline: the page forgets the tokens at
//	   once and says the revocation will be retried; nothing has reached
//	   the API, which still accepts the access token; back online, the page
//	   retries by itself, and then the API refuses the access token and
//	   Keycloak the refresh token (docs/capacitor.md, "Logout");
//	i. a logout while the API cannot reach Keycloak: 503 with Retry-After,
//	   the access token already refused, the page says when it will retry
//	   (the API's Retry-After, not its own 30 s) and, Keycloak back, its
//	   retry is answered 204 and the refresh token is revoked.
//
// The DPoP variant (oidc-client-ts-dpop) proves g, the tokens bound to the
// browser's key: see dpopFlow.
func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	kc := keycloaktest.New(t)
	dist := buildApp(t)
	s := newStack(t, kc, dist)
	browser := newBrowser(t, exe)
	for _, v := range capacitorweb.Variants() {
		t.Run(v, func(t *testing.T) {
			t0 := time.Now()
			if v == capacitorweb.VariantOIDCClientTSDPoP {
				dpopFlow(t, s, browser)
			} else {
				browserFlow(t, s, browser, v)
			}
			t.Logf("%s: %.1f s", v, time.Since(t0).Seconds())
		})
	}
}

func browserFlow(t *testing.T, s *stack, browser context.Context, variant string) {
	rec := newRecorder(t)
	alice := s.user(t, "user")
	admin := s.user(t, "user", "admin")

	// a. Login with PKCE S256, on Keycloak's page.
	a := rec.newTab(browser, s, "A", variant)
	la := a.login(alice)
	checkPKCE(t, rec, s, la, keycloaktest.MobileClientID)

	// b. The API answers the page; the admin route needs the role.
	mark := a.net.mark()
	a.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	if got := a.eval(`document.getElementById('result').textContent`); !strings.Contains(got, `"username": "`+alice.Username+`"`) {
		rec.fatalf("A: the profile shown is %q", got)
	}
	if rs := a.apiRequests(mark, http.MethodGet, "/api/profile"); len(rs) != 1 || bearer(rs[0]) != la.tokens.AccessToken {
		rec.fatalf("A: the profile call did not carry the access token of the login")
	}
	a.press("admin", "signed-in", entry{What: "GET /api/admin/report", Status: 403, Text: `error="insufficient_scope"`})

	// c. Refresh: both tokens rotate, the new access token is accepted.
	mark = a.net.mark()
	a.press("refresh", "signed-in", entry{What: "refresh", Status: 200})
	rf := a.tokenRequest(mark, "refresh_token")
	if rf.form.Get("refresh_token") != la.tokens.RefreshToken {
		rec.fatalf("A: the refresh did not use the login's refresh token")
	}
	var fresh tokenResponse
	decode(t, rec, rf.body, &fresh)
	if fresh.AccessToken == la.tokens.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == la.tokens.RefreshToken {
		rec.fatalf("A: the refresh answered the same tokens (rotation is on in this realm)")
	}
	mark = a.net.mark()
	a.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	if rs := a.apiRequests(mark, http.MethodGet, "/api/profile"); len(rs) != 1 || bearer(rs[0]) != fresh.AccessToken {
		rec.fatalf("A: after the refresh the page did not call the API with the new access token")
	}
	if st, _ := s.apiStatus(t, fresh.AccessToken); st != http.StatusOK {
		rec.fatalf("A: the refreshed access token: API answered %d, want 200", st)
	}

	// f. A second tab, a second session of the same user.
	b := rec.newTab(browser, s, "B", variant)
	lb := b.login(alice)
	sidA, _ := claimsOf(t, fresh.AccessToken)
	sidB, _ := claimsOf(t, lb.tokens.AccessToken)
	if sidA == "" || sidA == sidB {
		rec.fatalf("the two tabs share a session (sid %q and %q)", sidA, sidB)
	}
	b.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})

	// d. Logout through the API.
	a.press("logout", "signed-out", entry{What: "POST /auth/logout", Status: 204})
	s.wantAccessRefused(t, rec, "A: the access token after logout", fresh.AccessToken)
	s.wantRefreshRevoked(t, rec, "A: the refresh token after logout", fresh.RefreshToken)
	a.press("old-token", "signed-out", entry{What: "GET /api/profile (old token)", Status: 401, Text: `error="invalid_token"`})

	// f. The other session is untouched.
	mark = b.net.mark()
	b.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	b.press("refresh", "signed-in", entry{What: "refresh", Status: 200})
	var freshB tokenResponse
	decode(t, rec, b.tokenRequest(mark, "refresh_token").body, &freshB)
	if st, _ := s.apiStatus(t, freshB.AccessToken); st != http.StatusOK {
		rec.fatalf("B: after A's logout, B's refreshed token: API answered %d, want 200", st)
	}

	// e. An admin signs the user out in Keycloak: Keycloak posts a logout
	// token to the API's back-channel endpoint; the page's next call is
	// refused, and so is its refresh (the session is gone).
	s.realm.LogoutUser(t, alice.Username)
	b.press("profile", "signed-out",
		entry{What: "GET /api/profile", Status: 401, Text: `error="invalid_token"`},
		entry{What: "refresh", Status: 400})
	if !strings.Contains(s.log.String(), `"kind":"backchannel_logout"`) {
		rec.fatalf("the API logged no back-channel logout")
	}

	// b. An admin reaches the admin route.
	c := rec.newTab(browser, s, "C", variant)
	lc := c.login(admin)
	c.press("admin", "signed-in", entry{What: "GET /api/admin/report", Status: 200})

	// a. The code the page exchanged, replayed: refused, and Keycloak ends
	// what the code had started (RFC 6749 §4.1.2).
	if st, code := s.tokenEndpoint(t, lc.exchange); st != http.StatusBadRequest || code != "invalid_grant" {
		rec.fatalf("C: replayed authorization code: Keycloak answered %d %q, want 400 invalid_grant", st, code)
	}
	if st, code := s.refreshStatus(t, lc.tokens.RefreshToken); st != http.StatusBadRequest {
		rec.fatalf("C: the refresh token of the replayed code's login: Keycloak answered %d %q, want 400", st, code)
	}

	offlineLogout(t, rec, s, browser, variant)
	unavailableLogout(t, rec, s, browser, variant)
}

// unavailableLogout is step i: a logout answered 503 because the API cannot
// revoke the refresh token at Keycloak, retried when the API said.
func unavailableLogout(t *testing.T, rec *recorder, s *stack, browser context.Context, variant string) {
	e := rec.newTab(browser, s, "E", variant)
	le := e.login(s.user(t, "user"))
	e.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	s.kcLink.Cut(true)
	e.press("logout", "signed-out", entry{What: "POST /auth/logout", Status: 503})
	before := len(e.entries())
	s.kcLink.Cut(false)
	// The API's Retry-After (5 s, adapter.Config.RetryAfter's default) is
	// readable by the page (the API's CORS exposes it) and used.
	e.wantRetryIn(5)
	// The API deny-listed the access token before it called Keycloak.
	s.wantAccessRefused(t, rec, "E: after the 503, the access token", le.tokens.AccessToken)
	e.waitLogoutRetried(before)
	s.wantRefreshRevoked(t, rec, "E: after the retried logout, the refresh token", le.tokens.RefreshToken)
}

// offlineLogout is step h: a logout without network, retried when the
// network is back.
func offlineLogout(t *testing.T, rec *recorder, s *stack, browser context.Context, variant string) {
	d := rec.newTab(browser, s, "D", variant)
	ld := d.login(s.user(t, "user"))
	d.press("profile", "signed-in", entry{What: "GET /api/profile", Status: 200})
	d.setOffline(true)
	d.press("logout", "signed-out", entry{What: "POST /auth/logout", Status: 0, Text: "offline"})
	d.wantRetryIn(30)
	// The window the guide describes: until the retry reaches the API, the
	// access token still works for whoever holds a copy.
	if st, _ := s.apiStatus(t, ld.tokens.AccessToken); st != http.StatusOK {
		rec.fatalf("D: while the logout waits for the network, the API answered %d to its access token, want 200", st)
	}
	before := len(d.entries())
	d.setOffline(false)
	d.waitLogoutRetried(before)
	s.wantAccessRefused(t, rec, "D: after the retried logout, the access token", ld.tokens.AccessToken)
	s.wantRefreshRevoked(t, rec, "D: after the retried logout, the refresh token", ld.tokens.RefreshToken)
}

// wantRetryIn checks that the page, after a logout it could not complete,
// says it will try again in secs seconds.
func (tb *tab) wantRetryIn(secs int) {
	want := fmt.Sprintf("will be retried in %d s", secs)
	if got := tb.eval(`document.getElementById('status').textContent`); !strings.Contains(got, want) {
		tb.rec.fatalf("%s: after the logout the page says %q, want %q", tb.name, got, want)
	}
}

// waitLogoutRetried waits until the page has logged, after its first
// before entries, a logout the API answered 204: the retry of a queued
// logout, which the page makes alone.
func (tb *tab) waitLogoutRetried(before int) {
	err := tb.waitFor(fmt.Sprintf(`[...document.querySelectorAll('#log li')].slice(%d).some(li => li.dataset.what === 'POST /auth/logout' && li.dataset.status === '204')`, before))
	tb.rec.snap(tb, "logout-retried")
	if err != nil {
		tb.rec.fatalf("%s: the page did not retry the logout: %v; it logged %+v", tb.name, err, tb.entries()[before:])
	}
}

// checkPKCE asserts what the browser sent: an S256 challenge in the
// authorization request, its verifier at the code exchange, the exact
// redirect URI.
func checkPKCE(t *testing.T, rec *recorder, s *stack, l login, clientID string) {
	t.Helper()
	q, ex := l.authorize, l.exchange
	for k, want := range map[string]string{"response_type": "code", "client_id": clientID,
		"code_challenge_method": "S256", "redirect_uri": s.webURL + "/"} {
		if got := q.Get(k); got != want {
			rec.fatalf("authorization request: %s=%q, want %q (query %v)", k, got, want, q)
		}
	}
	v := ex.Get("code_verifier")
	if len(v) < 43 || len(v) > 128 { // RFC 7636 §4.1
		rec.fatalf("code exchange: code_verifier of %d characters", len(v))
	}
	if got := s256(v); got != q.Get("code_challenge") {
		rec.fatalf("code exchange: S256(code_verifier) = %s, the authorization request sent %s", got, q.Get("code_challenge"))
	}
	if ex.Get("redirect_uri") != s.webURL+"/" || ex.Get("code") == "" || ex.Get("client_id") != clientID {
		rec.fatalf("code exchange form: %v", redact(ex))
	}
}

func redact(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k == "code" || k == "code_verifier" || k == "refresh_token" {
			vs = []string{"…"}
		}
		out[k] = vs
	}
	return out
}
