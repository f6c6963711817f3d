package fake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
)

// Config describes the realm. The zero value is tokenwarden's test realm
// (testdata/keycloak/tokenwarden-realm.json) with Keycloak's defaults.
type Config struct {
	// Realm is the realm's name; default "tokenwarden".
	Realm string
	// Clients replace the default clients: "backend" (confidential, secret
	// "backend-secret", service account), "mobile" (public, an audience
	// mapper adding backend, web origins capacitor://localhost,
	// https://localhost and http://127.0.0.1:8100 (the web build's test
	// origin), PKCE S256, redirect URIs com.example.app:/callback and
	// http://127.0.0.1:8100/) and "mobile-dpop" (mobile with DPoP
	// required), as in the realm file.
	// None has a back-channel logout or admin URL until a test sets one
	// (UpdateClient).
	Clients []Client
	// Users replace the default users: alice (realm role user, backend role
	// reader) and bob (realm roles user and admin, backend roles reader and
	// writer), with passwords "alice-password" and "bob-password".
	Users []User
	// AccessTokenLifespan is the access and ID tokens' lifetime; default
	// 5 minutes.
	AccessTokenLifespan time.Duration
	// SessionIdle ends a session not refreshed for this long; SessionMax ends
	// it this long after login. Neither sends a logout notification, as in
	// Keycloak. Defaults 30 minutes and 10 hours (SSO Session Idle and Max);
	// refresh tokens expire with the session.
	SessionIdle, SessionMax time.Duration
	// Now is the realm's clock; default time.Now.
	Now func() time.Time
	// TLS serves HTTPS with httptest's certificate, which Keycloak.HTTPClient
	// trusts.
	TLS bool
	// HTTPClient sends back-channel logouts and admin messages; default a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// Middleware, when set, wraps the realm's handler: count calls, delay or
	// fail them. The methods of Keycloak run in process, not through it.
	Middleware func(http.Handler) http.Handler
}

// Client is an OpenID Connect client of the realm.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret authenticates a confidential client (client_secret_basic or
	// client_secret_post); empty means a public client.
	Secret string
	// ServiceAccount allows the client_credentials grant (confidential
	// clients only).
	ServiceAccount bool
	// Audience lists the client ids an audience mapper adds to the client's
	// access tokens. Keycloak also adds every other client whose roles the
	// token carries.
	Audience []string
	// WebOrigins become the access tokens' allowed-origins.
	WebOrigins []string
	// BackchannelLogoutURL receives a logout token when a user session that
	// has this client ends (admin logout, session deletion, POST /logout).
	BackchannelLogoutURL string
	// BackchannelLogoutNoSession leaves sid out of the logout tokens
	// (backchannel.logout.session.required=false).
	BackchannelLogoutNoSession bool
	// BackchannelLogoutRevokeOffline adds "revoke_offline_access": true to
	// the logout tokens' events (backchannel.logout.revoke.offline.tokens).
	BackchannelLogoutRevokeOffline bool
	// AdminURL receives k_push_not_before and k_logout messages, at
	// AdminURL + "/k_push_not_before" and AdminURL + "/k_logout".
	AdminURL string
	// RedirectURIs are the redirect_uri values the browser login accepts;
	// a trailing "*" matches any rest.
	RedirectURIs []string
	// PKCE, when set ("S256" or "plain"), makes the browser login require a
	// code challenge with this method (pkce.code.challenge.method).
	PKCE string
	// DPoP makes every token request of the client carry a DPoP proof
	// (dpop.bound.access.tokens). A proof binds the tokens of any client.
	DPoP bool
}

// User is a user of the realm.
type User struct {
	Username string
	// Password defaults to Username + "-password".
	Password string
	// ID is the tokens' sub; default a random UUID.
	ID string
	// Email defaults to Username + "@example.com".
	Email               string
	FirstName, LastName string
	RealmRoles          []string
	// ClientRoles maps a client id to the user's roles of that client.
	ClientRoles map[string][]string
}

// Names in the default realm: those of keycloaktest's tokenwarden realm.
const (
	BackendClientID     = "backend"
	BackendClientSecret = "backend-secret"
	MobileClientID      = "mobile"
	MobileRedirectURL   = "com.example.app:/callback"
	// DPoPClientID is the mobile client with DPoP required: its tokens are
	// bound to the app's key (RFC 9449).
	DPoPClientID = "mobile-dpop"
)

func defaultClients() []Client {
	return []Client{
		{ID: BackendClientID, Secret: BackendClientSecret, ServiceAccount: true},
		{ID: MobileClientID, Audience: []string{BackendClientID}, WebOrigins: []string{"capacitor://localhost", "https://localhost", "http://127.0.0.1:8100"},
			RedirectURIs: []string{MobileRedirectURL, "http://127.0.0.1:8100/"}, PKCE: "S256"},
		{ID: DPoPClientID, Audience: []string{BackendClientID}, WebOrigins: []string{"capacitor://localhost", "https://localhost", "http://127.0.0.1:8100"},
			RedirectURIs: []string{MobileRedirectURL, "http://127.0.0.1:8100/"}, PKCE: "S256", DPoP: true},
	}
}

func defaultUsers() []User {
	return []User{
		{Username: "alice", FirstName: "Alice", LastName: "Example", RealmRoles: []string{"user"},
			ClientRoles: map[string][]string{BackendClientID: {"reader"}}},
		{Username: "bob", FirstName: "Bob", LastName: "Example", RealmRoles: []string{"user", "admin"},
			ClientRoles: map[string][]string{BackendClientID: {"reader", "writer"}}},
	}
}

// Keycloak is a running fake realm.
//
// It serves, under /realms/{realm}, the discovery document and, under
// /realms/{realm}/protocol/openid-connect/, the endpoints certs (JWKS), token
// (password, refresh_token, client_credentials and authorization_code with
// PKCE), token/introspect (RFC 7662), revoke (RFC 7009), userinfo, auth (a
// login form like Keycloak's) and logout (POST with a refresh token).
// Tokens and answers have Keycloak's shape: the JWS header bytes, the claim
// names and order, the jti prefixes, the error codes and texts, and the
// quirks this project measured (introspection requires the caller in aud;
// revoking an unknown token answers 200 with an error body; revoking a
// refresh token ends that client's session, revoking an access token blocks
// its jti; revocation sends no back-channel logout). A scenario test runs
// the same calls against the fake and a real Keycloak and compares the
// answers.
//
// DPoP (RFC 9449) works as in Keycloak 26: a token request with a proof
// gets tokens bound to its key (typ "DPoP", cnf.jkt with Keycloak's
// kc-jkt-type member, token_type "DPoP"), Client.DPoP requires one, and a
// bound refresh token needs a proof by its key to refresh or to log out.
//
// Not covered: SSO cookies, the browser logout page, offline tokens, DPoP
// server nonces, lightweight access tokens, token exchange and the admin
// REST API.
type Keycloak struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:41234.
	BaseURL string
	// Realm is the realm's name.
	Realm string
	// HTTPClient talks to the server (it trusts its certificate with TLS).
	HTTPClient *http.Client

	srv                    *httptest.Server
	now                    func() time.Time
	out                    *http.Client
	lifespan, idle, maxAge time.Duration

	mu        sync.Mutex
	keys      []*realmKey
	enc       *realmKey
	hmacKID   string
	hmacKey   []byte
	clients   map[string]*client
	users     map[string]*user // by id
	sessions  map[string]*session
	logins    map[string]*login    // browser logins waiting for the password
	codes     map[string]*authCode // authorization codes not yet exchanged
	revoked   map[string]int64     // jti -> exp
	notBefore int64
	proofs    *dpop.Verifier // DPoP proofs of token-endpoint, logout and userinfo requests
}

type client struct {
	Client
	notBefore int64
}

// clone copies c without sharing its slices.
func (c Client) clone() Client {
	c.Audience, c.WebOrigins, c.RedirectURIs = slices.Clone(c.Audience), slices.Clone(c.WebOrigins), slices.Clone(c.RedirectURIs)
	return c
}

func (k *Keycloak) mustClientLocked(t testing.TB, id string) *client {
	t.Helper()
	c, ok := k.clients[id]
	if !ok {
		t.Fatalf("fake: no client %q", id)
	}
	return c
}

type user struct {
	User
	notBefore      int64
	serviceAccount bool
}

var realmName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// New starts a fake realm, closed when the test ends.
func New(t testing.TB, cfg Config) *Keycloak {
	t.Helper()
	k, err := start(cfg)
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	t.Cleanup(k.srv.Close)
	return k
}

func start(cfg Config) (*Keycloak, error) {
	k := &Keycloak{
		Realm: cfg.Realm, now: cfg.Now, out: cfg.HTTPClient,
		lifespan: cfg.AccessTokenLifespan, idle: cfg.SessionIdle, maxAge: cfg.SessionMax,
		clients: map[string]*client{}, users: map[string]*user{}, sessions: map[string]*session{}, revoked: map[string]int64{},
		logins: map[string]*login{}, codes: map[string]*authCode{},
	}
	if k.Realm == "" {
		k.Realm = "tokenwarden"
	}
	if !realmName.MatchString(k.Realm) {
		return nil, fmt.Errorf("realm name %q", k.Realm)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.out == nil {
		k.out = &http.Client{Timeout: 10 * time.Second}
	}
	if k.lifespan <= 0 {
		k.lifespan = 5 * time.Minute
	}
	if k.idle <= 0 {
		k.idle = 30 * time.Minute
	}
	if k.maxAge <= 0 {
		k.maxAge = 10 * time.Hour
	}
	k.proofs = newProofVerifier(k.now)
	clients, users := cfg.Clients, cfg.Users
	if clients == nil {
		clients = defaultClients()
	}
	if users == nil {
		users = defaultUsers()
	}
	for _, c := range clients {
		if err := k.addClientLocked(c); err != nil {
			return nil, err
		}
	}
	for _, u := range users {
		if _, err := k.addUserLocked(u); err != nil {
			return nil, err
		}
	}

	priv, err := generateRSA()
	if err != nil {
		return nil, err
	}
	now := k.now()
	rk, err := newRealmKey(priv, k.Realm, now, 100)
	if err != nil {
		return nil, err
	}
	k.keys = []*realmKey{rk}
	encPriv, err := encryptionKey()
	if err != nil {
		return nil, err
	}
	if k.enc, err = newRealmKey(encPriv, k.Realm, now, 100); err != nil {
		return nil, err
	}
	k.hmacKID = keycloakID()
	k.hmacKey = make([]byte, 64)
	_, _ = rand.Read(k.hmacKey)

	var h http.Handler = k.handler()
	if cfg.Middleware != nil {
		h = cfg.Middleware(h)
	}
	if cfg.TLS {
		k.srv = httptest.NewTLSServer(h)
	} else {
		k.srv = httptest.NewServer(h)
	}
	k.BaseURL = k.srv.URL
	k.HTTPClient = k.srv.Client()
	k.HTTPClient.Timeout = 30 * time.Second
	return k, nil
}

// IssuerURL returns the realm's issuer, BaseURL + "/realms/" + Realm.
func (k *Keycloak) IssuerURL() string { return k.BaseURL + "/realms/" + k.Realm }

// TokenURL returns the realm's token endpoint.
func (k *Keycloak) TokenURL() string { return k.IssuerURL() + "/protocol/openid-connect/token" }

func (k *Keycloak) endpoint(name string) string {
	return k.IssuerURL() + "/protocol/openid-connect/" + name
}

func (k *Keycloak) addClientLocked(c Client) error {
	if c.ID == "" {
		return fmt.Errorf("client without ID")
	}
	if _, dup := k.clients[c.ID]; dup {
		return fmt.Errorf("client %q defined twice", c.ID)
	}
	if c.ServiceAccount && c.Secret == "" {
		return fmt.Errorf("client %q: a service account needs a confidential client (Secret)", c.ID)
	}
	k.clients[c.ID] = &client{Client: c.clone()}
	if c.ServiceAccount {
		id := newUUID()
		k.users[id] = &user{User: User{Username: "service-account-" + c.ID, ID: id}, serviceAccount: true}
	}
	return nil
}

func (k *Keycloak) addUserLocked(u User) (User, error) {
	if u.Username == "" {
		return u, fmt.Errorf("user without Username")
	}
	if k.userByNameLocked(u.Username) != nil {
		return u, fmt.Errorf("user %q defined twice", u.Username)
	}
	if u.Password == "" {
		u.Password = u.Username + "-password"
	}
	if u.Email == "" {
		u.Email = u.Username + "@example.com"
	}
	if u.ID == "" {
		u.ID = newUUID()
	}
	if _, dup := k.users[u.ID]; dup {
		return u, fmt.Errorf("user id %q used twice", u.ID)
	}
	u.RealmRoles = slices.Clone(u.RealmRoles)
	roles := map[string][]string{}
	for c, rs := range u.ClientRoles {
		if _, ok := k.clients[c]; !ok {
			return u, fmt.Errorf("user %q has roles of unknown client %q", u.Username, c)
		}
		roles[c] = slices.Clone(rs)
	}
	u.ClientRoles = roles
	k.users[u.ID] = &user{User: u}
	return u, nil
}

func (k *Keycloak) userByNameLocked(name string) *user {
	for _, u := range k.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}

func (k *Keycloak) serviceAccountLocked(clientID string) *user {
	return k.userByNameLocked("service-account-" + clientID)
}

// AddClient adds a client to the realm.
func (k *Keycloak) AddClient(t testing.TB, c Client) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.addClientLocked(c); err != nil {
		t.Fatalf("fake: %v", err)
	}
}

// UpdateClient applies change to a client, e.g. to set its back-channel
// logout URL once the API under test listens. The client id cannot change.
func (k *Keycloak) UpdateClient(t testing.TB, clientID string, change func(*Client)) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.mustClientLocked(t, clientID)
	n := c.clone()
	change(&n)
	if n.ID != clientID {
		t.Fatalf("fake: UpdateClient changed the client id %q to %q", clientID, n.ID)
	}
	if n.ServiceAccount && n.Secret == "" {
		t.Fatalf("fake: client %q: a service account needs a confidential client (Secret)", clientID)
	}
	if n.ServiceAccount && k.serviceAccountLocked(clientID) == nil {
		id := newUUID()
		k.users[id] = &user{User: User{Username: "service-account-" + clientID, ID: id}, serviceAccount: true}
	}
	c.Client = n
}

// CreateUser adds a user and returns its id (the tokens' sub) and the user
// as created. Empty Username means a unique generated name; the other
// defaults are those of [User].
func (k *Keycloak) CreateUser(t testing.TB, u User) (string, User) {
	t.Helper()
	if u.Username == "" {
		u.Username = "user-" + randomHex(5)
	}
	if u.FirstName == "" && u.LastName == "" {
		u.FirstName, u.LastName = "Test", u.Username
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	u, err := k.addUserLocked(u)
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	return u.ID, u
}

// UserID returns the id of the user with this username.
func (k *Keycloak) UserID(t testing.TB, username string) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	u := k.userByNameLocked(username)
	if u == nil {
		t.Fatalf("fake: no user %q", username)
	}
	return u.ID
}

// Sessions returns the ids (the tokens' sid) of the user's live sessions.
func (k *Keycloak) Sessions(t testing.TB, username string) []string {
	t.Helper()
	id := k.UserID(t, username)
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	var ids []string
	for _, s := range k.sessions {
		if s.userID == id && k.sessionAliveLocked(s, now) {
			ids = append(ids, s.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// newUUID returns a random (version 4) UUID, the form of Keycloak's user ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// keycloakID returns 128 random bits in UUID layout, without version bits,
// the form of Keycloak 26's token ids.
func keycloakID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return formatUUID(b)
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sessionID returns a user session id like Keycloak 26's: 24 base64url
// characters.
func sessionID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return b64(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CloneClient adds a copy of client from under a new unique client id,
// changed by change (may be nil), and returns the new id.
func (k *Keycloak) CloneClient(t testing.TB, from string, change func(*Client)) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.mustClientLocked(t, from).clone()
	n.ID = from + "-" + randomHex(5)
	if change != nil {
		change(&n)
	}
	if err := k.addClientLocked(n); err != nil {
		t.Fatalf("fake: %v", err)
	}
	return n.ID
}
