package oidc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

const logoutHeader = `{"alg":"RS256","typ":"logout+jwt","kid":"rsa-1"}`

// logoutJSON returns a Keycloak-shaped logout token payload with overrides
// (a nil value deletes the member).
func logoutJSON(t testing.TB, over map[string]any) string {
	t.Helper()
	m := map[string]any{
		"iat": testNow.Unix() - 5,
		"exp": testNow.Unix() + 115,
		"jti": "4c0a4b4e-3c1f-4e52-b0a5-1d2d7e8f9a10",
		"iss": testIssuer,
		"aud": "mobile",
		"sub": "8d1f0c77-2b51-4d6e-9a3c-5f5e8c2a1b90",
		"typ": "Logout",
		"sid": "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21",
		"events": map[string]any{
			jose.BackchannelLogoutEvent: map[string]any{},
			"revoke_offline_access":     true,
		},
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyLogoutToken(t *testing.T) {
	k := keys(t)
	v := newTestVerifier(t, nil)
	tok := sign(t, k, RS256, logoutHeader, logoutJSON(t, nil))
	lc, err := v.VerifyLogoutToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := LogoutClaims{Issuer: testIssuer, Audience: []string{"mobile"}, Subject: "8d1f0c77-2b51-4d6e-9a3c-5f5e8c2a1b90",
		SessionID: "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21", ID: "4c0a4b4e-3c1f-4e52-b0a5-1d2d7e8f9a10",
		IssuedAt: testNow.Add(-5 * time.Second), Expiry: testNow.Add(115 * time.Second), RevokeOfflineAccess: true}
	if lc.Issuer != want.Issuer || strings.Join(lc.Audience, ",") != "mobile" || lc.Subject != want.Subject ||
		lc.SessionID != want.SessionID || lc.ID != want.ID || !lc.IssuedAt.Equal(want.IssuedAt) ||
		!lc.Expiry.Equal(want.Expiry) || !lc.RevokeOfflineAccess {
		t.Fatalf("got %+v", lc)
	}
	// An access token is not a logout token.
	at := accessToken(t, nil)
	_, err = v.VerifyLogoutToken(context.Background(), at)
	wantErr(t, err, ErrWrongType, at)
}

func TestVerifyLogoutTokenRejects(t *testing.T) {
	k := keys(t)
	bcOnly := map[string]any{jose.BackchannelLogoutEvent: map[string]any{}}
	tests := []struct {
		name   string
		header string
		over   map[string]any
		mut    func(*VerifierConfig)
		want   error
	}{
		{"valid, sid only", logoutHeader, map[string]any{"sub": nil}, nil, nil},
		{"valid, sub only", logoutHeader, map[string]any{"sid": nil}, nil, nil},
		{"valid, no payload typ", logoutHeader, map[string]any{"typ": nil, "events": bcOnly}, nil, nil},
		{"valid, application/logout+jwt", `{"alg":"RS256","typ":"application/logout+jwt","kid":"rsa-1"}`, nil, nil, nil},
		{"valid, configured audience", logoutHeader, map[string]any{"aud": []string{"other", "spa"}}, func(c *VerifierConfig) { c.Logout.Audience = []string{"spa"} }, nil},
		{"missing typ allowed", `{"alg":"RS256","kid":"rsa-1"}`, nil, func(c *VerifierConfig) { c.Logout.AllowMissingTyp = true }, nil},
		{"missing typ", `{"alg":"RS256","kid":"rsa-1"}`, nil, nil, ErrWrongType},
		{"header typ JWT", rsHeader, nil, nil, ErrWrongType},
		{"alg none", `{"alg":"none","typ":"logout+jwt","kid":"rsa-1"}`, nil, nil, ErrAlgorithm},
		{"alg HS256", `{"alg":"HS256","typ":"logout+jwt","kid":"rsa-1"}`, nil, nil, ErrAlgorithm},
		{"wrong alg for key", `{"alg":"PS256","typ":"logout+jwt","kid":"rsa-1"}`, nil, nil, ErrAlgorithm},
		{"crit", `{"alg":"RS256","typ":"logout+jwt","kid":"rsa-1","crit":[]}`, nil, nil, ErrMalformed},
		{"wrong iss", logoutHeader, map[string]any{"iss": "https://evil.test"}, nil, ErrWrongIssuer},
		{"wrong aud", logoutHeader, map[string]any{"aud": "other"}, nil, ErrWrongAudience},
		{"no events", logoutHeader, map[string]any{"events": nil}, nil, ErrWrongType},
		{"wrong event", logoutHeader, map[string]any{"events": map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}}, nil, ErrWrongType},
		{"event not an object", logoutHeader, map[string]any{"events": map[string]any{jose.BackchannelLogoutEvent: true}}, nil, ErrMalformed},
		{"events not an object", logoutHeader, map[string]any{"events": []string{jose.BackchannelLogoutEvent}}, nil, ErrMalformed},
		{"revoke_offline_access not a bool", logoutHeader, map[string]any{"events": map[string]any{jose.BackchannelLogoutEvent: map[string]any{}, "revoke_offline_access": "true"}}, nil, ErrMalformed},
		{"nonce present", logoutHeader, map[string]any{"nonce": "n-0S6_WzA2Mj"}, nil, ErrWrongType},
		{"payload typ Bearer", logoutHeader, map[string]any{"typ": "Bearer"}, nil, ErrWrongType},
		{"no sub and no sid", logoutHeader, map[string]any{"sub": nil, "sid": nil}, nil, ErrMalformed},
		{"no jti", logoutHeader, map[string]any{"jti": nil}, nil, ErrMalformed},
		{"no iat", logoutHeader, map[string]any{"iat": nil}, nil, ErrMalformed},
		{"no exp", logoutHeader, map[string]any{"exp": nil}, nil, ErrMalformed},
		{"expired", logoutHeader, map[string]any{"exp": testNow.Unix() - 60}, nil, ErrExpired},
		{"iat in the future", logoutHeader, map[string]any{"iat": testNow.Unix() + 60}, nil, ErrNotYetValid},
		{"iat too old", logoutHeader, map[string]any{"iat": testNow.Unix() - 600, "exp": testNow.Unix() + 60}, nil, ErrExpired},
		{"float iat", logoutHeader, map[string]any{"iat": 1799999995.5}, nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, k, RS256, tc.header, logoutJSON(t, tc.over))
			lc, err := newTestVerifier(t, tc.mut).VerifyLogoutToken(context.Background(), tok)
			wantErr(t, err, tc.want, tok)
			if err != nil && lc != nil {
				t.Fatal("claims returned with an error")
			}
		})
	}
	// A nonce member is forbidden (§2.4), also with the value null.
	for _, nonce := range []string{`"nonce":null,`, `"nonce" : null ,`, `"nonce":"",`} {
		tok := sign(t, k, RS256, logoutHeader, strings.Replace(logoutJSON(t, nil), "{", "{"+nonce, 1))
		_, err := newTestVerifier(t, nil).VerifyLogoutToken(context.Background(), tok)
		wantErr(t, err, ErrWrongType, tok)
	}
	// A forged signature on a valid-looking logout token.
	tok := sign(t, k, RS256, logoutHeader, logoutJSON(t, nil))
	forged := tok[:strings.LastIndexByte(tok, '.')+1] + strings.Repeat("A", 342)
	_, err := newTestVerifier(t, nil).VerifyLogoutToken(context.Background(), forged)
	wantErr(t, err, ErrBadSignature, forged)
}
