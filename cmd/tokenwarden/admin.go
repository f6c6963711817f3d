package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/Nerzal/gocloak/v13"
	"github.com/go-resty/resty/v2"
)

// keycloakAdmin is a logged-in client of Keycloak's admin REST API.
type keycloakAdmin struct {
	gc    *gocloak.GoCloak
	base  string
	realm string
	token string
	end   func(context.Context) // ends the admin session, best effort
}

// discardLogger keeps resty quiet: the CLI reports errors itself, and
// resty's own messages could carry request details.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

func newGoCloak(base string, hc *http.Client) *gocloak.GoCloak {
	gc := gocloak.NewClient(base)
	rc := resty.NewWithClient(hc)
	rc.SetLogger(discardLogger{})
	// The client follows no redirect, and resty counts a 3xx as neither
	// success nor error, so gocloak would report an admin action that never
	// happened as done: make every 3xx an error.
	rc.OnAfterResponse(func(_ *resty.Client, r *resty.Response) error {
		if code := r.StatusCode(); code >= 300 && code < 400 {
			return &gocloak.APIError{Code: code, Message: "unexpected redirect: " + r.Status()}
		}
		return nil
	})
	gc.SetRestyClient(rc)
	return gc
}

// adminLogin logs in to the admin API: as the admin user when one is
// configured (password grant on admin-cli in the admin realm), else as the
// confidential client's service account in the target realm (it then needs
// the realm-management roles view-users, manage-users and manage-realm).
func (o *options) adminLogin(ctx context.Context, a *app) (*keycloakAdmin, error) {
	base, realm, err := o.keycloak()
	if err != nil {
		return nil, err
	}
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	gc := newGoCloak(base, hc)
	k := &keycloakAdmin{gc: gc, base: base, realm: realm, end: func(context.Context) {}}
	switch {
	case o.adminUser != "":
		if !validName(o.adminRealm) {
			return nil, usagef("invalid admin realm name %q", o.adminRealm)
		}
		pw, err := o.adminPassword(a)
		if err != nil {
			return nil, err
		}
		if pw == "" {
			return nil, usagef("no admin password: set --admin-password-file or KEYCLOAK_ADMIN_PASSWORD")
		}
		jwt, err := gc.LoginAdmin(ctx, o.adminUser, pw, o.adminRealm)
		if err != nil {
			return nil, fmt.Errorf("admin login as %q in realm %q: %w", o.adminUser, o.adminRealm, err)
		}
		k.token = jwt.AccessToken
		if rt, adminRealm := jwt.RefreshToken, o.adminRealm; rt != "" {
			k.end = func(ctx context.Context) { _ = gc.Logout(ctx, "admin-cli", "", adminRealm, rt) }
		}
	case o.clientID != "":
		secret, err := o.clientSecret(a)
		if err != nil {
			return nil, err
		}
		if secret == "" {
			return nil, usagef("no client secret: set --client-secret-file or TOKENWARDEN_CLIENT_SECRET")
		}
		jwt, err := gc.LoginClient(ctx, o.clientID, secret, realm)
		if err != nil {
			return nil, fmt.Errorf("service-account login as client %q: %w", o.clientID, err)
		}
		k.token = jwt.AccessToken
	default:
		return nil, usagef("no admin credentials: set --admin-user (KEYCLOAK_ADMIN_USER) with KEYCLOAK_ADMIN_PASSWORD, or --client-id with a secret for a service account")
	}
	return k, nil
}

// user resolves --user or --user-id to the user's id and username.
func (k *keycloakAdmin) user(ctx context.Context, o *options) (id, username string, err error) {
	switch {
	case o.userID != "" && o.user != "":
		return "", "", usagef("give --user or --user-id, not both")
	case o.userID != "":
		if !validName(o.userID) {
			return "", "", usagef("invalid user id %q", o.userID)
		}
		u, err := k.gc.GetUserByID(ctx, k.token, k.realm, o.userID)
		if err != nil {
			return "", "", fmt.Errorf("user %s: %w", o.userID, err)
		}
		return o.userID, deref(u.Username), nil
	case o.user != "":
		users, err := k.gc.GetUsers(ctx, k.token, k.realm, gocloak.GetUsersParams{
			Username: gocloak.StringP(o.user),
			Exact:    gocloak.BoolP(true),
		})
		if err != nil {
			return "", "", fmt.Errorf("look up user %q: %w", o.user, err)
		}
		for _, u := range users {
			if u != nil && strings.EqualFold(deref(u.Username), o.user) && deref(u.ID) != "" {
				return deref(u.ID), deref(u.Username), nil
			}
		}
		return "", "", &notFoundError{fmt.Sprintf("no user %q in realm %q", o.user, k.realm)}
	default:
		return "", "", usagef("give --user or --user-id")
	}
}

// notFoundError is an unknown user or session: exit code 4.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// partialError is a push that not every admin URL acknowledged: exit code 5.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// session is a user session as the CLI prints it.
type session struct {
	ID         string    `json:"id"`
	Username   string    `json:"username,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	IPAddress  string    `json:"ip_address,omitempty"`
	Start      time.Time `json:"start"`
	LastAccess time.Time `json:"last_access"`
	Clients    []string  `json:"clients"`
}

func (k *keycloakAdmin) sessions(ctx context.Context, userID string) ([]session, error) {
	reps, err := k.gc.GetUserSessions(ctx, k.token, k.realm, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]session, 0, len(reps))
	for _, r := range reps {
		if r == nil {
			continue
		}
		s := session{
			ID:         deref(r.ID),
			Username:   deref(r.Username),
			UserID:     deref(r.UserID),
			IPAddress:  deref(r.IPAddress),
			Start:      millis(deref(r.Start)),
			LastAccess: millis(deref(r.LastAccess)),
			Clients:    []string{},
		}
		for _, clientID := range deref(r.Clients) {
			s.Clients = append(s.Clients, clientID)
		}
		sort.Strings(s.Clients)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// userNotBefore reads the user's not-before (seconds), which gocloak's User
// type does not expose.
func (k *keycloakAdmin) userNotBefore(ctx context.Context, userID string) (int64, error) {
	var rep struct {
		NotBefore int64 `json:"notBefore"`
	}
	resp, err := k.gc.GetRequestWithBearerAuth(ctx, k.token).
		SetResult(&rep).
		Get(k.adminURL("users", userID))
	if err := restyError(resp, err, "read user"); err != nil {
		return 0, err
	}
	return rep.NotBefore, nil
}

func (k *keycloakAdmin) adminURL(path ...string) string {
	return k.base + "/admin/realms/" + k.realm + "/" + strings.Join(path, "/")
}

// globalRequestResult is Keycloak's answer to a push: the admin URLs that
// acknowledged and those that did not.
type globalRequestResult struct {
	SuccessRequests []string `json:"successRequests"`
	FailedRequests  []string `json:"failedRequests"`
}

// setRealmNotBefore sets the realm's not-before the way the admin console's
// "Set to now" does: a partial realm update carrying only notBefore.
func (k *keycloakAdmin) setRealmNotBefore(ctx context.Context, notBefore int64) error {
	nb := int(notBefore)
	err := k.gc.UpdateRealm(ctx, k.token, gocloak.RealmRepresentation{
		Realm:     gocloak.StringP(k.realm),
		NotBefore: &nb,
	})
	if err != nil {
		return fmt.Errorf("set realm not-before: %w", err)
	}
	return nil
}

// pushRevocation is POST /admin/realms/{realm}/push-revocation (not in
// gocloak v13): Keycloak sends the realm's not-before to every client with
// an admin URL as a signed PushNotBeforeAction.
func (k *keycloakAdmin) pushRevocation(ctx context.Context) (globalRequestResult, error) {
	var res globalRequestResult
	resp, err := k.gc.GetRequestWithBearerAuth(ctx, k.token).
		SetResult(&res).
		Post(k.adminURL("push-revocation"))
	if err := restyError(resp, err, "push revocation"); err != nil {
		return globalRequestResult{}, err
	}
	return res, nil
}

// restyError turns a raw admin request's outcome into a *gocloak.APIError,
// as gocloak's own methods do, so that exitCode classifies both alike.
func restyError(resp *resty.Response, err error, what string) error {
	if err != nil {
		return &gocloak.APIError{Code: 0, Message: what + ": " + err.Error()}
	}
	if resp == nil {
		return &gocloak.APIError{Code: 0, Message: what + ": empty response"}
	}
	if resp.IsError() {
		return &gocloak.APIError{Code: resp.StatusCode(), Message: what + ": " + resp.Status()}
	}
	return nil
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var (
		ue  *usageError
		nf  *notFoundError
		pe  *partialError
		api *gocloak.APIError
		ne  net.Error
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nf):
		return exitRefused
	case errors.As(err, &pe):
		return exitPartial
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &ne):
		return exitUnavailable
	case errors.As(err, &api):
		if api.Code == 0 || api.Code >= 500 {
			return exitUnavailable
		}
		return exitRefused
	}
	return tokenExitCode(err)
}

// report prints the error, if any, and returns the exit code.
func (a *app) report(cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(a.stderr, "tokenwarden %s: %v\n", cmd, err)
	return exitCode(err)
}

func (o *options) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.timeout)
}

// ---- sessions ----

// adminCommandFlags registers what every admin command reads: the
// connection, the admin credentials and the client (for a service-account
// login).
func adminCommandFlags(o *options, fs *flag.FlagSet, a *app) {
	o.connFlags(fs, a)
	o.adminFlags(fs, a)
	o.clientFlags(fs, a)
}

func sessionsFlags(o *options, fs *flag.FlagSet, a *app) {
	adminCommandFlags(o, fs, a)
	o.userFlags(fs)
}

func runSessions(ctx context.Context, x *invocation) int {
	k, err := x.o.adminLogin(ctx, x.app)
	if err != nil {
		return x.report(err)
	}
	defer k.end(context.WithoutCancel(ctx))
	id, username, err := k.user(ctx, &x.o)
	if err != nil {
		return x.report(err)
	}
	ss, err := k.sessions(ctx, id)
	if err != nil {
		return x.report(err)
	}
	return x.report(printSessions(x.stdout, x.o.jsonOut, k.realm, username, id, ss))
}

// ---- logout-user ----

type logoutResult struct {
	Realm         string    `json:"realm"`
	User          string    `json:"user"`
	UserID        string    `json:"user_id"`
	Sessions      []string  `json:"sessions_ended"`
	UserNotBefore time.Time `json:"user_not_before,omitzero"`
	SingleSession bool      `json:"single_session,omitempty"`
}

func logoutUserFlags(o *options, fs *flag.FlagSet, a *app) {
	sessionsFlags(o, fs, a)
	fs.StringVar(&o.session, "session", "", "end only this session `id` (the sid claim); the user's not-before is left unchanged")
}

func runLogoutUser(ctx context.Context, x *invocation) int {
	o := &x.o
	if o.session != "" && !validName(o.session) {
		return x.report(usagef("invalid session id %q", o.session))
	}
	k, err := o.adminLogin(ctx, x.app)
	if err != nil {
		return x.report(err)
	}
	defer k.end(context.WithoutCancel(ctx))
	id, username, err := k.user(ctx, o)
	if err != nil {
		return x.report(err)
	}
	before, err := k.sessions(ctx, id)
	if err != nil {
		return x.report(err)
	}
	res := logoutResult{Realm: k.realm, User: username, UserID: id, Sessions: []string{}}
	if o.session != "" {
		found := false
		for _, s := range before {
			found = found || s.ID == o.session
		}
		if !found {
			return x.report(&notFoundError{fmt.Sprintf("user %q has no session %q", username, o.session)})
		}
		if err := k.gc.LogoutUserSession(ctx, k.token, k.realm, o.session); err != nil {
			return x.report(fmt.Errorf("end session: %w", err))
		}
		res.Sessions = append(res.Sessions, o.session)
		res.SingleSession = true
		return x.report(printLogout(x.stdout, o.jsonOut, res))
	}
	if err := k.gc.LogoutAllSessions(ctx, k.token, k.realm, id); err != nil {
		return x.report(fmt.Errorf("log out user: %w", err))
	}
	for _, s := range before {
		res.Sessions = append(res.Sessions, s.ID)
	}
	nb, err := k.userNotBefore(ctx, id)
	if err != nil {
		return x.report(fmt.Errorf("logged out, but reading the user's not-before failed: %w", err))
	}
	if nb > 0 {
		res.UserNotBefore = time.Unix(nb, 0).UTC()
	}
	return x.report(printLogout(x.stdout, o.jsonOut, res))
}

// ---- push-not-before ----

type pushResult struct {
	Realm     string    `json:"realm"`
	NotBefore time.Time `json:"not_before"`
	Pushed    bool      `json:"pushed"`
	Succeeded []string  `json:"succeeded"`
	Failed    []string  `json:"failed"`
}

func pushFlags(o *options, fs *flag.FlagSet, a *app) {
	adminCommandFlags(o, fs, a)
	fs.BoolVar(&o.push, "push", true, "push the not-before to the clients' admin URLs (-push=false only sets it)")
}

func runPushNotBefore(ctx context.Context, x *invocation) int {
	o, a := &x.o, x.app
	k, err := o.adminLogin(ctx, a)
	if err != nil {
		return x.report(err)
	}
	defer k.end(context.WithoutCancel(ctx))
	// Keycloak treats a token as stale when iat < notBefore, both in whole
	// seconds: tokens issued earlier in the current second stay valid.
	nb := a.now().Unix()
	if err := k.setRealmNotBefore(ctx, nb); err != nil {
		return x.report(err)
	}
	res := pushResult{Realm: k.realm, NotBefore: time.Unix(nb, 0).UTC(), Succeeded: []string{}, Failed: []string{}}
	if o.push {
		gr, err := k.pushRevocation(ctx)
		if err != nil {
			return x.report(fmt.Errorf("not-before set to %d, but the push failed: %w", nb, err))
		}
		res.Pushed = true
		res.Succeeded = append(res.Succeeded, gr.SuccessRequests...)
		res.Failed = append(res.Failed, gr.FailedRequests...)
	}
	if err := printPush(a.stdout, o.jsonOut, res); err != nil {
		return x.report(err)
	}
	if len(res.Failed) > 0 {
		return x.report(&partialError{fmt.Sprintf("%d admin URL(s) did not acknowledge the push", len(res.Failed))})
	}
	return exitOK
}
