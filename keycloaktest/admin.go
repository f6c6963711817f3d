package keycloaktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

type adminToken struct {
	mu     sync.Mutex
	token  string
	expiry time.Time
}

// AdminToken returns a master-realm admin access token, refreshed shortly
// before it expires.
func (k *Keycloak) AdminToken(t testing.TB) string {
	t.Helper()
	tok, err := k.adminTokenCtx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (k *Keycloak) adminTokenCtx(ctx context.Context) (string, error) {
	k.admin.mu.Lock()
	defer k.admin.mu.Unlock()
	if k.admin.token != "" && time.Until(k.admin.expiry) > 15*time.Second {
		return k.admin.token, nil
	}
	jwt, err := k.gc.LoginAdmin(ctx, k.AdminUser, k.AdminPassword, "master")
	if err != nil {
		return "", fmt.Errorf("keycloaktest: admin login as %q: %w", k.AdminUser, err)
	}
	k.admin.token = jwt.AccessToken
	k.admin.expiry = time.Now().Add(time.Duration(jwt.ExpiresIn) * time.Second)
	return k.admin.token, nil
}

// AdminRequest sends a request to the realm's admin REST API, path relative
// to /admin/realms/{realm} (e.g. "/push-revocation"), with body encoded as
// JSON when not nil, and decodes a JSON answer into out when not nil. Any
// status other than 2xx fails the test.
func (k *Keycloak) AdminRequest(t testing.TB, method, path string, body, out any) {
	t.Helper()
	if err := k.adminDo(context.Background(), method, "/admin/realms/"+k.Realm+path, body, out); err != nil {
		t.Fatal(err)
	}
}

func (k *Keycloak) adminDo(ctx context.Context, method, path string, body, out any) error {
	tok, err := k.adminTokenCtx(ctx)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("keycloaktest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("keycloaktest: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 512 {
			b = b[:512]
		}
		return fmt.Errorf("keycloaktest: %s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("keycloaktest: %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// User describes a user for CreateUser. Empty Username means a unique
// generated name; empty Password means Username + "-password".
type User struct {
	Username    string
	Password    string
	Email       string
	RealmRoles  []string
	ClientRoles map[string][]string // client id -> role names
}

// CreateUser creates an enabled user with a verified e-mail, first and last
// name (so the browser login asks for nothing more), its password and roles,
// and deletes it when the test ends. It returns the user's id (the tokens'
// sub) and the user as created.
func (k *Keycloak) CreateUser(t testing.TB, u User) (string, User) {
	t.Helper()
	ctx := context.Background()
	if u.Username == "" {
		u.Username = "user-" + randomSuffix()
	}
	if u.Password == "" {
		u.Password = u.Username + "-password"
	}
	if u.Email == "" {
		u.Email = u.Username + "@example.com"
	}
	tok := k.AdminToken(t)
	id, err := k.gc.CreateUser(ctx, tok, k.Realm, gocloak.User{
		Username:      gocloak.StringP(u.Username),
		Enabled:       gocloak.BoolP(true),
		Email:         gocloak.StringP(u.Email),
		EmailVerified: gocloak.BoolP(true),
		FirstName:     gocloak.StringP("Test"),
		LastName:      gocloak.StringP(u.Username),
		Credentials: &[]gocloak.CredentialRepresentation{{
			Type: gocloak.StringP("password"), Value: gocloak.StringP(u.Password), Temporary: gocloak.BoolP(false),
		}},
	})
	if err != nil {
		t.Fatalf("keycloaktest: create user %q: %v", u.Username, err)
	}
	t.Cleanup(func() {
		if tok, err := k.adminTokenCtx(context.Background()); err == nil {
			_ = k.gc.DeleteUser(context.Background(), tok, k.Realm, id)
		}
	})
	if len(u.RealmRoles) > 0 {
		var roles []gocloak.Role
		for _, name := range u.RealmRoles {
			r, err := k.gc.GetRealmRole(ctx, tok, k.Realm, name)
			if err != nil {
				t.Fatalf("keycloaktest: realm role %q: %v", name, err)
			}
			roles = append(roles, *r)
		}
		if err := k.gc.AddRealmRoleToUser(ctx, tok, k.Realm, id, roles); err != nil {
			t.Fatalf("keycloaktest: add realm roles to %q: %v", u.Username, err)
		}
	}
	for clientID, names := range u.ClientRoles {
		cid := k.clientUUID(t, clientID)
		var roles []gocloak.Role
		for _, name := range names {
			r, err := k.gc.GetClientRole(ctx, tok, k.Realm, cid, name)
			if err != nil {
				t.Fatalf("keycloaktest: client role %s:%s: %v", clientID, name, err)
			}
			roles = append(roles, *r)
		}
		if err := k.gc.AddClientRolesToUser(ctx, tok, k.Realm, cid, id, roles); err != nil {
			t.Fatalf("keycloaktest: add client roles to %q: %v", u.Username, err)
		}
	}
	return id, u
}

// UserID returns the id of the user with this exact username.
func (k *Keycloak) UserID(t testing.TB, username string) string {
	t.Helper()
	users, err := k.gc.GetUsers(context.Background(), k.AdminToken(t), k.Realm, gocloak.GetUsersParams{
		Username: gocloak.StringP(username), Exact: gocloak.BoolP(true),
	})
	if err != nil {
		t.Fatalf("keycloaktest: find user %q: %v", username, err)
	}
	if len(users) != 1 || users[0].ID == nil {
		t.Fatalf("keycloaktest: user %q: found %d", username, len(users))
	}
	return *users[0].ID
}

// Sessions returns the ids (the tokens' sid) of the user's sessions.
func (k *Keycloak) Sessions(t testing.TB, username string) []string {
	t.Helper()
	ss, err := k.gc.GetUserSessions(context.Background(), k.AdminToken(t), k.Realm, k.UserID(t, username))
	if err != nil {
		t.Fatalf("keycloaktest: sessions of %q: %v", username, err)
	}
	var ids []string
	for _, s := range ss {
		if s.ID != nil {
			ids = append(ids, *s.ID)
		}
	}
	return ids
}

// LogoutUser ends every session of the user (admin "Sign out"). Keycloak
// sends a back-channel logout token per session to clients that have a
// back-channel logout URL and sets the user's not-before to now.
func (k *Keycloak) LogoutUser(t testing.TB, username string) {
	t.Helper()
	if err := k.gc.LogoutAllSessions(context.Background(), k.AdminToken(t), k.Realm, k.UserID(t, username)); err != nil {
		t.Fatalf("keycloaktest: logout %q: %v", username, err)
	}
}

// DeleteSession ends one user session by id (the sid claim); Keycloak sends
// a back-channel logout token for it.
func (k *Keycloak) DeleteSession(t testing.TB, sid string) {
	t.Helper()
	if err := k.gc.LogoutUserSession(context.Background(), k.AdminToken(t), k.Realm, sid); err != nil {
		t.Fatalf("keycloaktest: delete session: %v", err)
	}
}

// GlobalRequestResult is Keycloak's answer to push-revocation and
// logout-all: the admin URLs that were (not) reached.
type GlobalRequestResult = fake.GlobalRequestResult

// SetNotBeforeNow sets the realm's not-before to now (tokens issued earlier
// become invalid) and returns it. Realm-wide: prefer an IsolatedRealm.
func (k *Keycloak) SetNotBeforeNow(t testing.TB) int64 {
	t.Helper()
	now := time.Now().Unix()
	k.AdminRequest(t, http.MethodPut, "", map[string]any{"notBefore": now}, nil)
	return now
}

// PushRevocation sends the realm's not-before to every client with an
// admin URL (POST <adminUrl>/k_push_not_before).
func (k *Keycloak) PushRevocation(t testing.TB) GlobalRequestResult {
	t.Helper()
	var res GlobalRequestResult
	k.AdminRequest(t, http.MethodPost, "/push-revocation", nil, &res)
	return res
}

// LogoutAll is the admin console's "Sign out all active sessions": realm
// not-before = now, every session dropped, k_logout sent to clients with an
// admin URL. No back-channel logout tokens are sent. Realm-wide: prefer an
// IsolatedRealm.
func (k *Keycloak) LogoutAll(t testing.TB) GlobalRequestResult {
	t.Helper()
	var res GlobalRequestResult
	k.AdminRequest(t, http.MethodPost, "/logout-all", nil, &res)
	return res
}

// clientUUID returns Keycloak's internal id of a client.
func (k *Keycloak) clientUUID(t testing.TB, clientID string) string {
	t.Helper()
	return *k.Client(t, clientID).ID
}

// Client returns the representation of a client by its client id.
func (k *Keycloak) Client(t testing.TB, clientID string) *gocloak.Client {
	t.Helper()
	cs, err := k.gc.GetClients(context.Background(), k.AdminToken(t), k.Realm, gocloak.GetClientsParams{ClientID: gocloak.StringP(clientID)})
	if err != nil {
		t.Fatalf("keycloaktest: find client %q: %v", clientID, err)
	}
	for _, c := range cs {
		if c.ClientID != nil && *c.ClientID == clientID && c.ID != nil {
			return c
		}
	}
	t.Fatalf("keycloaktest: client %q not found in realm %s", clientID, k.Realm)
	return nil
}

// UpdateClient applies change to the client's representation and saves it;
// the previous representation is restored when the test ends.
func (k *Keycloak) UpdateClient(t testing.TB, clientID string, change func(*gocloak.Client)) {
	t.Helper()
	orig := k.Client(t, clientID)
	var c gocloak.Client
	b, _ := json.Marshal(orig)
	_ = json.Unmarshal(b, &c)
	change(&c)
	c.ID = orig.ID
	if err := k.gc.UpdateClient(context.Background(), k.AdminToken(t), k.Realm, c); err != nil {
		t.Fatalf("keycloaktest: update client %q: %v", clientID, err)
	}
	// Keycloak keeps attributes missing from an update: blank the added ones.
	restore := *orig
	attrs := map[string]string{}
	if orig.Attributes != nil {
		for a, v := range *orig.Attributes {
			attrs[a] = v
		}
	}
	if c.Attributes != nil {
		for a := range *c.Attributes {
			if _, ok := attrs[a]; !ok {
				attrs[a] = ""
			}
		}
	}
	restore.Attributes = &attrs
	t.Cleanup(func() {
		tok, err := k.adminTokenCtx(context.Background())
		if err == nil {
			err = k.gc.UpdateClient(context.Background(), tok, k.Realm, restore)
		}
		if err != nil {
			t.Errorf("keycloaktest: restore client %q: %v", clientID, err)
		}
	})
}

// SetClientAttributes sets client attributes (e.g. "backchannel.logout.url")
// until the test ends. A shared realm's clients are shared by every test of
// every package: tests that point a client at their own server should use
// CloneClient or an IsolatedRealm instead.
func (k *Keycloak) SetClientAttributes(t testing.TB, clientID string, attrs map[string]string) {
	t.Helper()
	k.UpdateClient(t, clientID, func(c *gocloak.Client) {
		m := map[string]string{}
		if c.Attributes != nil {
			for a, v := range *c.Attributes {
				m[a] = v
			}
		}
		for a, v := range attrs {
			m[a] = v
		}
		c.Attributes = &m
	})
}

// CloneClient creates a copy of client `from` (settings, attributes,
// protocol mappers, secret) under a new unique client id, applies change
// (may be nil) and deletes the copy when the test ends. It returns the new
// client id. Client roles are not copied.
func (k *Keycloak) CloneClient(t testing.TB, from string, change func(*gocloak.Client)) string {
	t.Helper()
	orig := k.Client(t, from)
	var c gocloak.Client
	b, _ := json.Marshal(orig)
	_ = json.Unmarshal(b, &c)
	c.ID = nil
	c.ClientID = gocloak.StringP(from + "-" + randomSuffix())
	c.Name = c.ClientID
	if c.ProtocolMappers != nil {
		ms := *c.ProtocolMappers
		for i := range ms {
			ms[i].ID = nil
		}
	}
	if c.PublicClient == nil || !*c.PublicClient {
		if sec, err := k.gc.GetClientSecret(context.Background(), k.AdminToken(t), k.Realm, *orig.ID); err == nil && sec.Value != nil {
			c.Secret = sec.Value
		}
	}
	if change != nil {
		change(&c)
	}
	id, err := k.gc.CreateClient(context.Background(), k.AdminToken(t), k.Realm, c)
	if err != nil {
		t.Fatalf("keycloaktest: clone client %q: %v", from, err)
	}
	t.Cleanup(func() {
		if tok, err := k.adminTokenCtx(context.Background()); err == nil {
			_ = k.gc.DeleteClient(context.Background(), tok, k.Realm, id)
		}
	})
	return *c.ClientID
}

// SetClientNotBeforeNow sets the client's not-before to now and returns it.
func (k *Keycloak) SetClientNotBeforeNow(t testing.TB, clientID string) int64 {
	t.Helper()
	now := time.Now().Unix()
	k.UpdateClient(t, clientID, func(c *gocloak.Client) {
		nb := int32(now)
		c.NotBefore = &nb
	})
	return now
}

// PushClientRevocation sends the client's not-before to its admin URL
// (POST <adminUrl>/k_push_not_before).
func (k *Keycloak) PushClientRevocation(t testing.TB, clientID string) GlobalRequestResult {
	t.Helper()
	var res GlobalRequestResult
	k.AdminRequest(t, http.MethodPost, "/clients/"+k.clientUUID(t, clientID)+"/push-revocation", nil, &res)
	return res
}

type keysMetadata struct {
	Keys []struct {
		KID              string `json:"kid"`
		ProviderID       string `json:"providerId"`
		ProviderPriority int64  `json:"providerPriority"`
		Algorithm        string `json:"algorithm"`
		Use              string `json:"use"`
		Status           string `json:"status"`
	} `json:"keys"`
}

// RotateKeys adds a new generated RS256 key with a higher priority than every
// existing key, so Keycloak signs new tokens with it; older keys stay in the
// JWKS. It returns the new key's kid. Realm-wide: prefer an IsolatedRealm.
func (k *Keycloak) RotateKeys(t testing.TB) string {
	t.Helper()
	var before keysMetadata
	k.AdminRequest(t, http.MethodGet, "/keys", nil, &before)
	prio := int64(100)
	for _, key := range before.Keys {
		if key.ProviderPriority >= prio {
			prio = key.ProviderPriority + 10
		}
	}
	var realm struct {
		ID string `json:"id"`
	}
	k.AdminRequest(t, http.MethodGet, "", nil, &realm)
	name := "rsa-rotated-" + randomSuffix()
	k.AdminRequest(t, http.MethodPost, "/components", map[string]any{
		"name":         name,
		"providerId":   "rsa-generated",
		"providerType": "org.keycloak.keys.KeyProvider",
		"parentId":     realm.ID,
		"config": map[string][]string{
			"priority":  {strconv.FormatInt(prio, 10)},
			"enabled":   {"true"},
			"active":    {"true"},
			"algorithm": {"RS256"},
			"keySize":   {"2048"},
		},
	}, nil)
	var after keysMetadata
	k.AdminRequest(t, http.MethodGet, "/keys", nil, &after)
	for _, key := range after.Keys {
		if key.ProviderPriority == prio && key.Algorithm == "RS256" {
			return key.KID
		}
	}
	t.Fatalf("keycloaktest: rotated key (priority %d) not listed", prio)
	return ""
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}`)

// IsolatedRealm imports a fresh copy of the tokenwarden test realm under a
// unique name and deletes it when the test ends. apiURL, when not empty,
// replaces ${TOKENWARDEN_API_URL} in the realm (the mobile client's
// back-channel logout URL and redirect URI, the backend client's admin URL),
// so Keycloak's logout notifications reach the test's own server. The
// returned Keycloak acts on the new realm; its issuer differs accordingly.
func (k *Keycloak) IsolatedRealm(t testing.TB, apiURL string) *Keycloak {
	t.Helper()
	name := "tokenwarden-" + randomSuffix()
	data := placeholder.ReplaceAllFunc(realmJSON, func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		key := string(sub[1])
		if key == "TOKENWARDEN_API_URL" && apiURL != "" {
			return jsonEscape(apiURL)
		}
		if v, ok := os.LookupEnv(key); ok {
			return jsonEscape(v)
		}
		return sub[2]
	})
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("keycloaktest: realm template: %v", err)
	}
	rep["realm"] = name
	rep["displayName"] = name
	if err := k.adminDo(context.Background(), http.MethodPost, "/admin/realms", rep, nil); err != nil {
		t.Fatalf("keycloaktest: create realm: %v", err)
	}
	t.Cleanup(func() {
		_ = k.adminDo(context.Background(), http.MethodDelete, "/admin/realms/"+name, nil, nil)
	})
	c := *k
	c.Realm = name
	return &c
}

func jsonEscape(s string) []byte {
	b, _ := json.Marshal(s)
	return b[1 : len(b)-1]
}

// keyComponent returns the id of the key provider (component) that holds
// the key kid.
func (k *Keycloak) keyComponent(t testing.TB, kid string) string {
	t.Helper()
	var keys keysMetadata
	k.AdminRequest(t, http.MethodGet, "/keys", nil, &keys)
	for _, key := range keys.Keys {
		if key.KID == kid {
			return key.ProviderID
		}
	}
	t.Fatalf("keycloaktest: no key %q in realm %s", kid, k.Realm)
	return ""
}

// SetKeyPassive makes the key's provider passive: the key stays in the
// JWKS and verifies, but signs nothing new. Realm-wide: prefer an
// IsolatedRealm.
func (k *Keycloak) SetKeyPassive(t testing.TB, kid string) {
	t.Helper()
	k.setKeyConfig(t, kid, "active", "false")
}

// DisableKey disables the key's provider. Realm-wide: prefer an
// IsolatedRealm.
func (k *Keycloak) DisableKey(t testing.TB, kid string) {
	t.Helper()
	k.setKeyConfig(t, kid, "enabled", "false")
}

func (k *Keycloak) setKeyConfig(t testing.TB, kid, name, value string) {
	t.Helper()
	path := "/components/" + k.keyComponent(t, kid)
	var comp map[string]any
	k.AdminRequest(t, http.MethodGet, path, nil, &comp)
	cfg, _ := comp["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
	}
	cfg[name] = []string{value}
	comp["config"] = cfg
	k.AdminRequest(t, http.MethodPut, path, comp, nil)
}

// RemoveKey deletes the key's provider: the key leaves the JWKS and tokens
// it signed no longer verify. Realm-wide: prefer an IsolatedRealm.
func (k *Keycloak) RemoveKey(t testing.TB, kid string) {
	t.Helper()
	k.AdminRequest(t, http.MethodDelete, "/components/"+k.keyComponent(t, kid), nil, nil)
}
