package oidc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func adminJSON(t testing.TB, over map[string]any) string {
	t.Helper()
	m := map[string]any{
		"id":                 "0d1e0a55-9a79-4c6f-a0c2-0a7f2f3f6a11",
		"expiration":         testNow.Unix() + 30,
		"resource":           "backend",
		"action":             AdminActionLogout,
		"adapterSessionIds":  []string{"a1"},
		"notBefore":          testNow.Unix() - 1,
		"keycloakSessionIds": []string{"k1", "k2"},
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

func TestVerifyAdminAction(t *testing.T) {
	k := keys(t)
	hdr := `{"alg":"RS256","kid":"rsa-1"}`
	tok := sign(t, k, RS256, hdr, adminJSON(t, nil))
	act, err := newTestVerifier(t, nil).VerifyAdminAction(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if act.Action != AdminActionLogout || act.Resource != "backend" || act.ID == "" ||
		!act.NotBefore.Equal(testNow.Add(-time.Second)) || !act.Expiration.Equal(testNow.Add(30*time.Second)) ||
		strings.Join(act.KeycloakSessionIDs, ",") != "k1,k2" || strings.Join(act.AdapterSessionIDs, ",") != "a1" {
		t.Fatalf("got %+v", act)
	}

	tests := []struct {
		name   string
		header string
		over   map[string]any
		mut    func(*VerifierConfig)
		want   error
	}{
		{"push not before", hdr, map[string]any{"action": AdminActionPushNotBefore, "adapterSessionIds": nil, "keycloakSessionIds": nil}, nil, nil},
		{"test available", hdr, map[string]any{"action": AdminActionTestAvailable, "notBefore": 0}, nil, nil},
		{"null session ids", hdr, map[string]any{"adapterSessionIds": nil}, nil, nil},
		{"typ JWT", `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`, nil, nil, nil},
		{"configured resource", hdr, map[string]any{"resource": "api"}, func(c *VerifierConfig) { c.AdminResources = []string{"api"} }, nil},
		{"wrong resource", hdr, map[string]any{"resource": "other"}, nil, ErrWrongAudience},
		{"unknown action", hdr, map[string]any{"action": "DELETE_EVERYTHING"}, nil, ErrWrongType},
		{"action lower case", hdr, map[string]any{"action": "logout"}, nil, ErrWrongType},
		{"expired", hdr, map[string]any{"expiration": testNow.Unix() - 31}, nil, ErrExpired},
		{"expiration far ahead", hdr, map[string]any{"expiration": testNow.Unix() + 3600}, nil, ErrMalformed},
		{"no expiration", hdr, map[string]any{"expiration": nil}, nil, ErrMalformed},
		{"expiration as string", hdr, map[string]any{"expiration": "1800000030"}, nil, ErrMalformed},
		{"alg HS256", `{"alg":"HS256","kid":"rsa-1"}`, nil, nil, ErrAlgorithm},
		{"alg none", `{"alg":"none","kid":"rsa-1"}`, nil, nil, ErrAlgorithm},
		{"typ logout+jwt", `{"alg":"RS256","kid":"rsa-1","typ":"logout+jwt"}`, nil, nil, ErrWrongType},
		{"unknown kid", `{"alg":"RS256","kid":"nope"}`, nil, nil, ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, k, RS256, tc.header, adminJSON(t, tc.over))
			_, err := newTestVerifier(t, tc.mut).VerifyAdminAction(context.Background(), tok)
			wantErr(t, err, tc.want, tok)
		})
	}
	raw := func(p string) string { return sign(t, k, RS256, hdr, p) }
	for name, tok := range map[string]string{
		"duplicate action":    raw(strings.Replace(adminJSON(t, nil), "{", `{"action":"TEST_AVAILABLE",`, 1)),
		"case-variant action": raw(strings.Replace(adminJSON(t, nil), "{", `{"ACTION":"TEST_AVAILABLE",`, 1)),
		"not an object":       raw(`"LOGOUT"`),
		"negative notBefore":  raw(strings.Replace(adminJSON(t, nil), `"notBefore":`, `"notBefore":-`, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newTestVerifier(t, nil).VerifyAdminAction(context.Background(), tok)
			wantErr(t, err, ErrMalformed, tok)
		})
	}
}
