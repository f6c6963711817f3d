package keycloaktest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v13"
	"golang.org/x/oauth2"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// Tokens are the tokens of one grant; SessionID and Subject are read from
// the access token without verification. It is the fake realm's type, so
// that a helper can serve tests against either.
type Tokens = fake.Tokens

func newTokens(access, refresh, id, typ string, expiresIn int) Tokens {
	tk := Tokens{AccessToken: access, RefreshToken: refresh, IDToken: id, TokenType: typ, ExpiresIn: expiresIn}
	var c struct {
		Sid string `json:"sid"`
		Sub string `json:"sub"`
	}
	if err := UnverifiedClaims(access, &c); err == nil {
		tk.SessionID, tk.Subject = c.Sid, c.Sub
	}
	return tk
}

// UnverifiedClaims decodes the payload of a compact JWS into v without
// checking anything. For tests only.
func UnverifiedClaims(token string, v any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("keycloaktest: not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("keycloaktest: payload: %w", err)
	}
	return json.Unmarshal(b, v)
}

func (k *Keycloak) grant(t testing.TB, opts gocloak.TokenOptions, secret string) Tokens {
	t.Helper()
	if secret != "" {
		opts.ClientSecret = gocloak.StringP(secret)
	}
	jwt, err := k.gc.GetToken(context.Background(), k.Realm, opts)
	if err != nil {
		t.Fatalf("keycloaktest: %s grant for client %q: %v", *opts.GrantType, *opts.ClientID, err)
	}
	return newTokens(jwt.AccessToken, jwt.RefreshToken, jwt.IDToken, jwt.TokenType, jwt.ExpiresIn)
}

// PasswordToken gets tokens with the resource-owner password grant (scope
// openid). clientSecret is empty for a public client such as "mobile".
func (k *Keycloak) PasswordToken(t testing.TB, clientID, clientSecret, username, password string) Tokens {
	t.Helper()
	return k.grant(t, gocloak.TokenOptions{
		ClientID:  gocloak.StringP(clientID),
		GrantType: gocloak.StringP("password"),
		Username:  gocloak.StringP(username),
		Password:  gocloak.StringP(password),
		Scope:     gocloak.StringP("openid"),
	}, clientSecret)
}

// ClientCredentialsToken gets a service-account token for a confidential
// client.
func (k *Keycloak) ClientCredentialsToken(t testing.TB, clientID, clientSecret string) Tokens {
	t.Helper()
	return k.grant(t, gocloak.TokenOptions{
		ClientID:  gocloak.StringP(clientID),
		GrantType: gocloak.StringP("client_credentials"),
	}, clientSecret)
}

// Refresh uses a refresh token.
func (k *Keycloak) Refresh(t testing.TB, clientID, clientSecret, refreshToken string) Tokens {
	t.Helper()
	return k.grant(t, gocloak.TokenOptions{
		ClientID:     gocloak.StringP(clientID),
		GrantType:    gocloak.StringP("refresh_token"),
		RefreshToken: gocloak.StringP(refreshToken),
	}, clientSecret)
}

// PKCELogin configures LoginPKCEWith. Zero fields mean the mobile client
// of the tokenwarden realm.
type PKCELogin struct {
	ClientID    string   // default "mobile"
	RedirectURL string   // default "com.example.app:/callback"
	Scopes      []string // default openid
	Username    string
	Password    string
	// Jar holds the browser's cookies; nil means a new, empty jar. A login
	// with the jar of an earlier one reuses its Keycloak session (single
	// sign-on): no form is shown and the tokens carry the same sid.
	Jar http.CookieJar
	// DPoP, when set, sends the code exchange with a DPoP proof by this
	// key (RFC 9449): the tokens are bound to it. The DPoP client
	// (DPoPClientID) requires one.
	DPoP *dpop.Key
}

// LoginPKCE logs username in to the "mobile" client the way a Capacitor app
// does: authorization request with PKCE (S256), Keycloak's own login form
// filled in over HTTP, the redirect to com.example.app:/callback captured
// (not followed) and the code exchanged with the verifier.
func (k *Keycloak) LoginPKCE(t testing.TB, username, password string) Tokens {
	t.Helper()
	return k.LoginPKCEWith(t, PKCELogin{Username: username, Password: password})
}

// LoginPKCEWith is LoginPKCE with options.
func (k *Keycloak) LoginPKCEWith(t testing.TB, l PKCELogin) Tokens {
	t.Helper()
	tk, err := k.loginPKCE(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var (
	loginForm  = regexp.MustCompile(`(?is)<form[^>]*\bid="kc-form-login"[^>]*>`)
	formAction = regexp.MustCompile(`(?is)\baction="([^"]+)"`)
)

func (k *Keycloak) loginPKCE(ctx context.Context, l PKCELogin) (Tokens, error) {
	if l.ClientID == "" {
		l.ClientID = MobileClientID
	}
	if l.RedirectURL == "" {
		l.RedirectURL = MobileRedirectURL
	}
	if len(l.Scopes) == 0 {
		l.Scopes = []string{"openid"}
	}
	conf := &oauth2.Config{
		ClientID: l.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:   k.IssuerURL() + "/protocol/openid-connect/auth",
			TokenURL:  k.TokenURL(),
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: l.RedirectURL,
		Scopes:      l.Scopes,
	}
	verifier := oauth2.GenerateVerifier()
	state := randomString()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", randomString()))

	jar := l.Jar
	if jar == nil {
		var err error
		if jar, err = cookiejar.New(nil); err != nil {
			return Tokens{}, err
		}
	}
	browser := &http.Client{
		Jar:     jar,
		Timeout: k.HTTPClient.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), l.RedirectURL) || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
				return http.ErrUseLastResponse // the app's callback: capture, do not follow
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	loc, page, err := browse(ctx, browser, authURL)
	if err != nil {
		return Tokens{}, fmt.Errorf("keycloaktest: login page: %w", err)
	}
	if loc == "" {
		// No session yet: fill in Keycloak's login form.
		if loc, err = submitLogin(ctx, browser, page, l); err != nil {
			return Tokens{}, err
		}
	}
	if !strings.HasPrefix(loc, l.RedirectURL) {
		return Tokens{}, fmt.Errorf("keycloaktest: login of %q did not redirect to %s", l.Username, l.RedirectURL)
	}
	cb, err := url.Parse(loc)
	if err != nil {
		return Tokens{}, fmt.Errorf("keycloaktest: callback URL: %w", err)
	}
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		return Tokens{}, fmt.Errorf("keycloaktest: authorization error %q: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return Tokens{}, errors.New("keycloaktest: callback state does not match")
	}
	code := q.Get("code")
	if code == "" {
		return Tokens{}, errors.New("keycloaktest: callback without code")
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, k.client(l.DPoP)), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Tokens{}, fmt.Errorf("keycloaktest: code exchange: %w", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	expiresIn := 0
	if v, ok := tok.Extra("expires_in").(float64); ok {
		expiresIn = int(v)
	}
	return newTokens(tok.AccessToken, tok.RefreshToken, idToken, tok.TokenType, expiresIn), nil
}

// browse GETs u with the browser: the callback location when Keycloak
// redirects straight to it (an existing session), else the page.
func browse(ctx context.Context, browser *http.Client, u string) (loc, page string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return "", string(b), nil
	case http.StatusFound, http.StatusSeeOther:
		return resp.Header.Get("Location"), "", nil
	}
	return "", "", fmt.Errorf("HTTP %d", resp.StatusCode)
}

// submitLogin fills in Keycloak's login form on page and returns where
// Keycloak redirects.
func submitLogin(ctx context.Context, browser *http.Client, page string, l PKCELogin) (string, error) {
	form := loginForm.FindString(page)
	if form == "" {
		return "", errors.New("keycloaktest: no login form (kc-form-login) in the login page")
	}
	m := formAction.FindStringSubmatch(form)
	if m == nil {
		return "", errors.New("keycloaktest: login form has no action")
	}
	action := html.UnescapeString(m[1])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(url.Values{
		"username": {l.Username}, "password": {l.Password}, "credentialId": {""},
	}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browser.Do(req)
	if err != nil {
		return "", fmt.Errorf("keycloaktest: post credentials: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("keycloaktest: login of %q did not redirect (HTTP %d): wrong credentials or a required action", l.Username, resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// GrantError is Keycloak's refusal of a token request.
type GrantError struct {
	Status      int
	Code        string // error, e.g. "invalid_grant"
	Description string // error_description
}

func (e *GrantError) Error() string {
	return fmt.Sprintf("keycloaktest: token endpoint: HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

// Token posts form to the realm's token endpoint, as client_id (in form)
// authenticated with clientSecret (HTTP Basic) when it is not empty, and
// returns the tokens, or a *GrantError for Keycloak's refusal: the request
// for grants the other helpers do not cover (scope=offline_access, a
// refresh-token replay, RFC 8693 token exchange).
func (k *Keycloak) Token(t testing.TB, clientSecret string, form url.Values) (Tokens, error) {
	t.Helper()
	return k.token(t, k.HTTPClient, clientSecret, form)
}

// TokenDPoP is Token with a DPoP proof by key (RFC 9449): Keycloak binds
// the tokens to the key (token_type "DPoP", access token typ "DPoP" and
// cnf.jkt the key's thumbprint), and a bound refresh token is refreshed
// only this way.
func (k *Keycloak) TokenDPoP(t testing.TB, key *dpop.Key, clientSecret string, form url.Values) (Tokens, error) {
	t.Helper()
	return k.token(t, k.client(key), clientSecret, form)
}

// PasswordTokenDPoP is PasswordToken with a DPoP proof by key: the tokens
// are bound to it.
func (k *Keycloak) PasswordTokenDPoP(t testing.TB, key *dpop.Key, clientID, clientSecret, username, password string) Tokens {
	t.Helper()
	tk, err := k.TokenDPoP(t, key, clientSecret, url.Values{"grant_type": {"password"}, "client_id": {clientID},
		"username": {username}, "password": {password}, "scope": {"openid"}})
	if err != nil {
		t.Fatalf("keycloaktest: DPoP password grant for client %q: %v", clientID, err)
	}
	return tk
}

// RefreshDPoP uses a refresh token with a DPoP proof by key, which Keycloak
// requires for a bound refresh token of a public client.
func (k *Keycloak) RefreshDPoP(t testing.TB, key *dpop.Key, clientID, clientSecret, refreshToken string) Tokens {
	t.Helper()
	tk, err := k.TokenDPoP(t, key, clientSecret, url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID},
		"refresh_token": {refreshToken}})
	if err != nil {
		t.Fatalf("keycloaktest: DPoP refresh for client %q: %v", clientID, err)
	}
	return tk
}

// client returns HTTPClient, or one that signs DPoP proofs with key.
func (k *Keycloak) client(key *dpop.Key) *http.Client {
	if key == nil {
		return k.HTTPClient
	}
	c := *k.HTTPClient
	c.Transport = &dpop.Transport{Key: key, Base: k.HTTPClient.Transport}
	return &c
}

func (k *Keycloak) token(t testing.TB, hc *http.Client, clientSecret string, form url.Values) (Tokens, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, k.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(form.Get("client_id")), url.QueryEscape(clientSecret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("keycloaktest: token endpoint: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		t.Fatalf("keycloaktest: token endpoint: HTTP %d: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Tokens{}, &GrantError{Status: resp.StatusCode, Code: body.Error, Description: body.Description}
	}
	return newTokens(body.AccessToken, body.RefreshToken, body.IDToken, body.TokenType, body.ExpiresIn), nil
}
