package oidc

import (
	"context"
	"slices"
	"time"
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
	cp, err := splitCompact(body, v.maxBytes)
	if err != nil {
		return nil, err
	}
	if !v.algs.has(cp.alg) {
		return nil, verr(ErrAlgorithm, "alg "+quoteUntrusted(cp.hdr.alg)+" not allowed")
	}
	if cp.hdr.hasTyp && !typIs(cp.hdr.typ, "JWT") {
		return nil, verr(ErrWrongType, "header typ is not JWT")
	}
	if err := checkJWS(ctx, v.keys, v.algs, &cp); err != nil {
		return nil, err
	}
	_, text, err := cp.payload()
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
		return nil, verr(ErrWrongType, "unknown admin action")
	}
	if act.Expiration.IsZero() {
		return nil, verr(ErrMalformed, "missing expiration")
	}
	if !slices.Contains(v.adminResource, act.Resource) {
		return nil, verr(ErrWrongAudience, "admin message for another resource")
	}
	if !now.Before(act.Expiration.Add(v.leeway)) {
		return nil, verr(ErrExpired, "admin message expired")
	}
	if act.Expiration.Sub(now) > maxAdminLifetime+v.leeway {
		return nil, verr(ErrMalformed, "admin message expiration too far ahead")
	}
	return act, nil
}

// decodeAdminAction decodes the JSON of a Keycloak AdminAction strictly.
func decodeAdminAction(text string) (*AdminAction, error) {
	act := &AdminAction{}
	d := jsonReader{s: text}
	bad := func() (*AdminAction, error) { return nil, verr(ErrMalformed, "admin message is not valid") }
	if d.objStart() != nil {
		return bad()
	}
	var nb [16]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return bad()
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return bad()
		}
		if d.null() {
			continue
		}
		switch name {
		case "id":
			act.ID, err = d.str()
		case "action":
			act.Action, err = d.str()
		case "resource":
			act.Resource, err = d.str()
		case "expiration":
			act.Expiration, err = d.numericDate()
		case "notBefore":
			var n int64
			if n, err = d.uint(); err == nil && n > 0 {
				act.NotBefore = time.Unix(n, 0)
			}
		case "adapterSessionIds":
			act.AdapterSessionIDs, err = d.strArray()
		case "keycloakSessionIds":
			act.KeycloakSessionIDs, err = d.strArray()
		default:
			err = d.skip()
		}
		if err != nil {
			return bad()
		}
	}
	if d.end() != nil {
		return bad()
	}
	return act, nil
}

// uint reads a JSON integer in [0, 1e11).
func (d *jsonReader) uint() (int64, error) {
	s, err := d.number()
	if err != nil || len(s) > 11 {
		return 0, errJSON
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errJSON
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}
