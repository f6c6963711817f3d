package fake

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// delivery is one POST Keycloak makes to a client.
type delivery struct {
	url, contentType, body string
}

const (
	formType = "application/x-www-form-urlencoded"
	// textType is the Content-Type of Keycloak's admin messages.
	textType = "text/plain; charset=ISO-8859-1"
)

// endSessionLocked removes a user session and returns the logout tokens
// for the clients of the session that have a back-channel logout URL.
func (k *Keycloak) endSessionLocked(s *session, now time.Time) []delivery {
	delete(k.sessions, s.id)
	var ds []delivery
	for _, id := range slices.Sorted(maps.Keys(s.clients)) {
		c, ok := k.clients[id]
		if !ok || c.BackchannelLogoutURL == "" {
			continue
		}
		lt := LogoutToken{ClientID: c.ID, Subject: s.userID, RevokeOfflineAccess: c.BackchannelLogoutRevokeOffline}
		if !c.BackchannelLogoutNoSession {
			lt.SessionID = s.id
		}
		tok, err := k.signLocked("RS256", "logout+jwt", k.logoutClaims(lt, now))
		if err != nil {
			continue // no active key: Keycloak would fail the same way
		}
		ds = append(ds, delivery{url: c.BackchannelLogoutURL, contentType: formType,
			body: url.Values{"logout_token": {tok}}.Encode()})
	}
	return ds
}

func (k *Keycloak) post(d delivery) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, strings.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", d.contentType)
	resp, err := k.out.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// deliver sends the POSTs one after the other, as Keycloak does inside the
// logout. Failures are not retried; they are logged when t is not nil.
func (k *Keycloak) deliver(t testing.TB, ds []delivery) {
	for _, d := range ds {
		status, err := k.post(d)
		if t == nil {
			continue
		}
		switch {
		case err != nil:
			t.Logf("fake: back-channel logout to %s: %v", d.url, err)
		case status != http.StatusOK && status != http.StatusNoContent:
			t.Logf("fake: back-channel logout to %s: HTTP %d", d.url, status)
		}
	}
}

// PostLogoutToken POSTs a logout token to url as Keycloak does (form
// logout_token=…) and returns the HTTP status.
func (k *Keycloak) PostLogoutToken(t testing.TB, url, logoutToken string) int {
	t.Helper()
	status, err := k.post(delivery{url: url, contentType: formType, body: "logout_token=" + logoutToken})
	if err != nil {
		t.Fatalf("fake: post logout token: %v", err)
	}
	return status
}

// PostAdminMessage POSTs an admin message (see [Keycloak.AdminMessage]) to
// url, e.g. adminURL + "/k_logout", as text/plain the way Keycloak does,
// and returns the HTTP status.
func (k *Keycloak) PostAdminMessage(t testing.TB, url, msg string) int {
	t.Helper()
	status, err := k.post(delivery{url: url, contentType: textType, body: msg})
	if err != nil {
		t.Fatalf("fake: post admin message: %v", err)
	}
	return status
}

// LogoutUser ends every session of the user (admin "Sign out"): it sets the
// user's not-before to now and POSTs a logout token per session to each
// client of the session that has a back-channel logout URL.
func (k *Keycloak) LogoutUser(t testing.TB, username string) {
	t.Helper()
	k.mu.Lock()
	u := k.userByNameLocked(username)
	if u == nil {
		k.mu.Unlock()
		t.Fatalf("fake: no user %q", username)
	}
	now := k.now()
	u.notBefore = now.Unix()
	var ds []delivery
	for _, s := range k.sessions {
		if s.userID == u.ID {
			ds = append(ds, k.endSessionLocked(s, now)...)
		}
	}
	k.mu.Unlock()
	k.deliver(t, ds)
}

// DeleteSession ends one user session by id (the sid claim), sending its
// logout tokens.
func (k *Keycloak) DeleteSession(t testing.TB, sid string) {
	t.Helper()
	k.mu.Lock()
	now := k.now()
	s := k.liveSessionLocked(sid, now)
	if s == nil {
		k.mu.Unlock()
		t.Fatalf("fake: no session %q", sid)
	}
	ds := k.endSessionLocked(s, now)
	k.mu.Unlock()
	k.deliver(t, ds)
}

// GlobalRequestResult is the answer to PushRevocation and LogoutAll: the
// admin URLs that were (not) reached.
type GlobalRequestResult struct {
	SuccessRequests []string `json:"successRequests"`
	FailedRequests  []string `json:"failedRequests"`
}

// SetNotBeforeNow sets the realm's not-before to now (tokens issued
// earlier become invalid) and returns it.
func (k *Keycloak) SetNotBeforeNow(t testing.TB) int64 {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.notBefore = k.now().Unix()
	return k.notBefore
}

// SetClientNotBeforeNow sets the client's not-before to now and returns it.
func (k *Keycloak) SetClientNotBeforeNow(t testing.TB, clientID string) int64 {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.mustClientLocked(t, clientID)
	c.notBefore = k.now().Unix()
	return c.notBefore
}

// adminLocked signs one admin message per client with an admin URL.
func (k *Keycloak) adminLocked(action string, clients []*client) ([]delivery, error) {
	path := "/k_push_not_before"
	if action == ActionLogout {
		path = "/k_logout"
	}
	var ds []delivery
	for _, c := range clients {
		if c.AdminURL == "" {
			continue
		}
		msg, err := k.adminMessageLocked(AdminAction{Resource: c.ID, Action: action, NotBefore: max(k.notBefore, c.notBefore)})
		if err != nil {
			return nil, err
		}
		ds = append(ds, delivery{url: c.AdminURL + path, contentType: textType, body: msg})
	}
	return ds, nil
}

func (k *Keycloak) sortedClientsLocked() []*client {
	var cs []*client
	for _, c := range k.clients {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *client) int { return strings.Compare(a.ID, b.ID) })
	return cs
}

func (k *Keycloak) broadcast(ds []delivery, path string) GlobalRequestResult {
	res := GlobalRequestResult{SuccessRequests: []string{}, FailedRequests: []string{}}
	for _, d := range ds {
		base := strings.TrimSuffix(d.url, path)
		if status, err := k.post(d); err == nil && status/100 == 2 {
			res.SuccessRequests = append(res.SuccessRequests, base)
		} else {
			res.FailedRequests = append(res.FailedRequests, base)
		}
	}
	return res
}

// PushRevocation sends the not-before (the later of the realm's and the
// client's) to every client with an admin URL: POST
// <adminURL>/k_push_not_before.
func (k *Keycloak) PushRevocation(t testing.TB) GlobalRequestResult {
	t.Helper()
	k.mu.Lock()
	ds, err := k.adminLocked(ActionPushNotBefore, k.sortedClientsLocked())
	k.mu.Unlock()
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	return k.broadcast(ds, "/k_push_not_before")
}

// PushClientRevocation sends the client's not-before to its admin URL.
func (k *Keycloak) PushClientRevocation(t testing.TB, clientID string) GlobalRequestResult {
	t.Helper()
	ds := func() []delivery {
		k.mu.Lock()
		defer k.mu.Unlock()
		ds, err := k.adminLocked(ActionPushNotBefore, []*client{k.mustClientLocked(t, clientID)})
		if err != nil {
			t.Fatalf("fake: %v", err)
		}
		return ds
	}()
	return k.broadcast(ds, "/k_push_not_before")
}

// LogoutAll is the admin console's "Sign out all active sessions": realm
// not-before = now, every session dropped, k_logout sent to every client
// with an admin URL. No logout tokens are sent.
func (k *Keycloak) LogoutAll(t testing.TB) GlobalRequestResult {
	t.Helper()
	k.mu.Lock()
	k.notBefore = k.now().Unix()
	clear(k.sessions)
	ds, err := k.adminLocked(ActionLogout, k.sortedClientsLocked())
	k.mu.Unlock()
	if err != nil {
		t.Fatalf("fake: %v", err)
	}
	return k.broadcast(ds, "/k_logout")
}
