package oidc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidationErrorExplains: every refusal names the check that failed
// and, where a value decides, the value expected and the value presented,
// times with the clock and the leeway; Error() carries them and never the
// token.
func TestValidationErrorExplains(t *testing.T) {
	k := keys(t)
	at := func(over map[string]any) string { return accessToken(t, over) }
	hdr := func(h string) string { return sign(t, k, RS256, h, claimsJSON(t, nil)) }
	only := func(mut func(*VerifierConfig)) func(*VerifierConfig) { return mut }
	tests := []struct {
		name      string
		token     string
		cfg       func(*VerifierConfig)
		kind      error
		check     string
		expected  string
		presented string
	}{
		{"wrong issuer", at(map[string]any{"iss": "http://localhost:8080/realms/tokenwarden"}), nil, ErrWrongIssuer, "iss",
			`"` + testIssuer + `"`, `"http://localhost:8080/realms/tokenwarden"`},
		{"wrong audience, aud only", at(map[string]any{"aud": "account"}), only(func(c *VerifierConfig) { c.AuthorizedParties = nil }),
			ErrWrongAudience, "aud", `one of ["backend"] in aud`, `["account"]`},
		{"wrong audience, aud or azp", at(map[string]any{"aud": "account", "azp": "web"}), nil, ErrWrongAudience, "aud",
			`one of ["backend"] in aud, or azp one of ["mobile"]`, `aud ["account"], azp "web"`},
		{"wrong party, azp only", at(map[string]any{"azp": "web"}), only(func(c *VerifierConfig) { c.Audience = nil }),
			ErrWrongAudience, "azp", `one of ["mobile"]`, `"web"`},
		{"both required, azp fails", at(map[string]any{"azp": "web"}), only(func(c *VerifierConfig) { c.RequireAudienceAndParty = true }),
			ErrWrongAudience, "azp", `one of ["mobile"]`, `"web"`},
		{"alg not allowed", sign(t, k, ES256, `{"alg":"ES256","kid":"ec-1"}`, claimsJSON(t, nil)),
			only(func(c *VerifierConfig) { c.Algorithms = []string{RS256} }), ErrAlgorithm, "alg", `one of ["RS256"]`, `"ES256"`},
		{"alg not the key's", sign(t, k, PS256, `{"alg":"PS256","kid":"rsa-1"}`, claimsJSON(t, nil)), nil, ErrAlgorithm, "alg",
			`the alg pinned to key "rsa-1": "RS256"`, `"PS256"`},
		{"unknown kid", hdr(`{"alg":"RS256","kid":"gone"}`), nil, ErrUnknownKey, "kid",
			`one of ["ec-1", "ec-521", "ed-1", "rsa-1", "rsa-ps"] (static key set)`, `"gone"`},
		{"bad signature", tamperSig(at(nil)), nil, ErrBadSignature, "sig", `a signature by key "rsa-1" (RS256)`, ""},
		{"header typ", hdr(`{"alg":"RS256","kid":"rsa-1","typ":"logout+jwt"}`), nil, ErrWrongType, "header.typ",
			`"JWT", "at+jwt" or absent`, `"logout+jwt"`},
		{"payload typ", at(map[string]any{"typ": "Refresh"}), nil, ErrWrongType, "typ", `"Bearer" or "DPoP"`, `"Refresh"`},
		{"no iat", at(map[string]any{"iat": nil}), nil, ErrMalformed, "iat", "present", "absent"},
		{"expired", at(map[string]any{"exp": testNow.Unix() - 60}), nil, ErrExpired, "exp",
			"later than 2027-01-15T07:59:30Z (now 2027-01-15T08:00:00Z - leeway 30s)", "2027-01-15T07:59:00Z"},
		{"not yet valid", at(map[string]any{"nbf": testNow.Unix() + 120}), nil, ErrNotYetValid, "nbf",
			"not after 2027-01-15T08:00:30Z (now 2027-01-15T08:00:00Z + leeway 30s)", "2027-01-15T08:02:00Z"},
		{"issued in the future", at(map[string]any{"iat": testNow.Unix() + 120}), only(func(c *VerifierConfig) { c.Leeway = 10 * time.Second }),
			ErrNotYetValid, "iat", "not after 2027-01-15T08:00:10Z (now 2027-01-15T08:00:00Z + leeway 10s)", "2027-01-15T08:02:00Z"},
		{"not a jws", "a.b", nil, ErrMalformed, "jws", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTestVerifier(t, tt.cfg).Verify(context.Background(), tt.token)
			wantErr(t, err, tt.kind, tt.token)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%T is not a *ValidationError", err)
			}
			if ve.Check != tt.check || ve.Expected != tt.expected || ve.Presented != tt.presented {
				t.Fatalf("check %q expected %q presented %q\nwant  %q expected %q presented %q",
					ve.Check, ve.Expected, ve.Presented, tt.check, tt.expected, tt.presented)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.expected) || !strings.Contains(msg, tt.presented) {
				t.Errorf("Error() %q lacks the explanation", msg)
			}
		})
	}
}

// TestLogoutAndAdminExplain: a logout token for another client names the
// logout audience and the aud it carries; an admin message for another
// resource names the accepted resources.
func TestLogoutAndAdminExplain(t *testing.T) {
	v := newTestVerifier(t, func(c *VerifierConfig) { c.Logout.Audience = []string{"mobile"} })
	k := keys(t)
	lt := sign(t, k, RS256, logoutHeader, logoutJSON(t, map[string]any{"aud": "web"}))
	_, err := v.VerifyLogoutToken(context.Background(), lt)
	wantErr(t, err, ErrWrongAudience, lt)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Check != "aud" || ve.Expected != `one of ["mobile"] in aud` || ve.Presented != `["web"]` {
		t.Fatalf("logout audience: %v", err)
	}

	msg := sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1"}`, adminJSON(t, map[string]any{"resource": "other-client"}))
	_, err = v.VerifyAdminAction(context.Background(), msg)
	wantErr(t, err, ErrWrongAudience, msg)
	if !errors.As(err, &ve) || ve.Check != "resource" || ve.Expected != `one of ["backend", "mobile"]` || ve.Presented != `"other-client"` {
		t.Fatalf("admin resource: %v", err)
	}
}

// TestMultiVerifierExplainsIssuer: a token of an issuer no verifier serves
// names the issuers served and the (unverified) one presented.
func TestMultiVerifierExplainsIssuer(t *testing.T) {
	m, err := NewMultiVerifier(newTestVerifier(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	tok := accessToken(t, map[string]any{"iss": "https://other.example/realms/x"})
	_, err = m.Verify(context.Background(), tok)
	wantErr(t, err, ErrWrongIssuer, tok)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Check != "iss" || !strings.Contains(ve.Expected, testIssuer) ||
		ve.Presented != `"https://other.example/realms/x" (unverified)` {
		t.Fatalf("%v", err)
	}
}

// tamperSig changes one character in the middle of the signature.
func tamperSig(token string) string {
	b := []byte(token)
	i := len(b) - 20
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
