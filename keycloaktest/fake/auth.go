package fake

import (
	"crypto/sha256"
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// login is a browser login waiting for the user's password.
type login struct {
	clientID, redirect, state, nonce, scope string
	challenge, method                       string
	expires                                 time.Time
}

// authCode is an authorization code not yet exchanged.
type authCode struct {
	sid, clientID, redirect, nonce string
	challenge, method              string
	openid                         bool
	expires                        time.Time
}

func redirectAllowed(c *client, uri string) bool {
	for _, p := range c.RedirectURIs {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(uri, prefix) || p == uri {
			return true
		}
	}
	return false
}

// appendQuery adds parameters, in the given order, to a redirect URI.
func appendQuery(uri string, kv ...string) string {
	var b strings.Builder
	b.WriteString(uri)
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b.WriteString(sep + url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
		sep = "&"
	}
	return b.String()
}

var pages = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in to {{.Realm}}</title></head>
<body>
{{if .Error}}<span id="input-error" class="kc-feedback-text">{{.Error}}</span>
{{end}}<form id="kc-form-login" onsubmit="login.disabled = true; return true;" action="{{.Action}}" method="post">
<input id="username" name="username" value="" type="text" autofocus autocomplete="username">
<input id="password" name="password" type="password" autocomplete="current-password">
<input type="hidden" id="id-hidden-input" name="credentialId">
<input name="login" id="kc-login" type="submit" value="Sign In">
</form>
</body>
</html>
{{define "error"}}<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in to {{.Realm}}</title></head>
<body><div id="kc-error-message"><p class="instruction">{{.Error}}</p></div></body>
</html>
{{end}}`))

type page struct{ Realm, Action, Error string }

func (k *Keycloak) errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, "error", page{Realm: k.Realm, Error: msg})
}

func (k *Keycloak) loginPage(w http.ResponseWriter, id, msg string) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, must-revalidate, max-age=0")
	_ = pages.Execute(w, page{Realm: k.Realm, Error: msg,
		Action: k.IssuerURL() + "/login-actions/authenticate?" + url.Values{"session_code": {id}}.Encode()})
}

// authError is a refused authorization request: a page when the client or
// its redirect URI is unknown, else a redirect to the client with error.
type authError struct {
	page   string
	code   string
	desc   string
	target string
}

// authorizeLocked checks an authorization request and opens a login.
func (k *Keycloak) authorizeLocked(q url.Values, now time.Time) (string, *authError) {
	c, ok := k.clients[q.Get("client_id")]
	if !ok {
		return "", &authError{page: "Client not found."}
	}
	redirect := q.Get("redirect_uri")
	if !redirectAllowed(c, redirect) {
		return "", &authError{page: "Invalid parameter: redirect_uri"}
	}
	fail := func(code, desc string) (string, *authError) {
		return "", &authError{code: code, desc: desc,
			target: appendQuery(redirect, "error", code, "error_description", desc, "state", q.Get("state"), "iss", k.IssuerURL())}
	}
	if q.Get("response_type") != "code" {
		return fail("unsupported_response_type", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.")
	}
	method, challenge := q.Get("code_challenge_method"), q.Get("code_challenge")
	switch {
	case c.PKCE != "" && method == "":
		return fail("invalid_request", "Missing parameter: code_challenge_method")
	case c.PKCE != "" && method != c.PKCE, method != "" && method != "S256" && method != "plain":
		return fail("invalid_request", "Invalid parameter: code_challenge_method")
	case method != "" && challenge == "":
		return fail("invalid_request", "Missing parameter: code_challenge")
	case challenge != "" && method == "":
		method = "plain" // RFC 7636 §4.3
	}
	id := sessionID()
	k.logins[id] = &login{clientID: c.ID, redirect: redirect, state: q.Get("state"), nonce: q.Get("nonce"),
		scope: q.Get("scope"), challenge: challenge, method: method, expires: now.Add(30 * time.Minute)}
	return id, nil
}

func (k *Keycloak) serveAuth(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	id, e := k.authorizeLocked(r.URL.Query(), k.now())
	k.mu.Unlock()
	switch {
	case e != nil && e.page != "":
		k.errorPage(w, http.StatusBadRequest, e.page)
	case e != nil:
		http.Redirect(w, r, e.target, http.StatusFound)
	default:
		k.loginPage(w, id, "")
	}
}

// errBadPassword asks for the login form again.
const errBadPassword = "Invalid username or password."

// loginLocked checks the password of a login and returns the redirect to
// the client with the authorization code.
func (k *Keycloak) loginLocked(id, username, password string, now time.Time) (string, string) {
	l, ok := k.logins[id]
	if !ok || now.After(l.expires) {
		delete(k.logins, id)
		return "", "Your login attempt timed out. Login will start from the beginning."
	}
	u := k.userByNameLocked(username)
	if u == nil || u.serviceAccount || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return "", errBadPassword
	}
	delete(k.logins, id)
	s := k.newSessionLocked(u, now)
	s.authTime = now.Unix()
	s.clients[l.clientID] = true
	code := keycloakID() + "." + s.id + "." + keycloakID()
	k.codes[code] = &authCode{sid: s.id, clientID: l.clientID, redirect: l.redirect, nonce: l.nonce,
		challenge: l.challenge, method: l.method, openid: hasScope(l.scope, "openid"), expires: now.Add(time.Minute)}
	return appendQuery(l.redirect, "state", l.state, "session_state", s.id, "iss", k.IssuerURL(), "code", code), ""
}

func (k *Keycloak) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		k.errorPage(w, http.StatusBadRequest, "Invalid Request")
		return
	}
	id := r.URL.Query().Get("session_code")
	k.mu.Lock()
	target, msg := k.loginLocked(id, r.PostForm.Get("username"), r.PostForm.Get("password"), k.now())
	k.mu.Unlock()
	switch {
	case msg == errBadPassword:
		k.loginPage(w, id, msg)
	case msg != "":
		k.errorPage(w, http.StatusBadRequest, msg)
	default:
		http.Redirect(w, r, target, http.StatusFound)
	}
}

func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64(sum[:])
}

func (k *Keycloak) codeGrantLocked(form url.Values, c *client, now time.Time) (grant, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return grant{}, oerr(http.StatusBadRequest, "invalid_request", "Missing parameter: code")
	}
	ac, ok := k.codes[code]
	delete(k.codes, code) // one use only
	if !ok || now.After(ac.expires) {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Code not valid")
	}
	if ac.clientID != c.ID {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Auth error")
	}
	if form.Get("redirect_uri") != ac.redirect {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Incorrect redirect_uri")
	}
	if ac.challenge != "" {
		v := form.Get("code_verifier")
		if v == "" {
			return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "PKCE code verifier not specified")
		}
		if ac.method == "S256" && pkceS256(v) != ac.challenge || ac.method == "plain" && v != ac.challenge {
			return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "PKCE verification failed: Code mismatch")
		}
	}
	s := k.liveSessionLocked(ac.sid, now)
	if s == nil {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Session not active")
	}
	u, ok := k.users[s.userID]
	if !ok {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "User not found")
	}
	return grant{u: u, c: c, s: s, kind: "ac", openid: ac.openid, nonce: ac.nonce}, nil
}

// LoginPKCE logs username in to the "mobile" client as a Capacitor app
// does: an authorization request with PKCE (S256) and a nonce, the login
// form, the redirect to com.example.app:/callback and the code exchange.
// The tokens carry auth_time; the ID token carries the nonce. It runs in
// process; the endpoints serve the same flow to an HTTP client.
func (k *Keycloak) LoginPKCE(t testing.TB, username, password string) Tokens {
	t.Helper()
	verifier := randomHex(32)
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	id, e := k.authorizeLocked(url.Values{
		"client_id": {MobileClientID}, "redirect_uri": {MobileRedirectURL}, "response_type": {"code"},
		"scope": {"openid"}, "state": {randomHex(8)}, "nonce": {randomHex(8)},
		"code_challenge": {pkceS256(verifier)}, "code_challenge_method": {"S256"},
	}, now)
	if e != nil {
		t.Fatalf("fake: authorization request: %s%s %s", e.page, e.code, e.desc)
	}
	target, msg := k.loginLocked(id, username, password, now)
	if msg != "" {
		t.Fatalf("fake: login of %q: %s", username, msg)
	}
	cb, _ := url.Parse(target)
	_, tk, oe := k.tokenLocked(url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {MobileRedirectURL}, "code_verifier": {verifier},
	}, creds{id: MobileClientID}, "127.0.0.1", "")
	if oe != nil {
		t.Fatalf("fake: code exchange: %v", oe)
	}
	return tk
}
