package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// Keycloak is the little of Keycloak's admin REST API and token endpoint the
// demo needs, with plain net/http.
type Keycloak struct {
	BaseURL       string // e.g. http://127.0.0.1:8080
	AdminUser     string // master realm administrator
	AdminPassword string
	HTTPClient    *http.Client
}

// Tokens is a token endpoint answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}`)

// ImportRealm imports a copy of tokenwarden's test realm under a new unique
// name, with the mobile client's back-channel logout URL and the backend
// client's admin URL pointing at apiURL. It returns the realm's name.
func (k *Keycloak) ImportRealm(ctx context.Context, apiURL string) (string, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "tokenwarden-demo-" + hex.EncodeToString(b[:])
	esc, _ := json.Marshal(apiURL)
	data := placeholder.ReplaceAllFunc(keycloaktest.RealmJSON(), func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		if string(sub[1]) == "TOKENWARDEN_API_URL" {
			return esc[1 : len(esc)-1]
		}
		return sub[2]
	})
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		return "", fmt.Errorf("demo: realm template: %w", err)
	}
	rep["realm"], rep["displayName"] = name, name
	if err := k.admin(ctx, http.MethodPost, "/admin/realms", rep, nil); err != nil {
		return "", err
	}
	return name, nil
}

// DeleteRealm deletes a realm.
func (k *Keycloak) DeleteRealm(ctx context.Context, realm string) error {
	return k.admin(ctx, http.MethodDelete, "/admin/realms/"+url.PathEscape(realm), nil, nil)
}

// AllowWebApp lets a web build served at origin (scheme://host:port) log in
// to the client: origin + "/" becomes a redirect URI and a post-logout
// redirect URI, and origin a web origin (CORS on Keycloak's token and
// revocation endpoints), beside what the client already lists.
func (k *Keycloak) AllowWebApp(ctx context.Context, realm, clientID, origin string) error {
	base := "/admin/realms/" + url.PathEscape(realm) + "/clients"
	var found []map[string]any
	if err := k.admin(ctx, http.MethodGet, base+"?"+url.Values{"clientId": {clientID}}.Encode(), nil, &found); err != nil {
		return err
	}
	if len(found) != 1 {
		return fmt.Errorf("demo: %d clients named %q in realm %s", len(found), clientID, realm)
	}
	c := found[0]
	id, _ := c["id"].(string)
	add := func(list any, v string) []any {
		l, _ := list.([]any)
		for _, x := range l {
			if x == v {
				return l
			}
		}
		return append(l, v)
	}
	c["redirectUris"] = add(c["redirectUris"], origin+"/")
	c["webOrigins"] = add(c["webOrigins"], origin)
	attrs, _ := c["attributes"].(map[string]any)
	if attrs == nil {
		attrs = map[string]any{}
	}
	if post, _ := attrs["post.logout.redirect.uris"].(string); post == "" {
		attrs["post.logout.redirect.uris"] = origin + "/"
	} else {
		attrs["post.logout.redirect.uris"] = post + "##" + origin + "/"
	}
	c["attributes"] = attrs
	return k.admin(ctx, http.MethodPut, base+"/"+url.PathEscape(id), c, nil)
}

// LogoutUser is the admin console's "Sign out" of a user: every session
// ends, Keycloak sends a back-channel logout token per session and sets the
// user's not-before.
func (k *Keycloak) LogoutUser(ctx context.Context, realm, username string) (path string, status int, err error) {
	var users []struct {
		ID string `json:"id"`
	}
	q := url.Values{"username": {username}, "exact": {"true"}}
	if err := k.admin(ctx, http.MethodGet, "/admin/realms/"+url.PathEscape(realm)+"/users?"+q.Encode(), nil, &users); err != nil {
		return "", 0, err
	}
	if len(users) != 1 {
		return "", 0, fmt.Errorf("demo: %d users named %q", len(users), username)
	}
	path = "/admin/realms/" + url.PathEscape(realm) + "/users/" + url.PathEscape(users[0].ID) + "/logout"
	status, err = k.adminStatus(ctx, http.MethodPost, path, nil, nil)
	return path, status, err
}

// PasswordLogin gets tokens for a user of the public client clientID with
// the resource-owner password grant. Apps use the authorization-code flow
// with PKCE instead (docs/capacitor.md); the grant keeps the demo scriptable.
func (k *Keycloak) PasswordLogin(ctx context.Context, realm, clientID, username, password string) (Tokens, int, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {clientID}, "username": {username},
		"password": {password}, "scope": {"openid"}}
	var t Tokens
	status, err := k.form(ctx, k.BaseURL+"/realms/"+url.PathEscape(realm)+"/protocol/openid-connect/token", form, &t)
	if err == nil && t.AccessToken == "" {
		err = errors.New("demo: no access token in the answer")
	}
	return t, status, err
}

func (k *Keycloak) adminToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {k.AdminUser},
		"password": {k.AdminPassword}}
	var t Tokens
	if _, err := k.form(ctx, k.BaseURL+"/realms/master/protocol/openid-connect/token", form, &t); err != nil {
		return "", fmt.Errorf("demo: admin login: %w", err)
	}
	return t.AccessToken, nil
}

func (k *Keycloak) form(ctx context.Context, u string, form url.Values, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return k.do(req, out)
}

func (k *Keycloak) admin(ctx context.Context, method, path string, body, out any) error {
	_, err := k.adminStatus(ctx, method, path, body, out)
	return err
}

func (k *Keycloak) adminStatus(ctx context.Context, method, path string, body, out any) (int, error) {
	tok, err := k.adminToken(ctx)
	if err != nil {
		return 0, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.BaseURL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return k.do(req, out)
}

func (k *Keycloak) do(req *http.Request, out any) (int, error) {
	c := k.HTTPClient
	if c == nil {
		c = defaultClient()
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("demo: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 300 {
			b = b[:300]
		}
		return resp.StatusCode, fmt.Errorf("demo: %s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("demo: %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp.StatusCode, nil
}
