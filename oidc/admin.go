package oidc

import (
	"context"
	"slices"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// Keycloak admin actions accepted by VerifyAdminAction.
const (
	AdminActionLogout        = "LOGOUT"          // k_logout
	AdminActionPushNotBefore = "PUSH_NOT_BEFORE" // k_push_not_before
	AdminActionTestAvailable = "TEST_AVAILABLE"  // k_test_available
)

// AdminAction is a verified Keycloak admin-URL message (Keycloak's
// LogoutAction, PushNotBeforeAction, TestAvailabilityAction).
type AdminAction struct {
	ID         string    // id
	Action     string    // one of the AdminAction* constants
	Resource   string    // resource: the client id the message is for
	Expiration time.Time // expiration
	// NotBefore is notBefore: tokens issued before it are stale. Zero when
	// absent or 0.
	NotBefore time.Time
	// AdapterSessionIDs and KeycloakSessionIDs name the sessions a LOGOUT
	// ends; both empty means every session of the resource.
	AdapterSessionIDs  []string
	KeycloakSessionIDs []string
}

// maxAdminLifetime bounds how far in the future an admin message's
// expiration may lie (Keycloak uses now + 30 s).
const maxAdminLifetime = 10 * time.Minute

// VerifyAdminAction verifies the body of a Keycloak admin-URL request
// (POST <adminUrl>/k_logout, k_push_not_before): a bare compact JWS signed
// with a realm key, checked with the same algorithm, key and parsing rules
// as Verify. The JSON payload is decoded strictly; action must be LOGOUT,
// PUSH_NOT_BEFORE or TEST_AVAILABLE, expiration must lie in the future
// (with the leeway, at most 10 minutes ahead) and resource must be one of
// VerifierConfig.AdminResources (default: Audience and AuthorizedParties).
// The message carries no issuer; replay of id is for the caller to detect.
func (v *Verifier) VerifyAdminAction(ctx context.Context, body string) (*AdminAction, error) {
	now := v.now()
	text, err := openJWS(ctx, v.keys, body, v.maxBytes, v.algs, adminTyp)
	if err != nil {
		return nil, err
	}
	act, err := decodeAdminAction(text)
	if err != nil {
		return nil, err
	}
	switch act.Action {
	case AdminActionLogout, AdminActionPushNotBefore, AdminActionTestAvailable:
	default:
		return nil, explain(ErrWrongType, "action", `"LOGOUT", "PUSH_NOT_BEFORE" or "TEST_AVAILABLE"`, quoteClaim(act.Action))
	}
	if act.Expiration.IsZero() {
		return nil, missing("expiration")
	}
	if !slices.Contains(v.adminResource, act.Resource) {
		return nil, explain(ErrWrongAudience, "resource", jose.OneOf(v.adminResource), quoteClaim(act.Resource))
	}
	if !now.Before(act.Expiration.Add(v.leeway)) {
		return nil, explain(ErrExpired, "expiration", jose.After(now, v.leeway), jose.Time(act.Expiration))
	}
	if act.Expiration.Sub(now) > maxAdminLifetime+v.leeway {
		return nil, explain(ErrMalformed, "expiration", jose.NotAfter(now, maxAdminLifetime+v.leeway)+", at most "+
			maxAdminLifetime.String()+" ahead", jose.Time(act.Expiration))
	}
	return act, nil
}

// adminTyp allows an admin message's header typ to be JWT or absent.
func adminTyp(h *jose.Header) error {
	if h.HasTyp && !typIs(h.Typ, "JWT") {
		return explain(ErrWrongType, "header.typ", `"JWT" or absent`, headerTyp(h))
	}
	return nil
}

// decodeAdminAction decodes the JSON of a Keycloak AdminAction strictly.
func decodeAdminAction(text string) (*AdminAction, error) {
	act := &AdminAction{}
	r := strictjson.NewReader(text)
	err := r.Object(func(name string) error {
		if r.Null() {
			return nil
		}
		var err error
		switch name {
		case "id":
			act.ID, err = r.String()
		case "action":
			act.Action, err = r.String()
		case "resource":
			act.Resource, err = r.String()
		case "expiration":
			act.Expiration, err = jose.NumericDate(&r)
		case "notBefore":
			var n int64
			if n, err = r.Uint(); err == nil && n > 0 {
				act.NotBefore = time.Unix(n, 0)
			}
		case "adapterSessionIds":
			act.AdapterSessionIDs, err = r.Strings()
		case "keycloakSessionIds":
			act.KeycloakSessionIDs, err = r.Strings()
		default:
			err = r.Skip()
		}
		return err
	})
	if err != nil || r.End() != nil {
		return nil, verr(ErrMalformed, "claims", "admin message is not valid")
	}
	return act, nil
}
