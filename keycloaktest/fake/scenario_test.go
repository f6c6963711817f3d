package fake_test

// The scenario below runs against the fake and against the real Keycloak
// (keycloaktest) and records what each answers, reduced to what must not
// differ: statuses, error codes and texts, member names, claim values that
// carry meaning (typ, azp, aud, roles, jti prefixes, lifetimes). Ids, times
// and keys legitimately differ and are left out or compared to each other
// within one run (sid of the answer == sid of the session, kid == the
// key's thumbprint). TestScenarioFake checks the fake alone against the
// expectations written here; TestScenarioSameAsKeycloak also runs the real
// Keycloak and requires the two records to be equal line by line.

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"
	"github.com/go-jose/go-jose/v4"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// clientCopy describes a per-test copy of a realm client.
type clientCopy struct {
	backchannelURL   string
	noSession        bool // backchannel.logout.session.required=false
	revokeOffline    bool // backchannel.logout.revoke.offline.tokens=true
	adminURL         string
	noAudienceMapper bool
}

// target is one Keycloak, fake or real, and the admin actions the scenario
// needs from it.
type target struct {
	name          string
	issuer        string
	http          *http.Client
	createUser    func(t *testing.T) (id, username, password string)
	copyClient    func(t *testing.T, from string, c clientCopy) string
	logoutUser    func(t *testing.T, username string)
	deleteSession func(t *testing.T, sid string)
	clientNBNow   func(t *testing.T, clientID string) int64
	pushClient    func(t *testing.T, clientID string) (ok, failed []string)
	loginPKCE     func(t *testing.T, username, password string) (access, id string)
}

// realmTarget adds the realm-wide actions, run in a realm of their own.
type realmTarget struct {
	*target
	logoutAll  func(t *testing.T) (ok, failed []string)
	rotateKeys func(t *testing.T) string
	setPassive func(t *testing.T, kid string)
	removeKey  func(t *testing.T, kid string)
}

func fakeTarget(t *testing.T, k *fake.Keycloak) *target {
	return &target{
		name: "fake", issuer: k.IssuerURL(), http: k.HTTPClient,
		createUser: func(t *testing.T) (string, string, string) {
			id, u := k.CreateUser(t, fake.User{})
			return id, u.Username, u.Password
		},
		copyClient: func(t *testing.T, from string, cc clientCopy) string {
			return k.CloneClient(t, from, func(c *fake.Client) {
				c.BackchannelLogoutURL = cc.backchannelURL
				c.BackchannelLogoutNoSession = cc.noSession
				c.BackchannelLogoutRevokeOffline = cc.revokeOffline
				c.AdminURL = cc.adminURL
				c.ServiceAccount = false
				if cc.noAudienceMapper {
					c.Audience = nil
				}
			})
		},
		logoutUser:    func(t *testing.T, u string) { k.LogoutUser(t, u) },
		deleteSession: func(t *testing.T, sid string) { k.DeleteSession(t, sid) },
		clientNBNow:   func(t *testing.T, id string) int64 { return k.SetClientNotBeforeNow(t, id) },
		pushClient: func(t *testing.T, id string) ([]string, []string) {
			r := k.PushClientRevocation(t, id)
			return r.SuccessRequests, r.FailedRequests
		},
		loginPKCE: func(t *testing.T, user, pass string) (string, string) {
			// keycloaktest's browser login, which reads Keycloak's login
			// page, run against the fake's pages over HTTP.
			kc := &keycloaktest.Keycloak{BaseURL: k.BaseURL, Realm: k.Realm, HTTPClient: k.HTTPClient}
			tk := kc.LoginPKCE(t, user, pass)
			return tk.AccessToken, tk.IDToken
		},
	}
}

func realTarget(t *testing.T, kc *keycloaktest.Keycloak) *target {
	return &target{
		name: "keycloak", issuer: kc.IssuerURL(), http: kc.HTTPClient,
		createUser: func(t *testing.T) (string, string, string) {
			id, u := kc.CreateUser(t, keycloaktest.User{})
			return id, u.Username, u.Password
		},
		copyClient: func(t *testing.T, from string, cc clientCopy) string {
			return kc.CloneClient(t, from, func(c *gocloak.Client) {
				attrs := map[string]string{}
				if c.Attributes != nil {
					attrs = *c.Attributes
				}
				attrs["backchannel.logout.url"] = cc.backchannelURL
				attrs["backchannel.logout.session.required"] = fmt.Sprint(!cc.noSession)
				attrs["backchannel.logout.revoke.offline.tokens"] = fmt.Sprint(cc.revokeOffline)
				c.Attributes = &attrs
				c.AdminURL = gocloak.StringP(cc.adminURL)
				c.ServiceAccountsEnabled = gocloak.BoolP(false)
				if cc.noAudienceMapper {
					c.ProtocolMappers = nil
				}
			})
		},
		logoutUser:    func(t *testing.T, u string) { kc.LogoutUser(t, u) },
		deleteSession: func(t *testing.T, sid string) { kc.DeleteSession(t, sid) },
		clientNBNow:   func(t *testing.T, id string) int64 { return kc.SetClientNotBeforeNow(t, id) },
		pushClient: func(t *testing.T, id string) ([]string, []string) {
			r := kc.PushClientRevocation(t, id)
			return r.SuccessRequests, r.FailedRequests
		},
		loginPKCE: func(t *testing.T, user, pass string) (string, string) {
			tk := kc.LoginPKCE(t, user, pass)
			return tk.AccessToken, tk.IDToken
		},
	}
}

// record is what one target answered, step by step.
type record struct {
	t     *testing.T
	name  string
	lines []string
}

// add records an answer that must be equal on both targets.
func (r *record) add(step string, v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.lines = append(r.lines, step+" = "+string(b))
}

// check records an answer and requires it to be want.
func (r *record) check(step string, got, want any) {
	r.t.Helper()
	r.add(step, got)
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		r.t.Errorf("%s: %s\n got  %s\n want %s", r.name, step, g, w)
	}
}

// reply is an HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("HTTP %d, not JSON: %.300s", r.Status, r.Body)
	}
	return m
}

// oauthErr reduces an error answer to status, error and description.
func (r reply) oauthErr(t *testing.T) []any {
	t.Helper()
	m := r.json(t)
	return []any{r.Status, m["error"], m["error_description"]}
}

func (tg *target) do(t *testing.T, method, u string, form url.Values, user, pass string, hdr map[string]string) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := *tg.http
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (tg *target) post(t *testing.T, endpoint string, form url.Values, user, pass string) reply {
	t.Helper()
	return tg.do(t, http.MethodPost, tg.issuer+"/protocol/openid-connect/"+endpoint, form, user, pass, nil)
}

// grant posts to the token endpoint and requires success.
func (tg *target) grant(t *testing.T, form url.Values, user, pass string) map[string]any {
	t.Helper()
	r := tg.post(t, "token", form, user, pass)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: token: HTTP %d %s", tg.name, r.Status, r.Body)
	}
	return r.json(t)
}

func (tg *target) password(t *testing.T, client, secret, user, pass string) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	if secret == "" {
		form.Set("client_id", client)
		return tg.grant(t, form, "", "")
	}
	return tg.grant(t, form, client, secret)
}

func (tg *target) introspect(t *testing.T, token, hint string) reply {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return tg.post(t, "token/introspect", form, fake.BackendClientID, fake.BackendClientSecret)
}

func (tg *target) active(t *testing.T, token string) any {
	t.Helper()
	return tg.introspect(t, token, "").json(t)["active"]
}

// revokePublic revokes as a public client (client_id only).
func (tg *target) revokePublic(t *testing.T, client, token string) reply {
	t.Helper()
	return tg.post(t, "revoke", url.Values{"token": {token}, "client_id": {client}}, "", "")
}

func str(v any) string { s, _ := v.(string); return s }

// jose splits a compact JWS into its header text and claims.
func parts(t *testing.T, token string) (string, map[string]any) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("not a compact JWS: %.40s", token)
	}
	h, err := base64.RawURLEncoding.DecodeString(p[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return string(h), c
}

var kidValue = regexp.MustCompile(`"kid" : "[^"]*"`)

// headerShape is the JWS header text with the kid value blanked.
func headerShape(h string) string { return kidValue.ReplaceAllString(h, `"kid" : "…"`) }

func keys(m map[string]any) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

func audOf(v any) []string {
	var out []string
	switch a := v.(type) {
	case string:
		out = []string{a}
	case []any:
		for _, x := range a {
			out = append(out, str(x))
		}
	}
	slices.Sort(out)
	return out
}

var (
	uuidLike   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sidLike    = regexp.MustCompile(`^[A-Za-z0-9_-]{24}$`)
	actionID   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]{13}$`)
	jtiPattern = regexp.MustCompile(`^([a-z]{6}):([0-9a-f-]{36})$`)
)

// jtiShape is "<prefix>:uuid" or "uuid".
func jtiShape(v any) string {
	s := str(v)
	if m := jtiPattern.FindStringSubmatch(s); m != nil && uuidLike.MatchString(m[2]) {
		return m[1] + ":uuid"
	}
	if uuidLike.MatchString(s) {
		return "uuid"
	}
	return "other: " + s
}

// words returns a space-separated list as a sorted slice.
func words(v any) []string { return slices.Sorted(slices.Values(strings.Fields(str(v)))) }

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// nearly returns want when v (a JSON number or an int64) is want or one
// second less, else v: Keycloak derives refresh lifetimes from session
// times in milliseconds, so a second boundary between the session's start
// and the answer yields 1799 for 1800.
func nearly(v any, want int64) any {
	n, ok := v.(int64)
	if !ok {
		n = num(v)
	}
	if n == want || n == want-1 {
		return want
	}
	return v
}

func roles(m map[string]any, path ...string) []string {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	var out []string
	rs, _ := cur.([]any)
	for _, r := range rs {
		out = append(out, str(r))
	}
	slices.Sort(out)
	return out
}

// receiver records the POSTs Keycloak sends to an API.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  map[string][]received
	news chan struct{}
}

type received struct {
	Method, ContentType, Body string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string][]received{}, news: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], received{req.Method, req.Header.Get("Content-Type"), string(b)})
		r.mu.Unlock()
		select {
		case r.news <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[path])
}

// wait returns the n-th (1-based) POST to path. The bound only stops a
// broken run; Keycloak posts before its admin call returns.
func (r *receiver) wait(t *testing.T, path string, n int) received {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		if got := r.got[path]; len(got) >= n {
			r.mu.Unlock()
			return got[n-1]
		}
		r.mu.Unlock()
		select {
		case <-r.news:
		case <-deadline:
			t.Fatalf("nothing (or fewer than %d) POSTed to %s", n, path)
		}
	}
}

func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

// fetchJWKS returns the realm's JWKS, parsed by go-jose (which checks each
// key's x5c and x5t against it), and a description of each key.
func (tg *target) fetchJWKS(t *testing.T) (jose.JSONWebKeySet, []map[string]any) {
	t.Helper()
	r := tg.do(t, http.MethodGet, tg.issuer+"/protocol/openid-connect/certs", nil, "", "", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("%s: JWKS: %v", tg.name, err)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	var desc []map[string]any
	for i, k := range raw.Keys {
		der, err := x509.MarshalPKIXPublicKey(set.Keys[i].Key)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		desc = append(desc, map[string]any{
			"members": keys(k), "kty": k["kty"], "alg": k["alg"], "use": k["use"],
			"kid is the SPKI SHA-256": k["kid"] == base64.RawURLEncoding.EncodeToString(sum[:]),
		})
	}
	return set, desc
}

// verifies reports whether token verifies with the JWKS's key of its kid.
func verifies(t *testing.T, set jose.JSONWebKeySet, token string) bool {
	t.Helper()
	sig, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return false
	}
	ks := set.Key(sig.Signatures[0].Header.KeyID)
	if len(ks) != 1 {
		return false
	}
	_, err = sig.Verify(ks[0])
	return err == nil
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	var hdr struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("token header: %v", err)
	}
	return hdr.Kid
}

func sigKIDs(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		if k.Use == "sig" {
			out = append(out, k.KeyID)
		}
	}
	sort.Strings(out)
	return out
}

var inactive = `{"active":false}`

// scenario runs the shared-realm part against tg.
func scenario(t *testing.T, tg *target) []string {
	r := &record{t: t, name: tg.name}
	iss := tg.issuer

	// Discovery: the endpoints, at Keycloak's paths.
	disc := tg.do(t, http.MethodGet, iss+"/.well-known/openid-configuration", nil, "", "", nil).json(t)
	paths := map[string]string{}
	for _, f := range []string{"authorization_endpoint", "token_endpoint", "introspection_endpoint", "userinfo_endpoint",
		"end_session_endpoint", "jwks_uri", "revocation_endpoint"} {
		paths[f] = strings.TrimPrefix(str(disc[f]), iss)
	}
	r.check("discovery endpoints", paths, map[string]string{
		"authorization_endpoint": "/protocol/openid-connect/auth", "token_endpoint": "/protocol/openid-connect/token",
		"introspection_endpoint": "/protocol/openid-connect/token/introspect", "userinfo_endpoint": "/protocol/openid-connect/userinfo",
		"end_session_endpoint": "/protocol/openid-connect/logout", "jwks_uri": "/protocol/openid-connect/certs",
		"revocation_endpoint": "/protocol/openid-connect/revoke",
	})
	r.check("discovery issuer and logout support", []any{disc["issuer"] == iss, disc["backchannel_logout_supported"],
		disc["backchannel_logout_session_supported"], disc["code_challenge_methods_supported"]},
		[]any{true, true, true, []string{"plain", "S256"}})

	// JWKS: one RS256 signing key and the RSA-OAEP encryption key verifiers
	// must skip, each with x5c and thumbprints; kid = SPKI thumbprint.
	// Keycloak lists its keys in no fixed order: signing keys first here.
	set, jwks := tg.fetchJWKS(t)
	slices.SortStableFunc(jwks, func(a, b map[string]any) int { return strings.Compare(str(b["use"]), str(a["use"])) })
	members := []string{"alg", "e", "kid", "kty", "n", "use", "x5c", "x5t", "x5t#S256"}
	r.check("jwks", jwks, []map[string]any{
		{"members": members, "kty": "RSA", "alg": "RS256", "use": "sig", "kid is the SPKI SHA-256": true},
		{"members": members, "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "kid is the SPKI SHA-256": true},
	})

	// Password grant for the public client: the token response and the
	// three tokens.
	resp := tg.password(t, "mobile", "", "alice", "alice-password")
	r.check("password grant: response members", keys(resp), []string{"access_token", "expires_in", "id_token",
		"not-before-policy", "refresh_expires_in", "refresh_token", "scope", "session_state", "token_type"})
	// Keycloak writes scopes in no fixed order: they are compared as sets.
	r.check("password grant: values", []any{resp["token_type"], nearly(resp["expires_in"], 300), nearly(resp["refresh_expires_in"], 1800), words(resp["scope"])},
		[]any{"Bearer", 300, 1800, []string{"email", "openid", "profile"}})
	at, rt, it := str(resp["access_token"]), str(resp["refresh_token"]), str(resp["id_token"])
	ah, ac := parts(t, at)
	r.check("access token: header", headerShape(ah), `{"alg":"RS256","typ" : "JWT","kid" : "…"}`)
	r.check("access token: claims", keys(ac), []string{"acr", "allowed-origins", "aud", "azp", "email", "email_verified",
		"exp", "family_name", "given_name", "iat", "iss", "jti", "name", "preferred_username", "realm_access",
		"resource_access", "scope", "sid", "sub", "typ"})
	r.check("access token: values", map[string]any{
		"typ": ac["typ"], "azp": ac["azp"], "aud": audOf(ac["aud"]), "iss": ac["iss"] == iss,
		"realm roles": roles(ac, "realm_access", "roles"), "backend roles": roles(ac, "resource_access", "backend", "roles"),
		"scope": words(ac["scope"]), "jti": jtiShape(ac["jti"]), "lifetime": num(ac["exp"]) - num(ac["iat"]),
		"sid": sidLike.MatchString(str(ac["sid"])) && ac["sid"] == resp["session_state"], "sub": uuidLike.MatchString(str(ac["sub"])),
		"allowed-origins": ac["allowed-origins"], "verifies with the JWKS": verifies(t, set, at),
	}, map[string]any{
		"typ": "Bearer", "azp": "mobile", "aud": []string{"backend"}, "iss": true,
		"realm roles": []string{"user"}, "backend roles": []string{"reader"},
		"scope": []string{"email", "openid", "profile"}, "jti": "onrtro:uuid", "lifetime": 300, "sid": true, "sub": true,
		"allowed-origins": realmClient(t, "mobile").WebOrigins, "verifies with the JWKS": true,
	})
	rh, rc := parts(t, rt)
	r.check("refresh token: header", rh[:len(`{"alg":"HS512","typ" : "JWT"`)], `{"alg":"HS512","typ" : "JWT"`)
	r.check("refresh token: claims", keys(rc), []string{"aud", "aud_x", "azp", "exp", "iat", "iss", "jti", "prov",
		"scope", "sid", "sub", "typ"})
	r.check("refresh token: values", []any{rc["typ"], rc["azp"], rc["aud"] == iss, rc["sid"] == ac["sid"], rc["sub"] == ac["sub"],
		jtiShape(rc["jti"]), nearly(num(rc["exp"])-num(rc["iat"]), 1800), rc["aud_x"], words(rc["scope"]), rc["prov"]},
		[]any{"Refresh", "mobile", true, true, true, "uuid", 1800, "backend", []string{"acr", "basic", "email", "openid", "profile", "roles", "web-origins"}, "default"})
	ih, ic := parts(t, it)
	sum := sha256.Sum256([]byte(at))
	r.check("ID token: header", headerShape(ih), `{"alg":"RS256","typ" : "JWT","kid" : "…"}`)
	r.check("ID token: claims", keys(ic), []string{"acr", "at_hash", "aud", "azp", "email", "email_verified", "exp",
		"family_name", "given_name", "iat", "iss", "jti", "name", "preferred_username", "sid", "sub", "typ"})
	r.check("ID token: values", []any{ic["typ"], ic["aud"], ic["azp"], ic["sid"] == ac["sid"], jtiShape(ic["jti"]),
		ic["at_hash"] == base64.RawURLEncoding.EncodeToString(sum[:16])}, []any{"ID", "mobile", "mobile", true, "uuid", true})

	// Client credentials: a transient session, no sid, client_id.
	cc := tg.grant(t, url.Values{"grant_type": {"client_credentials"}}, "backend", "backend-secret")
	r.check("client credentials: response members", keys(cc), []string{"access_token", "expires_in", "not-before-policy",
		"refresh_expires_in", "scope", "token_type"})
	// client_id, clientHost and clientAddress come from the service_account
	// client scope, which Keycloak attaches when service accounts are
	// enabled through the admin API but not when the realm file is
	// imported: they are left out of the comparison.
	_, ccc := parts(t, str(cc["access_token"]))
	r.check("client credentials: claims", slices.DeleteFunc(keys(ccc), func(n string) bool {
		return n == "client_id" || n == "clientHost" || n == "clientAddress"
	}), []string{"acr", "azp", "email_verified", "exp", "iat", "iss", "jti", "preferred_username", "scope", "sub", "typ"})
	r.check("client credentials: values", []any{jtiShape(ccc["jti"]), ccc["azp"], ccc["preferred_username"], words(ccc["scope"]), ccc["sid"]},
		[]any{"trrtcc:uuid", "backend", "service-account-backend", []string{"email", "profile"}, nil})

	// Token endpoint errors.
	tokenErr := func(step string, form url.Values, user, pass string, want []any) {
		t.Helper()
		r.check("token error: "+step, tg.post(t, "token", form, user, pass).oauthErr(t), want)
	}
	pw := func(client, user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "client_id": {client}, "username": {user}, "password": {pass}}
	}
	tokenErr("wrong password", pw("mobile", "alice", "x"), "", "", []any{400, "invalid_grant", "Invalid user credentials"})
	tokenErr("unknown user", pw("mobile", "nobody", "x"), "", "", []any{400, "invalid_grant", "Invalid user credentials"})
	tokenErr("unknown client", pw("nosuch", "alice", "alice-password"), "", "", []any{401, "invalid_client", "Invalid client or Invalid client credentials"})
	tokenErr("wrong secret", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}, "backend", "wrong",
		[]any{401, "unauthorized_client", "Invalid client or Invalid client credentials"})
	tokenErr("unsupported grant", url.Values{"grant_type": {"foo"}, "client_id": {"mobile"}}, "", "", []any{400, "unsupported_grant_type", "Unsupported grant_type"})
	tokenErr("no grant_type", url.Values{"client_id": {"mobile"}}, "", "", []any{400, "invalid_request", "Missing form parameter: grant_type"})
	tokenErr("client credentials of a public client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"mobile"}}, "", "",
		[]any{401, "unauthorized_client", "Public client not allowed to retrieve service account"})
	tokenErr("garbage refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"mobile"}, "refresh_token": {"garbage"}}, "", "",
		[]any{400, "invalid_grant", "Invalid refresh token"})
	tokenErr("no refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"mobile"}}, "", "",
		[]any{400, "invalid_request", "No refresh token"})
	tokenErr("another client's refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "backend", "backend-secret",
		[]any{400, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match"})

	// Introspection.
	in := tg.introspect(t, at, "")
	im := in.json(t)
	r.check("introspection: active token", []any{in.Status, im["active"], im["client_id"], im["username"], im["token_type"],
		im["sid"] == ac["sid"]}, []any{200, true, "mobile", "alice", "Bearer", true})
	r.check("introspection: members are the claims and four more", keys(im),
		slices.Sorted(slices.Values(append(keys(ac), "active", "client_id", "token_type", "username"))))
	post := tg.post(t, "token/introspect", url.Values{"token": {at}, "client_id": {"backend"}, "client_secret": {"backend-secret"}}, "", "")
	r.check("introspection: client_secret_post", []any{post.Status, post.json(t)["active"]}, []any{200, true})
	r.check("introspection: requesting_party_token hint", keys(tg.introspect(t, at, "requesting_party_token").json(t)),
		[]string{"acr", "active", "aud", "exp", "iat", "jti", "typ"})
	introErr := func(step string, form url.Values, user, pass string, want []any) {
		t.Helper()
		r.check("introspection error: "+step, tg.post(t, "token/introspect", form, user, pass).oauthErr(t), want)
	}
	tok := url.Values{"token": {at}}
	introErr("no client authentication", tok, "", "", []any{401, "invalid_client", "Invalid client or Invalid client credentials"})
	introErr("wrong secret", tok, "backend", "wrong", []any{401, "invalid_client", "Client authentication failed."})
	introErr("unknown client", tok, "nosuch", "x", []any{401, "invalid_client", "Invalid client or Invalid client credentials"})
	introErr("public client", url.Values{"token": {at}, "client_id": {"mobile"}}, "", "", []any{403, "invalid_request", "Client not allowed."})
	introErr("public client with a secret", tok, "mobile", "x", []any{403, "invalid_request", "Client not allowed."})
	introErr("unknown hint", url.Values{"token": {at}, "token_type_hint": {"id_token"}}, "backend", "backend-secret",
		[]any{400, "invalid_request", "Unsupported token type."})
	introErr("no token", url.Values{"foo": {"bar"}}, "backend", "backend-secret", []any{400, "invalid_request", "Token not provided."})
	introErr("repeated token", url.Values{"token": {at, at}}, "backend", "backend-secret", []any{400, "invalid_request", "duplicated parameter"})
	body := func(rp reply) []any { return []any{rp.Status, string(rp.Body)} }
	r.check("introspection: garbage", body(tg.introspect(t, "garbage", "")), []any{200, inactive})
	r.check("introspection: ID token", body(tg.introspect(t, it, "")), []any{200, inactive})
	r.check("introspection: access token with the refresh_token hint", body(tg.introspect(t, at, "refresh_token")), []any{200, inactive})
	r.check("introspection: another client's refresh token", body(tg.introspect(t, rt, "refresh_token")), []any{200, inactive})
	own := tg.password(t, "backend", "backend-secret", "alice", "alice-password")
	ownRT := tg.introspect(t, str(own["refresh_token"]), "refresh_token")
	orm := ownRT.json(t)
	r.check("introspection: own refresh token", []any{ownRT.Status, orm["active"], orm["token_type"], orm["client_id"], keys(orm)},
		[]any{200, true, "Refresh", "backend", []string{"acr", "active", "aud", "azp", "client_id", "email", "email_verified", "exp",
			"family_name", "given_name", "iat", "iss", "jti", "name", "preferred_username", "realm_access", "resource_access",
			"scope", "sid", "sub", "token_type", "typ", "username"}})
	r.check("introspection: own refresh token without hint", body(tg.introspect(t, str(own["refresh_token"]), "")), []any{200, inactive})
	// 26.6.2+: the caller must be in aud. backend's own tokens have no aud.
	_, oc := parts(t, str(own["access_token"]))
	r.check("backend's own access token: aud", oc["aud"], nil)
	r.check("introspection: own access token, not in aud", body(tg.introspect(t, str(own["access_token"]), "")), []any{200, inactive})
	r.check("introspection: own service-account token", body(tg.introspect(t, str(cc["access_token"]), "")), []any{200, inactive})
	// A client without the audience mapper: backend gets into aud only
	// through the user's backend roles.
	bare := tg.copyClient(t, "mobile", clientCopy{noAudienceMapper: true})
	_, nobody, nobodyPW := tg.createUser(t)
	r.check("no audience mapper, user without backend roles", tg.active(t, str(tg.password(t, bare, "", nobody, nobodyPW)["access_token"])), false)
	bareAlice := str(tg.password(t, bare, "", "alice", "alice-password")["access_token"])
	_, bac := parts(t, bareAlice)
	r.check("no audience mapper, alice (backend roles)", []any{audOf(bac["aud"]), tg.active(t, bareAlice)}, []any{[]string{"backend"}, true})

	// Revocation errors.
	revErr := func(step string, rp reply, want []any) {
		t.Helper()
		r.check("revocation: "+step, rp.oauthErr(t), want)
	}
	revErr("unknown token", tg.revokePublic(t, "mobile", "garbage"), []any{200, "invalid_token", "Invalid token"})
	revErr("another client's token", tg.post(t, "revoke", url.Values{"token": {rt}}, "backend", "backend-secret"),
		[]any{400, "invalid_request", "Unmatching clients"})
	revErr("wrong secret", tg.post(t, "revoke", url.Values{"token": {rt}}, "backend", "wrong"),
		[]any{401, "unauthorized_client", "Invalid client or Invalid client credentials"})
	revErr("unknown client", tg.revokePublic(t, "nosuch", rt), []any{401, "invalid_client", "Invalid client or Invalid client credentials"})
	revErr("no client", tg.post(t, "revoke", url.Values{"token": {rt}}, "", ""), []any{401, "invalid_client", "Invalid client or Invalid client credentials"})
	revErr("ID token", tg.revokePublic(t, "mobile", it), []any{400, "unsupported_token_type", "Unsupported token type"})
	revErr("no token", tg.post(t, "revoke", url.Values{"client_id": {"mobile"}}, "", ""), []any{400, "invalid_request", "Token not provided"})
	revErr("repeated token", tg.post(t, "revoke", url.Values{"client_id": {"mobile"}, "token": {rt, rt}}, "", ""),
		[]any{400, "invalid_request", "duplicated parameter"})

	// Access-token revocation blocks that jti only.
	s := tg.password(t, "mobile", "", "alice", "alice-password")
	sAT, sRT := str(s["access_token"]), str(s["refresh_token"])
	r.check("revoke access token", body(tg.revokePublic(t, "mobile", sAT)), []any{200, ""})
	r.check("revoked access token introspection", body(tg.introspect(t, sAT, "")), []any{200, inactive})
	r.check("revoke access token again", body(tg.revokePublic(t, "mobile", sAT)), []any{200, ""})
	s2 := tg.grant(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"mobile"}, "refresh_token": {sRT}}, "", "")
	r.check("refresh: response members", keys(s2), keys(resp))
	_, s2c := parts(t, str(s2["access_token"]))
	r.check("refresh after access-token revocation", []any{jtiShape(s2c["jti"]), s2c["sid"] == s["session_state"],
		tg.active(t, str(s2["access_token"]))}, []any{"onrtrt:uuid", true, true})
	// Refresh-token revocation ends the client session: its access tokens
	// introspect inactive (they still verify locally until exp).
	s2RT := str(s2["refresh_token"])
	r.check("revoke refresh token", body(tg.revokePublic(t, "mobile", s2RT)), []any{200, ""})
	r.check("access token after refresh-token revocation", body(tg.introspect(t, str(s2["access_token"]), "")), []any{200, inactive})
	r.check("access token after refresh-token revocation still verifies", verifies(t, set, str(s2["access_token"])), true)
	r.check("refresh after refresh-token revocation", tg.post(t, "token",
		url.Values{"grant_type": {"refresh_token"}, "client_id": {"mobile"}, "refresh_token": {s2RT}}, "", "").oauthErr(t),
		[]any{400, "invalid_grant", "Session not active"})
	revErr("refresh token again", tg.revokePublic(t, "mobile", s2RT), []any{200, "invalid_token", "Invalid token"})
	revErr("access token of the ended session", tg.revokePublic(t, "mobile", str(s2["access_token"])), []any{200, "invalid_token", "Invalid token"})

	// Userinfo.
	ui := tg.do(t, http.MethodGet, iss+"/protocol/openid-connect/userinfo", nil, "", "", map[string]string{"Authorization": "Bearer " + at})
	r.check("userinfo", []any{ui.Status, keys(ui.json(t))}, []any{200, []string{"email", "email_verified", "family_name",
		"given_name", "name", "preferred_username", "sub"}})
	noOpenID := tg.grant(t, url.Values{"grant_type": {"password"}, "client_id": {"mobile"}, "username": {"alice"}, "password": {"alice-password"}}, "", "")
	r.check("password grant without openid", []any{words(noOpenID["scope"]), noOpenID["id_token"]}, []any{[]string{"email", "profile"}, nil})
	for _, c := range []struct{ step, token string }{{"without openid", str(noOpenID["access_token"])}, {"garbage", "garbage"}, {"no token", ""}} {
		h := map[string]string{}
		if c.token != "" {
			h["Authorization"] = "Bearer " + c.token
		}
		u := tg.do(t, http.MethodGet, iss+"/protocol/openid-connect/userinfo", nil, "", "", h)
		r.add("userinfo "+c.step, []any{u.Status, strings.ReplaceAll(u.Header.Get("WWW-Authenticate"), tg.realm(), "REALM")})
	}

	// Browser login with PKCE (the mobile app's flow).
	pkAT, pkID := tg.loginPKCE(t, "alice", "alice-password")
	_, pac := parts(t, pkAT)
	_, pic := parts(t, pkID)
	r.check("PKCE login: access token", []any{jtiShape(pac["jti"]), pac["auth_time"] != nil, pac["iat"] == pac["auth_time"], audOf(pac["aud"])},
		[]any{"onrtac:uuid", true, true, []string{"backend"}})
	r.check("PKCE login: ID token", []any{pic["nonce"] != nil, pic["auth_time"] != nil, keys(pic)}, []any{true, true,
		[]string{"acr", "at_hash", "aud", "auth_time", "azp", "email", "email_verified", "exp", "family_name", "given_name",
			"iat", "iss", "jti", "name", "nonce", "preferred_username", "sid", "sub", "typ"}})
	noPKCE := tg.do(t, http.MethodGet, iss+"/protocol/openid-connect/auth?"+url.Values{"client_id": {"mobile"},
		"redirect_uri": {"com.example.app:/callback"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"}}.Encode(), nil, "", "", nil)
	loc, _ := url.Parse(noPKCE.Header.Get("Location"))
	r.check("authorization request without PKCE", []any{noPKCE.Status, loc.Scheme + ":" + loc.Opaque + loc.Path, loc.Query().Get("error"),
		loc.Query().Get("error_description"), loc.Query().Get("state"), loc.Query().Get("iss") == iss},
		[]any{302, "com.example.app:/callback", "invalid_request", "Missing parameter: code_challenge_method", "s1", true})

	// Back-channel logout: per-test clients pointed at a receiver.
	rcv := newReceiver(t)
	withSID := tg.copyClient(t, "mobile", clientCopy{backchannelURL: rcv.srv.URL + "/a", revokeOffline: true})
	noSID := tg.copyClient(t, "mobile", clientCopy{backchannelURL: rcv.srv.URL + "/b", noSession: true})
	uid, user, upw := tg.createUser(t)
	revoked := tg.password(t, withSID, "", user, upw)
	live := tg.password(t, withSID, "", user, upw)
	tg.password(t, noSID, "", user, upw)
	r.check("revocation sends no back-channel logout", []any{body(tg.revokePublic(t, withSID, str(revoked["refresh_token"]))),
		rcv.count("/a")}, []any{[]any{200, ""}, 0})
	r.check("before logout", tg.active(t, str(live["access_token"])), true)
	tg.logoutUser(t, user)
	a, b := rcv.wait(t, "/a", 1), rcv.wait(t, "/b", 1)
	r.check("after logout", tg.active(t, str(live["access_token"])), false)
	r.check("logout user: one token per live session", []int{rcv.count("/a"), rcv.count("/b")}, []int{1, 1})
	describe := func(d received, client, sid string) map[string]any {
		form, err := url.ParseQuery(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		lt := form.Get("logout_token")
		h, c := parts(t, lt)
		var names []string
		for n := range form {
			names = append(names, n)
		}
		return map[string]any{
			"request": []any{d.Method, mediaType(d.ContentType)},
			"form":    names,
			"header":  headerShape(h), "claims": keys(c), "typ": c["typ"], "aud": c["aud"] == client, "sub": c["sub"] == uid,
			"sid": str(c["sid"]) == sid, "events": c["events"], "lifetime": num(c["exp"]) - num(c["iat"]), "jti": jtiShape(c["jti"]),
			"verifies": verifies(t, set, lt),
		}
	}
	ltClaims := []string{"aud", "events", "exp", "iat", "iss", "jti", "sid", "sub", "typ"}
	event := "http://schemas.openid.net/event/backchannel-logout"
	r.check("logout token with sid and revoke_offline_access", describe(a, withSID, str(live["session_state"])), map[string]any{
		"request": []any{"POST", "application/x-www-form-urlencoded"}, "form": []string{"logout_token"},
		"header": `{"alg":"RS256","typ" : "logout+jwt","kid" : "…"}`, "claims": ltClaims, "typ": "Logout",
		"aud": true, "sub": true, "sid": true, "events": map[string]any{event: map[string]any{}, "revoke_offline_access": true},
		"lifetime": 120, "jti": "uuid", "verifies": true,
	})
	r.check("logout token without sid", describe(b, noSID, ""), map[string]any{
		"request": []any{"POST", "application/x-www-form-urlencoded"}, "form": []string{"logout_token"},
		"header": `{"alg":"RS256","typ" : "logout+jwt","kid" : "…"}`, "claims": slices.DeleteFunc(slices.Clone(ltClaims), func(s string) bool { return s == "sid" }),
		"typ": "Logout", "aud": true, "sub": true, "sid": true, "events": map[string]any{event: map[string]any{}},
		"lifetime": 120, "jti": "uuid", "verifies": true,
	})
	// The logout a client asks for with its refresh token notifies the
	// caller too; deleting a session notifies like a user logout.
	rp := tg.password(t, withSID, "", user, upw)
	r.check("RP logout", body(tg.post(t, "logout", url.Values{"client_id": {withSID}, "refresh_token": {str(rp["refresh_token"])}}, "", "")),
		[]any{204, ""})
	_, rpc := parts(t, func() string { f, _ := url.ParseQuery(rcv.wait(t, "/a", 2).Body); return f.Get("logout_token") }())
	r.check("RP logout: logout token for the caller's session", rpc["sid"] == rp["session_state"], true)
	ds := tg.password(t, withSID, "", user, upw)
	tg.deleteSession(t, str(ds["session_state"]))
	_, dsc := parts(t, func() string { f, _ := url.ParseQuery(rcv.wait(t, "/a", 3).Body); return f.Get("logout_token") }())
	r.check("session deleted: logout token for it", dsc["sid"] == ds["session_state"], true)

	// k_push_not_before to a client's admin URL.
	pushed := tg.copyClient(t, "backend", clientCopy{adminURL: rcv.srv.URL + "/admin"})
	nb := tg.clientNBNow(t, pushed)
	okURLs, failed := tg.pushClient(t, pushed)
	r.check("push not-before: result", []any{slices.Equal(okURLs, []string{rcv.srv.URL + "/admin"}), len(failed)}, []any{true, 0})
	msg := rcv.wait(t, "/admin/k_push_not_before", 1)
	r.check("k_push_not_before", describeAdmin(t, set, msg, pushed, nb), map[string]any{
		"request": []any{"POST", "text/plain; charset=ISO-8859-1"}, "header": `{"alg":"RS256","typ" : "JWT","kid" : "…"}`,
		"members": []string{"id", "expiration", "resource", "action", "notBefore"}, "action": "PUSH_NOT_BEFORE",
		"resource": true, "notBefore": true, "expiration": true, "id": true, "verifies": true,
	})
	return r.lines
}

// describeAdmin reduces an admin message to its shape.
func describeAdmin(t *testing.T, set jose.JSONWebKeySet, d received, resource string, nb int64) map[string]any {
	t.Helper()
	h, c := parts(t, d.Body)
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(d.Body, ".")[1])
	dec := json.NewDecoder(bytes.NewReader(b))
	var order []string
	_, _ = dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		order = append(order, str(tok))
		var skip any
		_ = dec.Decode(&skip)
	}
	exp := num(c["expiration"]) - nb
	return map[string]any{
		"request": []any{d.Method, d.ContentType}, "header": headerShape(h), "members": order, "action": c["action"],
		"resource": c["resource"] == resource, "notBefore": num(c["notBefore"]) == nb, "expiration": exp >= 30 && exp <= 90,
		"id": actionID.MatchString(str(c["id"])), "verifies": verifies(t, set, d.Body),
	}
}

func (tg *target) realm() string { return tg.issuer[strings.LastIndex(tg.issuer, "/")+1:] }

// realmScenario runs the realm-wide part: logout-all and key rotation.
// apiURL's receiver gets the realm's notifications.
func realmScenario(t *testing.T, tg *realmTarget, rcv *receiver) []string {
	r := &record{t: t, name: tg.name}
	tok := str(tg.password(t, "mobile", "", "alice", "alice-password")["access_token"])
	set, _ := tg.fetchJWKS(t)
	okURLs, failed := tg.logoutAll(t)
	r.check("logout-all: result", []any{slices.Equal(okURLs, []string{rcv.srv.URL + "/auth/keycloak"}), len(failed)}, []any{true, 0})
	msg := rcv.wait(t, "/auth/keycloak/k_logout", 1)
	_, c := parts(t, msg.Body)
	r.check("k_logout", describeAdmin(t, set, msg, "backend", num(c["notBefore"])), map[string]any{
		"request": []any{"POST", "text/plain; charset=ISO-8859-1"}, "header": `{"alg":"RS256","typ" : "JWT","kid" : "…"}`,
		"members": []string{"id", "expiration", "resource", "action", "notBefore"}, "action": "LOGOUT",
		"resource": true, "notBefore": true, "expiration": true, "id": true, "verifies": true,
	})
	r.check("logout-all sends no logout token", rcv.count("/auth/backchannel-logout"), 0)
	r.check("after logout-all", tg.active(t, tok), false)

	// Key rotation: a new key signs at once; the old one still verifies.
	old := tg.password(t, "mobile", "", "alice", "alice-password")
	kid0 := kidOf(t, str(old["access_token"]))
	kid1 := tg.rotateKeys(t)
	rotated := tg.password(t, "mobile", "", "alice", "alice-password")
	set, _ = tg.fetchJWKS(t)
	r.check("rotated: signing kid, JWKS, old token", []any{kidOf(t, str(rotated["access_token"])) == kid1,
		slices.Equal(sigKIDs(set), slices.Sorted(slices.Values([]string{kid0, kid1}))),
		tg.active(t, str(old["access_token"]))}, []any{true, true, true})
	// Passive: stays in the JWKS, verifies, signs nothing new.
	tg.setPassive(t, kid1)
	afterPassive := tg.password(t, "mobile", "", "alice", "alice-password")
	set, _ = tg.fetchJWKS(t)
	r.check("passive key", []any{kidOf(t, str(afterPassive["access_token"])) == kid0, slices.Contains(sigKIDs(set), kid1),
		tg.active(t, str(rotated["access_token"]))}, []any{true, true, true})
	// Removed: gone from the JWKS; its tokens are inactive.
	tg.removeKey(t, kid1)
	set, _ = tg.fetchJWKS(t)
	r.check("removed key", []any{slices.Contains(sigKIDs(set), kid1), tg.active(t, str(rotated["access_token"])),
		tg.active(t, str(afterPassive["access_token"]))}, []any{false, false, true})
	return r.lines
}

func fakeRealmTarget(t *testing.T, rcv *receiver) *realmTarget {
	k := fake.New(t, fake.Config{})
	k.UpdateClient(t, "backend", func(c *fake.Client) { c.AdminURL = rcv.srv.URL + "/auth/keycloak" })
	k.UpdateClient(t, "mobile", func(c *fake.Client) { c.BackchannelLogoutURL = rcv.srv.URL + "/auth/backchannel-logout" })
	return &realmTarget{
		target: fakeTarget(t, k),
		logoutAll: func(t *testing.T) ([]string, []string) {
			r := k.LogoutAll(t)
			return r.SuccessRequests, r.FailedRequests
		},
		rotateKeys: func(t *testing.T) string { return k.RotateKeys(t) },
		setPassive: func(t *testing.T, kid string) { k.SetKeyPassive(t, kid) },
		removeKey:  func(t *testing.T, kid string) { k.RemoveKey(t, kid) },
	}
}

func realRealmTarget(t *testing.T, kc *keycloaktest.Keycloak, rcv *receiver) *realmTarget {
	iso := kc.IsolatedRealm(t, rcv.srv.URL)
	return &realmTarget{
		target: realTarget(t, iso),
		logoutAll: func(t *testing.T) ([]string, []string) {
			r := iso.LogoutAll(t)
			return r.SuccessRequests, r.FailedRequests
		},
		rotateKeys: func(t *testing.T) string { return iso.RotateKeys(t) },
		setPassive: func(t *testing.T, kid string) { iso.SetKeyPassive(t, kid) },
		removeKey:  func(t *testing.T, kid string) { iso.RemoveKey(t, kid) },
	}
}

// TestScenarioFake runs the scenario against the fake alone.
func TestScenarioFake(t *testing.T) {
	t.Run("shared realm", func(t *testing.T) { scenario(t, fakeTarget(t, fake.New(t, fake.Config{}))) })
	t.Run("own realm", func(t *testing.T) {
		rcv := newReceiver(t)
		realmScenario(t, fakeRealmTarget(t, rcv), rcv)
	})
}

// compare requires the fake's and Keycloak's records to be equal line by
// line.
func compare(t *testing.T, fk, real []string) {
	t.Helper()
	for i := range max(len(fk), len(real)) {
		var f, k string
		if i < len(fk) {
			f = fk[i]
		}
		if i < len(real) {
			k = real[i]
		}
		if f != k {
			t.Errorf("answers differ:\n fake     %s\n keycloak %s", f, k)
		}
	}
	t.Logf("%d answers compared", len(real))
}

// TestScenarioSameAsKeycloak runs the scenario against the fake and the
// real Keycloak and requires the same answers.
func TestScenarioSameAsKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	t.Run("shared realm", func(t *testing.T) {
		var fk, real []string
		t.Run("fake", func(t *testing.T) { fk = scenario(t, fakeTarget(t, fake.New(t, fake.Config{}))) })
		t.Run("keycloak", func(t *testing.T) { real = scenario(t, realTarget(t, kc)) })
		compare(t, fk, real)
	})
	t.Run("own realm", func(t *testing.T) {
		var fk, real []string
		t.Run("fake", func(t *testing.T) {
			rcv := newReceiver(t)
			fk = realmScenario(t, fakeRealmTarget(t, rcv), rcv)
		})
		t.Run("keycloak", func(t *testing.T) {
			rcv := newReceiver(t)
			real = realmScenario(t, realRealmTarget(t, kc, rcv), rcv)
		})
		compare(t, fk, real)
	})
	t.Run("discovery", func(t *testing.T) {
		// Every member the fake serves, Keycloak serves; every value the
		// fake lists in an array, Keycloak lists too.
		get := func(tg *target) map[string]any {
			return tg.do(t, http.MethodGet, tg.issuer+"/.well-known/openid-configuration", nil, "", "", nil).json(t)
		}
		fd, kd := get(fakeTarget(t, fake.New(t, fake.Config{}))), get(realTarget(t, kc))
		for name, fv := range fd {
			kv, ok := kd[name]
			if !ok {
				t.Errorf("the fake serves %q, Keycloak does not", name)
				continue
			}
			if fa, ok := fv.([]any); ok {
				ka, _ := kv.([]any)
				for _, v := range fa {
					if !slices.Contains(ka, v) {
						t.Errorf("%s: the fake lists %v, Keycloak does not (%v)", name, v, ka)
					}
				}
			} else if reflect.TypeOf(fv) != reflect.TypeOf(kv) || (reflect.TypeOf(fv).Kind() == reflect.Bool && fv != kv) {
				t.Errorf("%s: fake %v, Keycloak %v", name, fv, kv)
			}
		}
	})
}
