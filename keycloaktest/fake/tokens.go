package fake

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tokens are the tokens of one grant (keycloaktest.Tokens is this type).
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	TokenType    string
	ExpiresIn    int
	// SessionID and Subject are the sid and sub claims of the access token.
	SessionID string
	Subject   string
}

// session is a user session (an SSO session) and the clients that have a
// client session in it.
type session struct {
	id       string
	userID   string
	started  time.Time
	lastUsed time.Time
	authTime int64 // set by a browser login
	clients  map[string]bool
}

func (k *Keycloak) sessionAliveLocked(s *session, now time.Time) bool {
	return now.Sub(s.lastUsed) <= k.idle && now.Sub(s.started) <= k.maxAge
}

// liveSessionLocked returns the session if it exists and has not timed out;
// a timed-out session is dropped silently, as Keycloak does.
func (k *Keycloak) liveSessionLocked(sid string, now time.Time) *session {
	s, ok := k.sessions[sid]
	if !ok {
		return nil
	}
	if !k.sessionAliveLocked(s, now) {
		delete(k.sessions, sid)
		return nil
	}
	return s
}

func (k *Keycloak) newSessionLocked(u *user, now time.Time) *session {
	s := &session{id: sessionID(), userID: u.ID, started: now, lastUsed: now, clients: map[string]bool{}}
	k.sessions[s.id] = s
	return s
}

// grant is what a token response is made of.
type grant struct {
	u      *user
	c      *client
	s      *session // nil for client_credentials
	kind   string   // jti grant shortcut: ro, rt, cc, ac
	openid bool     // scope openid: an ID token is issued
	nonce  string
	addr   string // the caller's address, for service-account tokens
	jkt    string // the thumbprint of the DPoP key the tokens are bound to
}

// jti returns an access token id in Keycloak 26.2+'s form
// <session type><token type><grant>:<id>, e.g. onrtro:….
func jti(g grant) string {
	sess := "on"
	if g.s == nil {
		sess = "tr"
	}
	return sess + "rt" + g.kind + ":" + keycloakID()
}

func (u *user) profile(o *object) {
	if u.serviceAccount {
		o.set("email_verified", false)
		return
	}
	o.set("email_verified", u.Email != "")
	o.setIf("name", strings.TrimSpace(u.FirstName+" "+u.LastName))
	o.set("preferred_username", u.Username)
	o.setIf("given_name", u.FirstName)
	o.setIf("family_name", u.LastName)
	o.setIf("email", u.Email)
}

func (u *user) realmAccess() map[string]any {
	if len(u.RealmRoles) == 0 {
		return nil
	}
	roles := slices.Clone(u.RealmRoles)
	slices.Sort(roles)
	return map[string]any{"roles": roles}
}

func (u *user) resourceAccess() map[string]any {
	m := map[string]any{}
	for c, rs := range u.ClientRoles {
		if len(rs) == 0 {
			continue
		}
		roles := slices.Clone(rs)
		slices.Sort(roles)
		m[c] = map[string]any{"roles": roles}
	}
	return m
}

// audience is the access token's aud: the client's audience mappers, then
// every other client whose roles the user has (Keycloak's "audience
// resolve" mapper), without the client itself.
func audience(c *client, u *user) []string {
	var aud []string
	add := func(id string) {
		if id != c.ID && !slices.Contains(aud, id) {
			aud = append(aud, id)
		}
	}
	for _, a := range c.Audience {
		add(a)
	}
	var others []string
	for id, rs := range u.ClientRoles {
		if len(rs) > 0 {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	for _, id := range others {
		add(id)
	}
	return aud
}

// audValue is a string for one audience, an array for several, as Keycloak
// writes aud.
func audValue(aud []string) any {
	switch len(aud) {
	case 0:
		return nil
	case 1:
		return aud[0]
	}
	return aud
}

func (g grant) accessScope() string {
	if g.openid {
		return "openid profile email"
	}
	return "profile email"
}

func (g grant) refreshScope() string {
	s := []string{"profile", "basic", "web-origins", "email", "roles"}
	if g.openid {
		s = append([]string{"openid"}, s...)
	}
	if g.c.ServiceAccount {
		s = append(s, "service_account")
	}
	return strings.Join(append(s, "acr"), " ")
}

func (k *Keycloak) accessClaims(g grant, now time.Time) *object {
	o := newObject().set("exp", now.Add(k.lifespan).Unix()).set("iat", now.Unix())
	if g.s != nil && g.s.authTime != 0 {
		o.set("auth_time", g.s.authTime)
	}
	o.set("jti", jti(g)).set("iss", k.IssuerURL())
	o.setIf("aud", audValue(audience(g.c, g.u)))
	typ := "Bearer"
	if g.jkt != "" {
		typ = "DPoP"
	}
	o.set("sub", g.u.ID).set("typ", typ).set("azp", g.c.ID)
	if g.s != nil {
		o.set("sid", g.s.id)
	}
	o.set("acr", "1")
	o.setIf("allowed-origins", slices.Clone(g.c.WebOrigins))
	o.setIf("realm_access", g.u.realmAccess())
	o.setIf("resource_access", g.u.resourceAccess())
	if g.jkt != "" {
		o.set("cnf", cnf(g.jkt))
	}
	o.set("scope", g.accessScope())
	g.u.profile(o)
	if g.u.serviceAccount {
		// Keycloak's service-account mappers, in its order.
		o.set("clientHost", g.addr).set("preferred_username", g.u.Username).
			set("clientAddress", g.addr).set("client_id", g.c.ID)
	}
	return o
}

func (k *Keycloak) idClaims(g grant, now time.Time, accessToken string) *object {
	o := newObject().set("exp", now.Add(k.lifespan).Unix()).set("iat", now.Unix())
	if g.s.authTime != 0 {
		o.set("auth_time", g.s.authTime)
	}
	o.set("jti", keycloakID()).set("iss", k.IssuerURL()).set("aud", g.c.ID).set("sub", g.u.ID).
		set("typ", "ID").set("azp", g.c.ID)
	o.setIf("nonce", g.nonce)
	sum := sha256.Sum256([]byte(accessToken))
	o.set("sid", g.s.id).set("at_hash", b64(sum[:16])).set("acr", "1")
	g.u.profile(o)
	return o
}

// refreshExpiry is when the session, hence its refresh token, expires.
func (k *Keycloak) refreshExpiry(s *session, now time.Time) time.Time {
	if end := s.started.Add(k.maxAge); end.Before(now.Add(k.idle)) {
		return end
	}
	return now.Add(k.idle)
}

func (k *Keycloak) refreshClaims(g grant, now time.Time, aud []string) *object {
	o := newObject().set("exp", k.refreshExpiry(g.s, now).Unix()).set("iat", now.Unix()).
		set("jti", keycloakID()).set("iss", k.IssuerURL()).set("aud", k.IssuerURL()).
		set("sub", g.u.ID).set("typ", "Refresh").set("azp", g.c.ID).set("sid", g.s.id)
	if g.jkt != "" {
		o.set("cnf", cnf(g.jkt))
	}
	o.set("scope", g.refreshScope())
	o.setIf("aud_x", audValue(aud))
	return o.set("prov", "default")
}

// issueLocked signs the tokens of a grant and returns Keycloak's token
// response.
func (k *Keycloak) issueLocked(g grant) (*object, Tokens, error) {
	now := k.now()
	at := k.accessClaims(g, now)
	access, err := k.signLocked("RS256", "JWT", at)
	if err != nil {
		return nil, Tokens{}, err
	}
	tokenType := "Bearer"
	if g.jkt != "" {
		tokenType = "DPoP"
	}
	tk := Tokens{AccessToken: access, TokenType: tokenType, ExpiresIn: int(k.lifespan / time.Second), Subject: g.u.ID}
	resp := newObject().set("access_token", access).set("expires_in", tk.ExpiresIn)
	if g.s == nil {
		resp.set("refresh_expires_in", 0).set("token_type", tokenType).set("not-before-policy", k.notBefore).
			set("scope", g.accessScope())
		return resp, tk, nil
	}
	g.s.clients[g.c.ID] = true
	g.s.lastUsed = now
	tk.SessionID = g.s.id
	rt := k.refreshClaims(g, now, audience(g.c, g.u))
	if tk.RefreshToken, err = k.signLocked("HS512", "JWT", rt); err != nil {
		return nil, Tokens{}, err
	}
	resp.set("refresh_expires_in", int(k.refreshExpiry(g.s, now).Sub(now)/time.Second)).
		set("refresh_token", tk.RefreshToken).set("token_type", tokenType)
	if g.openid {
		if tk.IDToken, err = k.signLocked("RS256", "JWT", k.idClaims(g, now, access)); err != nil {
			return nil, Tokens{}, err
		}
		resp.set("id_token", tk.IDToken)
	}
	resp.set("not-before-policy", k.notBefore).set("session_state", g.s.id).set("scope", g.accessScope())
	return resp, tk, nil
}

// LogoutToken describes a back-channel logout token for
// [Keycloak.LogoutToken].
type LogoutToken struct {
	// ClientID is the aud: the client whose back-channel logout URL gets
	// the token.
	ClientID string
	// SessionID is the sid; empty leaves sid out.
	SessionID string
	// Subject is the sub; default the user of the session SessionID.
	Subject string
	// RevokeOfflineAccess adds "revoke_offline_access": true to events.
	RevokeOfflineAccess bool
}

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

func (k *Keycloak) logoutClaims(lt LogoutToken, now time.Time) *object {
	events := newObject().set(backchannelEvent, map[string]any{})
	if lt.RevokeOfflineAccess {
		events.set("revoke_offline_access", true)
	}
	o := newObject().set("exp", now.Add(2*time.Minute).Unix()).set("iat", now.Unix()).set("jti", keycloakID()).
		set("iss", k.IssuerURL()).set("aud", lt.ClientID).set("sub", lt.Subject).set("typ", "Logout")
	o.setIf("sid", lt.SessionID)
	return o.set("events", events)
}

// LogoutToken mints a back-channel logout token as Keycloak sends it:
// header typ logout+jwt, signed by the realm key, exp two minutes after
// iat, no nonce. The session need not exist.
func (k *Keycloak) LogoutToken(t testing.TB, lt LogoutToken) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if lt.ClientID == "" {
		t.Fatal("fake: LogoutToken without ClientID")
	}
	if lt.Subject == "" {
		if s, ok := k.sessions[lt.SessionID]; ok {
			lt.Subject = s.userID
		} else {
			t.Fatalf("fake: LogoutToken without Subject, and no session %q to take it from", lt.SessionID)
		}
	}
	tok, err := k.signLocked("RS256", "logout+jwt", k.logoutClaims(lt, k.now()))
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	return tok
}

// Actions of the admin messages Keycloak sends to a client's admin URL.
const (
	ActionLogout        = "LOGOUT"          // POST <adminURL>/k_logout
	ActionPushNotBefore = "PUSH_NOT_BEFORE" // POST <adminURL>/k_push_not_before
)

// AdminAction is the payload of a k_logout (Keycloak's LogoutAction) or
// k_push_not_before (PushNotBeforeAction) message.
type AdminAction struct {
	// ID defaults to a random id in Keycloak's form.
	ID string `json:"id"`
	// Expiration (Unix seconds) defaults to 30 seconds from now.
	Expiration int64 `json:"expiration"`
	// Resource is the client id the message is for.
	Resource string `json:"resource"`
	// Action is ActionLogout or ActionPushNotBefore.
	Action            string   `json:"action"`
	AdapterSessionIDs []string `json:"adapterSessionIds,omitempty"`
	// NotBefore (Unix seconds): tokens issued earlier are no longer valid.
	NotBefore          int64    `json:"notBefore"`
	KeycloakSessionIDs []string `json:"keycloakSessionIds,omitempty"`
}

func (k *Keycloak) adminMessageLocked(a AdminAction) (string, error) {
	now := k.now()
	if a.ID == "" {
		a.ID = fmt.Sprintf("%s-%d", keycloakID(), now.UnixMilli())
	}
	if a.Expiration == 0 {
		a.Expiration = now.Unix() + 30
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	o, err := decodeObject(b)
	if err != nil {
		return "", err
	}
	return k.signLocked("RS256", "JWT", o)
}

// AdminMessage signs an admin message with the realm key, as Keycloak does:
// a compact JWS sent as the text/plain body of the POST.
func (k *Keycloak) AdminMessage(t testing.TB, a AdminAction) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	msg, err := k.adminMessageLocked(a)
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	return msg
}

// Resign returns token (a compact JWS, e.g. one of this realm's) with its
// header and claims changed by edit, signed again: RS256 by the realm key
// its kid names, else by the current key (the kid is kept); HS512 by the
// realm's secret; "none" not at all. A nil value deletes a member.
func (k *Keycloak) Resign(t testing.TB, token string, edit func(header, claims map[string]any)) string {
	t.Helper()
	j, err := splitJWS(token)
	if err != nil {
		t.Fatalf("fake: Resign: %v", err)
	}
	if edit != nil {
		h, c := j.header.asMap(), j.claims.asMap()
		edit(h, c)
		for n, v := range h {
			if v == nil {
				delete(h, n)
			}
		}
		for n, v := range c {
			if v == nil {
				delete(c, n)
			}
		}
		j.header.replace(h)
		j.claims.replace(c)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var key any
	switch alg := j.header.str("alg"); alg {
	case "RS256":
		if i := k.keyLocked(j.header.str("kid")); i >= 0 {
			key = k.keys[i].priv
		} else if rk := k.signingKeyLocked(); rk != nil {
			key = rk.priv
		}
	case "HS512":
		key = k.hmacKey
	case "none":
	default:
		t.Fatalf("fake: Resign: cannot sign with alg %q", alg)
	}
	tok, err := sign(j.header, j.claims, key)
	if err != nil {
		t.Fatalf("fake: Resign: %v", err)
	}
	return tok
}

// Fault is a way to spoil a token, for [Keycloak.Break].
type Fault int

const (
	// Expired moves exp (or an admin message's expiration) a minute into
	// the past, keeping the token's lifetime.
	Expired Fault = iota + 1
	// UnknownKey signs with a key the realm does not have, under a kid its
	// JWKS does not list.
	UnknownKey
	// BadSignature keeps header and payload and replaces the signature by
	// one of another key: the kid is known, the signature wrong.
	BadSignature
	// OtherIssuer sets iss to another realm of the same server, signed by
	// this realm's key.
	OtherIssuer
	// Unsigned sets alg to "none" and drops the signature.
	Unsigned
)

func (f Fault) String() string {
	switch f {
	case Expired:
		return "expired"
	case UnknownKey:
		return "unknown key"
	case BadSignature:
		return "bad signature"
	case OtherIssuer:
		return "other issuer"
	case Unsigned:
		return "unsigned"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Break returns a copy of token (a compact JWS this realm signed) spoiled
// in one way.
func (k *Keycloak) Break(t testing.TB, token string, f Fault) string {
	t.Helper()
	j, err := splitJWS(token)
	if err != nil {
		t.Fatalf("fake: Break: %v", err)
	}
	hs := j.header.str("alg") == "HS512"
	switch f {
	case Expired:
		now := k.now().Unix()
		return k.Resign(t, token, func(_, c map[string]any) {
			if _, ok := c["expiration"]; ok {
				c["expiration"] = now - 60
				return
			}
			exp, hasExp := j.claims.num("exp")
			if iat, ok := j.claims.num("iat"); ok && hasExp {
				c["iat"] = now - 60 - (exp - iat)
			}
			c["exp"] = now - 60
		})
	case OtherIssuer:
		return k.Resign(t, token, func(_, c map[string]any) { c["iss"] = k.IssuerURL() + "-other" })
	case Unsigned:
		return k.Resign(t, token, func(h, _ map[string]any) { h["alg"] = "none" })
	case UnknownKey, BadSignature:
		if f == UnknownKey {
			kid := "unknown-" + keycloakID()
			if !hs {
				priv, err := foreignKey()
				if err != nil {
					t.Fatal(err)
				}
				if kid, err = keyID(&priv.PublicKey); err != nil {
					t.Fatal(err)
				}
			}
			j.header.set("kid", kid)
		}
		var key any
		if hs {
			key = []byte(randomHex(32))
		} else {
			priv, err := foreignKey()
			if err != nil {
				t.Fatal(err)
			}
			key = priv
		}
		tok, err := sign(j.header, j.claims, key)
		if err != nil {
			t.Fatalf("fake: Break: %v", err)
		}
		return tok
	}
	t.Fatalf("fake: Break: unknown fault %v", f)
	return ""
}
