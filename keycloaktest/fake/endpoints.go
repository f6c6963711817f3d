package fake

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
)

// oauthError is an RFC 6749 error answer.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.desc) }

func oerr(status int, code, desc string) *oauthError {
	return &oauthError{status: status, code: code, desc: desc}
}

func (k *Keycloak) handler() http.Handler {
	mux := http.NewServeMux()
	realm := "/realms/" + k.Realm
	oc := realm + "/protocol/openid-connect/"
	mux.HandleFunc(realm+"/.well-known/openid-configuration", only(http.MethodGet, k.serveDiscovery))
	mux.HandleFunc(oc+"certs", only(http.MethodGet, k.serveCerts))
	mux.HandleFunc(oc+"token", only(http.MethodPost, k.serveToken))
	mux.HandleFunc(oc+"token/introspect", only(http.MethodPost, k.serveIntrospect))
	mux.HandleFunc(oc+"revoke", only(http.MethodPost, k.serveRevoke))
	mux.HandleFunc(oc+"userinfo", k.serveUserinfo)
	mux.HandleFunc(oc+"logout", only(http.MethodPost, k.serveLogout))
	mux.HandleFunc(oc+"auth", only(http.MethodGet, k.serveAuth))
	mux.HandleFunc(realm+"/login-actions/authenticate", only(http.MethodPost, k.serveLogin))
	return mux
}

func only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "HTTP 405 Method Not Allowed"})
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *oauthError) {
	writeJSON(w, e.status, newObject().set("error", e.code).set("error_description", e.desc))
}

// readForm parses a form body as Keycloak does: a repeated parameter is an
// error.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "invalid form")
	}
	for _, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, oerr(http.StatusBadRequest, "invalid_request", "duplicated parameter")
		}
	}
	return r.PostForm, nil
}

// locked parses a form request and runs f under the realm's lock. It
// writes f's error and reports whether f succeeded.
func (k *Keycloak) locked(w http.ResponseWriter, r *http.Request, f func(url.Values, creds) *oauthError) bool {
	form, e := readForm(w, r)
	if e == nil {
		k.mu.Lock()
		e = f(form, credsOf(r, form))
		k.mu.Unlock()
	}
	if e != nil {
		writeError(w, e)
		return false
	}
	return true
}

// creds are the client credentials of a request: HTTP Basic
// (client_secret_basic, form-encoded as RFC 6749 §2.3.1 asks) or form
// parameters (client_secret_post).
type creds struct{ id, secret string }

func credsOf(r *http.Request, form url.Values) creds {
	if id, secret, ok := r.BasicAuth(); ok {
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
		return creds{id, secret}
	}
	return creds{form.Get("client_id"), form.Get("client_secret")}
}

// errBadSecret is a known confidential client with a wrong or missing
// secret; Keycloak words it differently per endpoint.
var errBadSecret = errors.New("bad secret")

var errNoClient = oerr(http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")

// authenticateLocked finds the calling client. Public clients are known by
// their id alone.
func (k *Keycloak) authenticateLocked(c creds) (*client, error) {
	cl, ok := k.clients[c.id]
	if c.id == "" || !ok {
		return nil, errNoClient
	}
	if cl.Secret != "" && subtle.ConstantTimeCompare([]byte(cl.Secret), []byte(c.secret)) != 1 {
		return nil, errBadSecret
	}
	return cl, nil
}

// clientLocked authenticates the caller of the token, revocation and logout
// endpoints.
func (k *Keycloak) clientLocked(c creds) (*client, *oauthError) {
	cl, err := k.authenticateLocked(c)
	if errors.Is(err, errBadSecret) {
		return nil, oerr(http.StatusUnauthorized, "unauthorized_client", "Invalid client or Invalid client credentials")
	}
	if err != nil {
		return nil, err.(*oauthError)
	}
	return cl, nil
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (k *Keycloak) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := k.IssuerURL()
	ep := func(name string) string { return iss + "/protocol/openid-connect/" + name }
	auth := []string{"client_secret_basic", "client_secret_post"}
	d := newObject().
		set("issuer", iss).
		set("authorization_endpoint", ep("auth")).
		set("token_endpoint", ep("token")).
		set("introspection_endpoint", ep("token/introspect")).
		set("userinfo_endpoint", ep("userinfo")).
		set("end_session_endpoint", ep("logout")).
		set("frontchannel_logout_session_supported", true).
		set("frontchannel_logout_supported", true).
		set("jwks_uri", ep("certs")).
		set("grant_types_supported", []string{"authorization_code", "client_credentials", "password", "refresh_token"}).
		set("acr_values_supported", []string{"0", "1"}).
		set("response_types_supported", []string{"code"}).
		set("subject_types_supported", []string{"public", "pairwise"}).
		set("prompt_values_supported", []string{"none", "login", "consent"}).
		set("id_token_signing_alg_values_supported", []string{"RS256"}).
		set("userinfo_signing_alg_values_supported", []string{"RS256", "none"}).
		set("response_modes_supported", []string{"query"}).
		set("token_endpoint_auth_methods_supported", auth).
		set("token_endpoint_auth_signing_alg_values_supported", []string{"RS256"}).
		set("introspection_endpoint_auth_methods_supported", auth).
		set("introspection_endpoint_auth_signing_alg_values_supported", []string{"RS256"}).
		set("claims_supported", []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "name", "given_name",
			"family_name", "preferred_username", "email", "acr", "azp", "nonce"}).
		set("claim_types_supported", []string{"normal"}).
		set("claims_parameter_supported", true).
		set("scopes_supported", []string{"openid", "profile", "address", "organization", "web-origins",
			"microprofile-jwt", "basic", "offline_access", "phone", "email", "roles", "service_account", "acr"}).
		set("code_challenge_methods_supported", []string{"plain", "S256"}).
		set("revocation_endpoint", ep("revoke")).
		set("revocation_endpoint_auth_methods_supported", auth).
		set("revocation_endpoint_auth_signing_alg_values_supported", []string{"RS256"}).
		set("backchannel_logout_supported", true).
		set("backchannel_logout_session_supported", true).
		set("authorization_response_iss_parameter_supported", true).
		set("dpop_signing_alg_values_supported", dpopAlgs)
	writeJSON(w, http.StatusOK, d)
}

func (k *Keycloak) serveCerts(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	b, err := k.jwksLocked()
	k.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// checkLocked verifies a token's signature, issuer and expiry.
func (k *Keycloak) checkLocked(token string, now time.Time) (*jws, error) {
	j, err := k.verifyLocked(token)
	if err != nil {
		return nil, err
	}
	if j.claims.str("iss") != k.IssuerURL() {
		return nil, errors.New("wrong issuer")
	}
	if exp, ok := j.claims.num("exp"); !ok || exp <= now.Unix() {
		return nil, errors.New("expired")
	}
	return j, nil
}

// staleLocked applies the not-before rule: a token issued before the
// realm's, its client's or its user's not-before is no longer valid.
func (k *Keycloak) staleLocked(j *jws) bool {
	iat, _ := j.claims.num("iat")
	nb := k.notBefore
	if c, ok := k.clients[j.claims.str("azp")]; ok {
		nb = max(nb, c.notBefore)
	}
	if u, ok := k.users[j.claims.str("sub")]; ok {
		nb = max(nb, u.notBefore)
	}
	return iat < nb
}

func audienceOf(j *jws) []string {
	switch v, _ := j.claims.get("aud"); a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}

// sessionHasLocked reports whether the token's session is alive and has a
// client session for clientID. Tokens without sid have no session.
func (k *Keycloak) sessionHasLocked(j *jws, clientID string, now time.Time) bool {
	sid := j.claims.str("sid")
	if sid == "" {
		return true
	}
	s := k.liveSessionLocked(sid, now)
	return s != nil && s.clients[clientID]
}

// accessActiveLocked is Keycloak's introspection check of an access token
// for caller.
func (k *Keycloak) accessActiveLocked(j *jws, caller string, now time.Time) bool {
	typ, azp := j.claims.str("typ"), j.claims.str("azp")
	if typ != "Bearer" && typ != "DPoP" {
		return false
	}
	if _, ok := k.clients[azp]; !ok {
		return false
	}
	if _, ok := k.users[j.claims.str("sub")]; !ok || k.staleLocked(j) {
		return false
	}
	if exp, revoked := k.revoked[j.claims.str("jti")]; revoked && exp >= now.Unix() {
		return false
	}
	// 26.6.2+: the introspecting client must be an audience of the token.
	return k.sessionHasLocked(j, azp, now) && slices.Contains(audienceOf(j), caller)
}

func inactive() *object { return newObject().set("active", false) }

func (k *Keycloak) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	var resp *object
	if k.locked(w, r, func(form url.Values, c creds) (e *oauthError) { resp, e = k.introspectLocked(form, c); return e }) {
		w.Header().Set("Cache-Control", "no-cache")
		writeJSON(w, http.StatusOK, resp)
	}
}

func (k *Keycloak) introspectLocked(form url.Values, cr creds) (*object, *oauthError) {
	c, err := k.authenticateLocked(cr)
	if errors.Is(err, errBadSecret) {
		return nil, oerr(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
	}
	if err != nil {
		return nil, err.(*oauthError)
	}
	if c.Secret == "" {
		return nil, oerr(http.StatusForbidden, "invalid_request", "Client not allowed.")
	}
	if _, ok := form["token"]; !ok {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Token not provided.")
	}
	hint := form.Get("token_type_hint")
	switch hint {
	case "", "access_token", "refresh_token", "requesting_party_token":
	default:
		return nil, oerr(http.StatusBadRequest, "invalid_request", "Unsupported token type.")
	}
	now := k.now()
	j, err := k.checkLocked(form.Get("token"), now)
	if err != nil {
		return inactive(), nil
	}
	if hint == "refresh_token" {
		return k.introspectRefreshLocked(j, c, now), nil
	}
	if !k.accessActiveLocked(j, c.ID, now) {
		return inactive(), nil
	}
	if hint == "requesting_party_token" {
		o := newObject()
		for _, n := range []string{"exp", "iat", "jti", "aud", "typ", "acr"} {
			if v, ok := j.claims.get(n); ok {
				o.set(n, v)
			}
		}
		return o.set("active", true), nil
	}
	o := j.claims.clone()
	o.set("client_id", j.claims.str("azp"))
	o.setIf("username", j.claims.str("preferred_username"))
	return o.set("token_type", j.claims.str("typ")).set("active", true), nil
}

// introspectRefreshLocked answers for a refresh token: only its own client
// may ask, and the answer carries the user's current roles and profile.
func (k *Keycloak) introspectRefreshLocked(j *jws, c *client, now time.Time) *object {
	typ := j.claims.str("typ")
	u, ok := k.users[j.claims.str("sub")]
	if typ != "Refresh" || j.claims.str("azp") != c.ID || !ok || k.staleLocked(j) || !k.sessionHasLocked(j, c.ID, now) {
		return inactive()
	}
	o := newObject()
	for _, n := range j.claims.names {
		switch n {
		case "scope", "aud_x", "prov":
		default:
			o.set(n, j.claims.vals[n])
		}
	}
	o.set("acr", "1")
	o.setIf("realm_access", u.realmAccess())
	o.setIf("resource_access", u.resourceAccess())
	o.set("scope", j.claims.str("scope"))
	u.profile(o)
	return o.set("client_id", c.ID).set("username", u.Username).set("token_type", typ).set("active", true)
}

func (k *Keycloak) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if k.locked(w, r, k.revokeLocked) {
		w.WriteHeader(http.StatusOK)
	}
}

// revokeLocked is RFC 7009 as Keycloak implements it. A refresh token ends
// the client's session (and the user session when no client is left); an
// access token blocks its jti only. Nobody is notified.
func (k *Keycloak) revokeLocked(form url.Values, cr creds) *oauthError {
	c, e := k.clientLocked(cr)
	if e != nil {
		return e
	}
	if _, ok := form["token"]; !ok {
		return oerr(http.StatusBadRequest, "invalid_request", "Token not provided")
	}
	invalid := oerr(http.StatusOK, "invalid_token", "Invalid token")
	now := k.now()
	j, err := k.checkLocked(form.Get("token"), now)
	if err != nil {
		return invalid
	}
	typ := j.claims.str("typ")
	switch typ {
	case "Refresh", "Offline", "Bearer", "DPoP":
	default:
		return oerr(http.StatusBadRequest, "unsupported_token_type", "Unsupported token type")
	}
	if j.claims.str("azp") != c.ID {
		return oerr(http.StatusBadRequest, "invalid_request", "Unmatching clients")
	}
	sid := j.claims.str("sid")
	if typ == "Refresh" || typ == "Offline" {
		s := k.liveSessionLocked(sid, now)
		if s == nil || !s.clients[c.ID] || k.staleLocked(j) {
			return invalid
		}
		delete(s.clients, c.ID)
		if len(s.clients) == 0 {
			delete(k.sessions, s.id)
		}
		return nil
	}
	if sid != "" && k.liveSessionLocked(sid, now) == nil {
		return invalid
	}
	exp, _ := j.claims.num("exp")
	k.revoked[j.claims.str("jti")] = exp
	for id, e := range k.revoked {
		if e < now.Unix() {
			delete(k.revoked, id)
		}
	}
	return nil
}

func (k *Keycloak) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	var resp *object
	jkt, pe := k.proofOf(r)
	if k.locked(w, r, func(form url.Values, c creds) (e *oauthError) {
		if pe != nil {
			return pe
		}
		resp, _, e = k.tokenLocked(form, c, remoteHost(r), jkt)
		return e
	}) {
		writeJSON(w, http.StatusOK, resp)
	}
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }

// tokenLocked serves a token request; jkt is the thumbprint of the key of
// the request's DPoP proof, "" without one.
func (k *Keycloak) tokenLocked(form url.Values, cr creds, addr, jkt string) (*object, Tokens, *oauthError) {
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, Tokens{}, oerr(http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type")
	}
	c, e := k.clientLocked(cr)
	if e != nil {
		return nil, Tokens{}, e
	}
	if c.DPoP && jkt == "" {
		return nil, Tokens{}, errNoProof
	}
	now := k.now()
	var g grant
	switch gt {
	case "password":
		u := k.userByNameLocked(form.Get("username"))
		if u == nil || u.serviceAccount || subtle.ConstantTimeCompare([]byte(u.Password), []byte(form.Get("password"))) != 1 {
			return nil, Tokens{}, oerr(http.StatusBadRequest, "invalid_grant", "Invalid user credentials")
		}
		g = grant{u: u, c: c, s: k.newSessionLocked(u, now), kind: "ro", openid: hasScope(form.Get("scope"), "openid")}
	case "refresh_token":
		var e *oauthError
		if g, e = k.refreshGrantLocked(form.Get("refresh_token"), c, now, jkt); e != nil {
			return nil, Tokens{}, e
		}
	case "client_credentials":
		if c.Secret == "" {
			return nil, Tokens{}, oerr(http.StatusUnauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
		}
		u := k.serviceAccountLocked(c.ID)
		if !c.ServiceAccount || u == nil {
			return nil, Tokens{}, oerr(http.StatusUnauthorized, "unauthorized_client", "Client not enabled to retrieve service account")
		}
		g = grant{u: u, c: c, kind: "cc", addr: addr}
	case "authorization_code":
		var e *oauthError
		if g, e = k.codeGrantLocked(form, c, now); e != nil {
			return nil, Tokens{}, e
		}
	default:
		return nil, Tokens{}, oerr(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type")
	}
	g.jkt = jkt
	resp, tk, err := k.issueLocked(g)
	if err != nil {
		return nil, Tokens{}, oerr(http.StatusInternalServerError, "server_error", err.Error())
	}
	return resp, tk, nil
}

func (k *Keycloak) refreshGrantLocked(token string, c *client, now time.Time, jkt string) (grant, *oauthError) {
	if token == "" {
		return grant{}, oerr(http.StatusBadRequest, "invalid_request", "No refresh token")
	}
	j, err := k.checkLocked(token, now)
	if err != nil || j.claims.str("typ") != "Refresh" {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
	}
	if j.claims.str("azp") != c.ID {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
	}
	if e := checkRefreshProof(j, jkt, errNoProof); e != nil {
		return grant{}, e
	}
	if k.staleLocked(j) {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Stale token")
	}
	s := k.liveSessionLocked(j.claims.str("sid"), now)
	if s == nil {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Session not active")
	}
	if !s.clients[c.ID] {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "Session doesn't have required client")
	}
	u, ok := k.users[s.userID]
	if !ok {
		return grant{}, oerr(http.StatusBadRequest, "invalid_grant", "User not found")
	}
	return grant{u: u, c: c, s: s, kind: "rt", openid: hasScope(j.claims.str("scope"), "openid")}, nil
}

func (k *Keycloak) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "HTTP 405 Method Not Allowed"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	withProof := false
	if !ok {
		token, withProof = strings.CutPrefix(auth, "DPoP ")
		ok = withProof
	}
	if !ok && r.Method == http.MethodPost {
		if form, e := readForm(w, r); e == nil {
			token = form.Get("access_token")
		}
	}
	challenge := `Bearer realm="` + k.Realm + `"`
	if token == "" {
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	j, err := k.checkLocked(token, now)
	var u *user
	if err == nil {
		u = k.users[j.claims.str("sub")]
	}
	if err == nil && (withProof || boundTo(j) != "") {
		// A bound token only with "DPoP" and a proof by its key; Keycloak
		// then answers with a DPoP challenge.
		bound := boundTo(j)
		if withProof {
			challenge = `DPoP algs="` + strings.Join(dpopAlgs, " ") + `", realm="` + k.Realm + `"`
		}
		if !withProof || bound == "" {
			err = errors.New("binding")
		} else if _, perr := k.proofs.Verify(r.Context(), r, token, bound); perr != nil {
			err = perr
		}
	}
	if err != nil || u == nil || !k.userinfoActiveLocked(j, now) {
		w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token", error_description="Token verification failed"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !hasScope(j.claims.str("scope"), "openid") {
		w.Header().Set("WWW-Authenticate", challenge+`, error="insufficient_scope", error_description="Missing openid scope"`)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	o := newObject().set("sub", u.ID)
	u.profile(o)
	writeJSON(w, http.StatusOK, o)
}

// userinfoActiveLocked checks an access token for the userinfo endpoint:
// like introspection, without the audience rule.
func (k *Keycloak) userinfoActiveLocked(j *jws, now time.Time) bool {
	typ := j.claims.str("typ")
	if typ != "Bearer" && typ != "DPoP" || k.staleLocked(j) {
		return false
	}
	if exp, revoked := k.revoked[j.claims.str("jti")]; revoked && exp >= now.Unix() {
		return false
	}
	return k.sessionHasLocked(j, j.claims.str("azp"), now)
}

// serveLogout is the logout a client asks for with its refresh token: the
// user session ends and every client of it with a back-channel logout URL
// (the caller too) gets a logout token. The browser logout (GET with
// id_token_hint, confirmation page) is not implemented.
func (k *Keycloak) serveLogout(w http.ResponseWriter, r *http.Request) {
	var ds []delivery
	jkt, pe := k.proofOf(r)
	if k.locked(w, r, func(form url.Values, c creds) (e *oauthError) {
		if pe != nil {
			return pe
		}
		ds, e = k.logoutLocked(form, c, jkt)
		return e
	}) {
		k.deliver(nil, ds)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (k *Keycloak) logoutLocked(form url.Values, cr creds, jkt string) ([]delivery, *oauthError) {
	c, e := k.clientLocked(cr)
	if e != nil {
		return nil, e
	}
	token := form.Get("refresh_token")
	if token == "" {
		return nil, oerr(http.StatusBadRequest, "invalid_request", "the fake serves only the logout with refresh_token")
	}
	now := k.now()
	j, err := k.checkLocked(token, now)
	if err != nil || j.claims.str("typ") != "Refresh" {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
	}
	if j.claims.str("azp") != c.ID {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
	}
	if e := checkRefreshProof(j, jkt, oerr(http.StatusBadRequest, "invalid_grant", "DPoP proof is missing")); e != nil {
		return nil, e
	}
	s := k.liveSessionLocked(j.claims.str("sid"), now)
	if s == nil {
		return nil, oerr(http.StatusBadRequest, "invalid_grant", "Session not active")
	}
	return k.endSessionLocked(s, now), nil
}

// PasswordToken gets tokens with the resource-owner password grant (scope
// openid). clientSecret is empty for a public client such as "mobile".
func (k *Keycloak) PasswordToken(t testing.TB, clientID, clientSecret, username, password string) Tokens {
	t.Helper()
	return k.grantHelper(t, url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {"openid"}},
		creds{clientID, clientSecret}, "")
}

// ClientCredentialsToken gets a service-account token for a confidential
// client.
func (k *Keycloak) ClientCredentialsToken(t testing.TB, clientID, clientSecret string) Tokens {
	t.Helper()
	return k.grantHelper(t, url.Values{"grant_type": {"client_credentials"}}, creds{clientID, clientSecret}, "")
}

// Refresh uses a refresh token.
func (k *Keycloak) Refresh(t testing.TB, clientID, clientSecret, refreshToken string) Tokens {
	t.Helper()
	return k.grantHelper(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, creds{clientID, clientSecret}, "")
}

// PasswordTokenDPoP is PasswordToken for tokens bound to key, as if the
// request carried a DPoP proof by it: token_type "DPoP", access token typ
// "DPoP", cnf.jkt the key's thumbprint (with Keycloak's kc-jkt-type).
func (k *Keycloak) PasswordTokenDPoP(t testing.TB, key *dpop.Key, clientID, clientSecret, username, password string) Tokens {
	t.Helper()
	return k.grantHelper(t, url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {"openid"}},
		creds{clientID, clientSecret}, key.Thumbprint())
}

// RefreshDPoP refreshes tokens bound to key, as if with a proof by it.
func (k *Keycloak) RefreshDPoP(t testing.TB, key *dpop.Key, clientID, clientSecret, refreshToken string) Tokens {
	t.Helper()
	return k.grantHelper(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, creds{clientID, clientSecret},
		key.Thumbprint())
}

func (k *Keycloak) grantHelper(t testing.TB, form url.Values, cr creds, jkt string) Tokens {
	t.Helper()
	k.mu.Lock()
	_, tk, e := k.tokenLocked(form, cr, "127.0.0.1", jkt)
	k.mu.Unlock()
	if e != nil {
		t.Fatalf("fake: %s grant for client %q: %v", form.Get("grant_type"), cr.id, e)
	}
	return tk
}
