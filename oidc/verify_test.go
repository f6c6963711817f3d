package oidc

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

func TestVerifyKeycloakAccessToken(t *testing.T) {
	v := newTestVerifier(t, nil)
	tok := accessToken(t, nil)
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != testIssuer || c.Subject == "" || c.Type != "Bearer" || c.AuthorizedParty != "mobile" {
		t.Fatalf("claims: %+v", c)
	}
	if !c.HasAudience("backend") || !c.HasAudience("account") || len(c.Audience) != 2 {
		t.Fatalf("aud = %v", c.Audience)
	}
	if !c.HasRealmRole("user") || c.HasRealmRole("admin") {
		t.Fatalf("realm roles = %v", c.RealmRoles)
	}
	if !c.HasClientRole("backend", "writer") || c.HasClientRole("account", "writer") {
		t.Fatalf("client roles = %v", c.ClientRoles)
	}
	if !c.HasScope("email") || c.HasScope("mail") {
		t.Fatalf("scope = %q", c.Scope)
	}
	if !c.Expiry.Equal(testNow.Add(300*time.Second)) || !c.IssuedAt.Equal(testNow.Add(-10*time.Second)) {
		t.Fatalf("times: exp %v iat %v", c.Expiry, c.IssuedAt)
	}
	if c.PreferredUsername != "bob" || c.Email != "bob@example.test" || c.SessionID == "" || c.ID == "" {
		t.Fatalf("claims: %+v", c)
	}
	var custom struct {
		Name string `json:"name"`
	}
	if err := c.Decode(&custom); err != nil || custom.Name != "Bob Builder" {
		t.Fatalf("Decode: %v %q", err, custom.Name)
	}
}

func TestVerifyAlgorithms(t *testing.T) {
	k := keys(t)
	payload := claimsJSON(t, nil)
	for _, tc := range []struct {
		alg, kid string
	}{
		{RS256, testKID}, {PS256, "rsa-ps"}, {ES256, "ec-1"}, {ES512, "ec-521"}, {EdDSA, "ed-1"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			tok := sign(t, k, tc.alg, fmt.Sprintf(`{"alg":%q,"kid":%q}`, tc.alg, tc.kid), payload)
			if _, err := newTestVerifier(t, nil).Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			// The default allow-list is RS256 only.
			_, err := newTestVerifier(t, func(c *VerifierConfig) { c.Algorithms = nil }).Verify(context.Background(), tok)
			if tc.alg == RS256 {
				wantErr(t, err, nil, tok)
			} else {
				wantErr(t, err, ErrAlgorithm, tok)
			}
		})
	}
}

// hmacToken signs with HMAC-SHA256 under secret, as an attacker would with
// the RSA public key bytes (CVE-2015-9235, CVE-2016-10555).
func hmacToken(header, payload string, secret []byte) string {
	input := enc64(header) + "." + enc64(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestSecurityAttacks has one or more rows per row of SECURITY.md's attack
// table. Every row asserts the category of the refusal; rows marked noKey
// must be refused from the header alone, before any key lookup. Claim-level
// attacks are signed with the real key: the claims decoder only ever sees
// payloads whose signature verified, and must still refuse them.
func TestSecurityAttacks(t *testing.T) {
	k := keys(t)
	payload := claimsJSON(t, nil)
	valid := accessToken(t, nil)
	parts := strings.Split(valid, ".")
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	attackerJWK := fmt.Sprintf(`{"kty":"RSA","kid":"rsa-1","n":%q,"e":"AQAB"}`,
		base64.RawURLEncoding.EncodeToString(k.rsa2.N.Bytes()))
	signedBy2 := func(header string) string {
		input := enc64(header) + "." + enc64(payload)
		h := sha256.Sum256([]byte(input))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k.rsa2, crypto.SHA256, h[:])
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	withClaims := func(over map[string]any) string { return accessToken(t, over) }
	rawPayload := func(p string) string { return sign(t, k, RS256, rsHeader, p) }
	inject := func(member string) string { return rawPayload(strings.Replace(payload, "{", "{"+member+",", 1)) }
	nested := strings.Repeat("[", 200) + strings.Repeat("]", 200)

	tests := []struct {
		name  string
		token string
		want  error
		noKey bool // refused before any key lookup
	}{
		// alg none and case variants
		{"alg none, empty signature", enc64(`{"alg":"none"}`) + "." + enc64(payload) + ".", ErrMalformed, true},
		{"alg none with signature", enc64(`{"alg":"none","kid":"rsa-1"}`) + "." + enc64(payload) + "." + parts[2], ErrAlgorithm, true},
		{"alg None", enc64(`{"alg":"None","kid":"rsa-1"}`) + "." + enc64(payload) + "." + parts[2], ErrAlgorithm, true},
		{"alg NONE", enc64(`{"alg":"NONE","kid":"rsa-1"}`) + "." + enc64(payload) + "." + parts[2], ErrAlgorithm, true},
		{"alg nOnE", enc64(`{"alg":"nOnE","kid":"rsa-1"}`) + "." + enc64(payload) + "." + parts[2], ErrAlgorithm, true},
		{"alg rs256 lower case", enc64(`{"alg":"rs256","kid":"rsa-1"}`) + "." + parts[1] + "." + parts[2], ErrAlgorithm, true},
		{"alg missing", enc64(`{"kid":"rsa-1"}`) + "." + parts[1] + "." + parts[2], ErrMalformed, true},
		{"alg not a string", enc64(`{"alg":["RS256"],"kid":"rsa-1"}`) + "." + parts[1] + "." + parts[2], ErrMalformed, true},
		// HS256 keyed with the RSA public key
		{"HS256 with PEM public key", hmacToken(`{"alg":"HS256","kid":"rsa-1"}`, payload, pemKey), ErrAlgorithm, true},
		{"HS256 with DER public key", hmacToken(`{"alg":"HS256","kid":"rsa-1"}`, payload, der), ErrAlgorithm, true},
		{"HS512 with modulus", hmacToken(`{"alg":"HS512","kid":"rsa-1"}`, payload, k.rsa.N.Bytes()), ErrAlgorithm, true},
		// embedded jwk, jku, x5u, x5c are ignored: the attacker's key is never used
		{"embedded jwk", signedBy2(`{"alg":"RS256","kid":"rsa-1","jwk":` + attackerJWK + `}`), ErrBadSignature, false},
		{"embedded jwk without kid", signedBy2(`{"alg":"RS256","jwk":` + attackerJWK + `}`), ErrUnknownKey, false},
		{"jku", signedBy2(`{"alg":"RS256","kid":"rsa-1","jku":"https://attacker.test/jwks"}`), ErrBadSignature, false},
		{"x5u", signedBy2(`{"alg":"RS256","kid":"rsa-1","x5u":"https://attacker.test/cert"}`), ErrBadSignature, false},
		{"x5c", signedBy2(`{"alg":"RS256","kid":"rsa-1","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`), ErrBadSignature, false},
		// kid injection
		{"unknown kid", sign(t, k, RS256, `{"alg":"RS256","kid":"../../etc/passwd\u0000'; DROP"}`, payload), ErrUnknownKey, false},
		{"kid too long", sign(t, k, RS256, `{"alg":"RS256","kid":"`+strings.Repeat("k", 600)+`"}`, payload), ErrMalformed, true},
		// known kid, forged signature
		{"forged signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256)), ErrBadSignature, false},
		{"signature of another payload", parts[0] + "." + enc64(claimsJSON(t, map[string]any{"sub": "admin"})) + "." + parts[2], ErrBadSignature, false},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:40], ErrBadSignature, false},
		{"alg differs from the key's pinned alg", sign(t, k, PS256, `{"alg":"PS256","kid":"rsa-1"}`, payload), ErrAlgorithm, false},
		{"RS256 on the PS256-pinned key", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-ps"}`, payload), ErrAlgorithm, false},
		// crit
		{"crit empty", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","crit":[]}`, payload), ErrMalformed, true},
		{"crit exp", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}`, payload), ErrMalformed, true},
		{"crit b64", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}`, payload), ErrMalformed, true},
		{"crit null", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","crit":null}`, payload), ErrMalformed, true},
		{"b64 without crit", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","b64":true}`, payload), ErrMalformed, true},
		{"zip", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","zip":"DEF"}`, payload), ErrMalformed, true},
		{"duplicate alg", sign(t, k, RS256, `{"alg":"none","alg":"RS256","kid":"rsa-1"}`, payload), ErrMalformed, true},
		{"case-variant alg", sign(t, k, RS256, `{"ALG":"none","alg":"RS256","kid":"rsa-1"}`, payload), ErrMalformed, true},
		// huge / deeply nested token, many dots
		{"huge header", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","x":"`+strings.Repeat("a", 7000)+`"}`, payload), ErrMalformed, true},
		{"huge token", withClaims(map[string]any{"pad": strings.Repeat("a", 17<<10)}), ErrMalformed, true},
		{"many dots", strings.Repeat(".", 10000), ErrMalformed, true},
		{"four segments", valid + "." + parts[2], ErrMalformed, true},
		{"five segments (JWE shape)", valid + ".." + parts[2], ErrMalformed, true},
		{"two segments", parts[0] + "." + parts[1], ErrMalformed, true},
		{"empty", "", ErrMalformed, true},
		{"deeply nested claim", inject(`"deep":` + nested), ErrMalformed, false},
		{"deeply nested header", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","x":`+nested+`}`, payload), ErrMalformed, true},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformed, true},
		// NumericDate abuse
		{"nbf 1e300", rawPayload(strings.Replace(payload, "{", `{"nbf":1e300,`, 1)), ErrMalformed, false},
		{"exp 1e300", rawPayload(strings.Replace(payload, `"exp":1800000300`, `"exp":1e300`, 1)), ErrMalformed, false},
		{"exp as string", withClaims(map[string]any{"exp": "1800000300"}), ErrMalformed, false},
		{"exp as float", rawPayload(strings.Replace(payload, `"exp":1800000300`, `"exp":1800000300.5`, 1)), ErrMalformed, false},
		{"exp with .0", rawPayload(strings.Replace(payload, `"exp":1800000300`, `"exp":1800000300.0`, 1)), ErrMalformed, false},
		{"exp exponent", rawPayload(strings.Replace(payload, `"exp":1800000300`, `"exp":18000003E2`, 1)), ErrMalformed, false},
		{"exp negative", withClaims(map[string]any{"exp": -1}), ErrMalformed, false},
		{"exp zero", withClaims(map[string]any{"exp": 0}), ErrMalformed, false},
		{"exp 1e11", withClaims(map[string]any{"exp": int64(100_000_000_000)}), ErrMalformed, false},
		{"iat as bool", withClaims(map[string]any{"iat": true}), ErrMalformed, false},
		{"exp missing", withClaims(map[string]any{"exp": nil}), ErrMalformed, false},
		{"exp null", rawPayload(strings.Replace(payload, `"exp":1800000300`, `"exp":null`, 1)), ErrMalformed, false},
		// duplicate and case-variant claims
		{"duplicate aud", inject(`"aud":"evil"`), ErrMalformed, false},
		{"aud and AUD", inject(`"AUD":"evil"`), ErrMalformed, false},
		{"iss and Iss", inject(`"Iss":"https://evil.test"`), ErrMalformed, false},
		{"exp and escaped exp", inject(`"\u0065xp":9999999999`), ErrMalformed, false},
		{"sub and long-s variant", inject(`"\u017fub":"admin"`), ErrMalformed, false},
		{"case variant ISS only", rawPayload(strings.Replace(payload, `"iss":`, `"ISS":`, 1)), ErrWrongIssuer, false},
		{"duplicate role client", inject(`"resource_access":{"backend":{"roles":[]},"backend":{"roles":["admin"]}}`), ErrMalformed, false},
		{"duplicate roles member", rawPayload(strings.Replace(payload, `"realm_access":{"roles":[`, `"realm_access":{"roles":["admin"],"roles":[`, 1)), ErrMalformed, false},
		{"invalid utf-8 claim", rawPayload(strings.Replace(payload, `"bob"`, "\"b\xffb\"", 1)), ErrMalformed, false},
		{"unpaired surrogate", rawPayload(strings.Replace(payload, `"bob"`, `"b\ud800b"`, 1)), ErrMalformed, false},
		{"trailing garbage", rawPayload(payload + "x"), ErrMalformed, false},
		{"payload not an object", rawPayload(`["iss"]`), ErrMalformed, false},
		{"role not a string", rawPayload(strings.Replace(payload, `"roles":["offline_access"`, `"roles":[1`, 1)), ErrMalformed, false},
		// other token kinds
		{"ID token", withClaims(map[string]any{"typ": "ID"}), ErrWrongType, false},
		{"refresh token", withClaims(map[string]any{"typ": "Refresh"}), ErrWrongType, false},
		{"offline token", withClaims(map[string]any{"typ": "Offline"}), ErrWrongType, false},
		{"logout token", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","typ":"logout+jwt"}`, logoutJSON(t, nil)), ErrWrongType, true},
		{"logout payload with JWT typ", sign(t, k, RS256, rsHeader, logoutJSON(t, nil)), ErrWrongType, false},
		{"events in a Bearer token", withClaims(map[string]any{"events": map[string]any{jose.BackchannelLogoutEvent: map[string]any{}}}), ErrWrongType, false},
		{"missing typ", withClaims(map[string]any{"typ": nil}), ErrWrongType, false},
		{"typ bearer lower case", withClaims(map[string]any{"typ": "bearer"}), ErrWrongType, false},
		{"header typ logout+jwt", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","typ":"logout+jwt"}`, payload), ErrWrongType, true},
		{"header typ dpop+jwt", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","typ":"dpop+jwt"}`, payload), ErrWrongType, true},
		// audience
		{"aud only account, azp other", withClaims(map[string]any{"aud": "account", "azp": "other"}), ErrWrongAudience, false},
		{"aud array without ours", withClaims(map[string]any{"aud": []string{"account", "backend2"}, "azp": "other"}), ErrWrongAudience, false},
		{"aud as number", withClaims(map[string]any{"aud": 5}), ErrMalformed, false},
		{"aud array of numbers", withClaims(map[string]any{"aud": []int{5}}), ErrMalformed, false},
		{"aud nested array", withClaims(map[string]any{"aud": [][]string{{"backend"}}}), ErrMalformed, false},
		// issuer
		{"wrong issuer", withClaims(map[string]any{"iss": testIssuer + "/"}), ErrWrongIssuer, false},
		{"issuer case variant", withClaims(map[string]any{"iss": strings.ToUpper(testIssuer)}), ErrWrongIssuer, false},
		{"issuer missing", withClaims(map[string]any{"iss": nil}), ErrWrongIssuer, false},
		// time
		{"expired", withClaims(map[string]any{"exp": testNow.Unix() - 31}), ErrExpired, false},
		{"nbf in the future", withClaims(map[string]any{"nbf": testNow.Unix() + 31}), ErrNotYetValid, false},
		{"iat in the future", withClaims(map[string]any{"iat": testNow.Unix() + 31}), ErrNotYetValid, false},
		{"iat missing", withClaims(map[string]any{"iat": nil}), ErrMalformed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ck := &countingKeys{inner: k.keySet()}
			v := newTestVerifier(t, func(c *VerifierConfig) { c.Keys = ck })
			c, err := v.Verify(context.Background(), tc.token)
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			wantErr(t, err, tc.want, tc.token)
			if tc.noKey && ck.calls != 0 {
				t.Fatalf("%d key lookups, want none", ck.calls)
			}
		})
	}
}

func TestVerifyAccepted(t *testing.T) {
	k := keys(t)
	payload := claimsJSON(t, nil)
	tests := []struct {
		name  string
		token string
		mut   func(*VerifierConfig)
	}{
		{"aud string", accessToken(t, map[string]any{"aud": "backend", "azp": "other"}), nil},
		{"aud array", accessToken(t, map[string]any{"aud": []string{"x", "backend"}, "azp": "other"}), nil},
		{"azp only", accessToken(t, map[string]any{"aud": "account"}), nil},
		{"DPoP typ", accessToken(t, map[string]any{"typ": "DPoP", "cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}), nil},
		{"header typ absent", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1"}`, payload), nil},
		{"header typ at+jwt", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","typ":"at+jwt"}`, payload), nil},
		{"header typ application/AT+JWT", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","typ":"application/AT+JWT"}`, payload), nil},
		{"header jku and x5u ignored", sign(t, k, RS256, `{"alg":"RS256","kid":"rsa-1","jku":"https://attacker.test/","x5u":"https://attacker.test/"}`, payload), nil},
		{"expired within leeway", accessToken(t, map[string]any{"exp": testNow.Unix() - 29}), nil},
		{"nbf within leeway", accessToken(t, map[string]any{"nbf": testNow.Unix() + 29}), nil},
		{"null claims are absent", accessToken(t, map[string]any{"email": nil, "nbf": nil}), nil},
		{"unknown members skipped", sign(t, k, RS256, rsHeader, strings.Replace(payload, "{", `{"x":{"y":[1,-2.5e3,true,false,null,"\u00e9\ud83d\ude00"]},`, 1)), nil},
		{"audience only", accessToken(t, map[string]any{"azp": "other"}), func(c *VerifierConfig) { c.AuthorizedParties = nil }},
		{"both rules", accessToken(t, nil), func(c *VerifierConfig) { c.RequireAudienceAndParty = true }},
		{"no audience rule", accessToken(t, map[string]any{"aud": "x", "azp": "y"}), func(c *VerifierConfig) {
			c.Audience, c.AuthorizedParties, c.InsecureSkipAudienceCheck = nil, nil, true
		}},
		{"kid-less token, single-key set", sign(t, k, RS256, `{"alg":"RS256"}`, payload), func(c *VerifierConfig) {
			c.Keys = NewStaticKeySet(&Key{Algorithm: RS256, Public: &k.rsa.PublicKey})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newTestVerifier(t, tc.mut).Verify(context.Background(), tc.token); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyAudienceRules(t *testing.T) {
	tok := accessToken(t, map[string]any{"aud": "account", "azp": "mobile"})
	_, err := newTestVerifier(t, func(c *VerifierConfig) { c.RequireAudienceAndParty = true }).Verify(context.Background(), tok)
	wantErr(t, err, ErrWrongAudience, tok)
	_, err = newTestVerifier(t, func(c *VerifierConfig) { c.AuthorizedParties = nil }).Verify(context.Background(), tok)
	wantErr(t, err, ErrWrongAudience, tok)
}

func TestVerifyRFC9068Mode(t *testing.T) {
	k := keys(t)
	at := `{"alg":"RS256","kid":"rsa-1","typ":"at+jwt"}`
	full := map[string]any{"client_id": "mobile"}
	mode := func(c *VerifierConfig) { c.Mode = ModeRFC9068 }
	tests := []struct {
		name   string
		header string
		over   map[string]any
		want   error
	}{
		{"valid", at, full, nil},
		{"application/at+jwt", `{"alg":"RS256","kid":"rsa-1","typ":"application/at+jwt"}`, full, nil},
		{"no payload typ", at, map[string]any{"client_id": "mobile", "typ": nil}, nil},
		{"header typ JWT", rsHeader, full, ErrWrongType},
		{"header typ absent", `{"alg":"RS256","kid":"rsa-1"}`, full, ErrWrongType},
		{"ID token typ", at, map[string]any{"client_id": "mobile", "typ": "ID"}, ErrWrongType},
		{"missing client_id", at, nil, ErrMalformed},
		{"missing sub", at, map[string]any{"client_id": "mobile", "sub": nil}, ErrMalformed},
		{"missing jti", at, map[string]any{"client_id": "mobile", "jti": nil}, ErrMalformed},
		{"missing iat", at, map[string]any{"client_id": "mobile", "iat": nil}, ErrMalformed},
		{"missing aud", at, map[string]any{"client_id": "mobile", "aud": nil}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, k, RS256, tc.header, claimsJSON(t, tc.over))
			_, err := newTestVerifier(t, mode).Verify(context.Background(), tok)
			wantErr(t, err, tc.want, tok)
		})
	}
}

// respellings returns every other spelling of token that a lenient
// base64url decoder maps to the same bytes: the unused low bits of each
// segment's last character. It checks that they really decode alike.
func respellings(t *testing.T, token string) []string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(token, ".")
	var out []string
	for i, seg := range parts {
		var unused int
		switch len(seg) % 4 {
		case 2:
			unused = 4
		case 3:
			unused = 2
		default:
			continue
		}
		want, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatal(err)
		}
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		for extra := 1; extra < 1<<unused; extra++ {
			alt := seg[:len(seg)-1] + string(alphabet[last|extra])
			got, err := base64.RawURLEncoding.DecodeString(alt)
			if err != nil || string(got) != string(want) {
				t.Fatalf("respelling does not decode alike")
			}
			p := slices.Clone(parts)
			p[i] = alt
			out = append(out, strings.Join(p, "."))
		}
	}
	return out
}

func TestNonCanonicalBase64Rejected(t *testing.T) {
	v := newTestVerifier(t, nil)
	tok := accessToken(t, nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// RS256 signatures are 256 bytes: 342 characters, 4 unused bits, so the
	// signature segment alone has 15 other spellings.
	sigOnly := respellings(t, "A."+strings.Split(tok, ".")[2]+".A")
	if len(sigOnly) != 15 {
		t.Fatalf("%d signature respellings, want 15", len(sigOnly))
	}
	all := respellings(t, tok)
	if len(all) < 15 {
		t.Fatalf("only %d respellings", len(all))
	}
	// Header and signature respellings are refused as malformed before any
	// crypto. A payload respelling changes the signing input, so the
	// signature cannot match; the payload is decoded (canonically) only
	// after the signature verified.
	sigSeg := strings.Split(tok, ".")[2]
	for i, alt := range all {
		_, err := v.Verify(context.Background(), alt)
		altParts := strings.Split(alt, ".")
		switch {
		case altParts[2] != sigSeg || altParts[0] != strings.Split(tok, ".")[0]:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("respelling %d: error = %v, want ErrMalformed", i, err)
			}
		default:
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("payload respelling %d: error = %v, want a refusal", i, err)
			}
		}
	}
	// A respelled payload with a signature over that very spelling still
	// fails: the payload must be canonical.
	for _, alt := range respellings(t, "A."+strings.Split(tok, ".")[1]+".A") {
		p := strings.Split(alt, ".")[1]
		input := strings.Split(tok, ".")[0] + "." + p
		resigned := input + "." + base64.RawURLEncoding.EncodeToString(rawSign(t, keys(t), RS256, []byte(input)))
		if _, err := v.Verify(context.Background(), resigned); !errors.Is(err, ErrMalformed) {
			t.Fatalf("re-signed payload respelling: %v, want ErrMalformed", err)
		}
	}
	// The cache must not answer a respelling of a cached token either.
	cached := newTestVerifier(t, func(c *VerifierConfig) { c.Cache = CacheConfig{} })
	if _, err := cached.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	for _, alt := range all {
		if _, err := cached.Verify(context.Background(), alt); err == nil {
			t.Fatal("cached verifier accepted a respelling")
		}
	}
}

func TestWhitespaceAndPaddingRejected(t *testing.T) {
	v := newTestVerifier(t, nil)
	tok := accessToken(t, nil)
	d1 := strings.IndexByte(tok, '.')
	d2 := d1 + 1 + strings.IndexByte(tok[d1+1:], '.')
	positions := []int{0, 5, d1, d1 + 1, d1 + 20, d2, d2 + 1, d2 + 100, len(tok)}
	for _, ws := range []string{" ", "\n", "\r", "\t", "\r\n", "=", "==", "+", "/", "\x00"} {
		for _, p := range positions {
			alt := tok[:p] + ws + tok[p:]
			_, err := v.Verify(context.Background(), alt)
			inPayload := p > d1 && p <= d2
			if !errors.Is(err, ErrMalformed) && !(inPayload && errors.Is(err, ErrBadSignature)) {
				t.Fatalf("%q at %d: error = %v, want ErrMalformed", ws, p, err)
			}
		}
	}
	// Standard (non-URL) base64 alphabet spellings are refused too.
	std := strings.NewReplacer("-", "+", "_", "/").Replace(tok)
	if std != tok {
		if _, err := v.Verify(context.Background(), std); err == nil {
			t.Fatalf("std alphabet: %v", err)
		}
	}
}

func TestErrorsCarryNoTokenText(t *testing.T) {
	k := keys(t)
	kid := "evil\x1b[31mkid\"\\" + strings.Repeat("x", 200)
	kj, _ := json.Marshal(kid)
	tok := sign(t, k, RS256, `{"alg":"RS256","kid":`+string(kj)+`}`, claimsJSON(t, nil))
	_, err := newTestVerifier(t, nil).Verify(context.Background(), tok)
	wantErr(t, err, ErrUnknownKey, tok)
	if strings.ContainsAny(err.Error(), "\x1b\\\"x") && strings.Contains(err.Error(), strings.Repeat("x", 64)) {
		t.Fatalf("kid not truncated: %q", err)
	}
	if strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("kid not escaped: %q", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Kind != ErrUnknownKey {
		t.Fatalf("not a ValidationError: %T", err)
	}
}

// failingKeys fails every lookup as a RemoteKeySet does during an outage.
type failingKeys struct{ err error }

func (f failingKeys) Key(context.Context, string) (*Key, error) { return nil, f.err }

func TestKeySourceFailureIsNotATokenError(t *testing.T) {
	tok := accessToken(t, nil)
	outage := fmt.Errorf("%w: jwks unreachable", ErrKeysUnavailable)
	_, err := newTestVerifier(t, func(c *VerifierConfig) { c.Keys = failingKeys{outage} }).Verify(context.Background(), tok)
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrBadSignature) {
		t.Fatalf("error = %v, want ErrKeysUnavailable only", err)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		t.Fatal("an outage reported as a token validation failure")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = newTestVerifier(t, func(c *VerifierConfig) { c.Keys = failingKeys{ctx.Err()} }).Verify(ctx, tok)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestNewVerifierConfigErrors(t *testing.T) {
	ks := keys(t).keySet()
	base := VerifierConfig{Issuer: testIssuer, Keys: ks, Audience: []string{"backend"}}
	tests := []struct {
		name string
		mut  func(*VerifierConfig)
	}{
		{"no issuer", func(c *VerifierConfig) { c.Issuer = "" }},
		{"no keys", func(c *VerifierConfig) { c.Keys = nil }},
		{"no audience rule", func(c *VerifierConfig) { c.Audience = nil }},
		{"HS256 allowed", func(c *VerifierConfig) { c.Algorithms = []string{"HS256"} }},
		{"none allowed", func(c *VerifierConfig) { c.Algorithms = []string{"none"} }},
		{"empty allow-list", func(c *VerifierConfig) { c.Algorithms = []string{} }},
		{"leeway too large", func(c *VerifierConfig) { c.Leeway = time.Hour }},
		{"token cap too large", func(c *VerifierConfig) { c.MaxTokenBytes = 1 << 20 }},
		{"both rules without parties", func(c *VerifierConfig) { c.RequireAudienceAndParty = true }},
		{"bad mode", func(c *VerifierConfig) { c.Mode = 7 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mut(&cfg)
			if _, err := NewVerifier(cfg); err == nil {
				t.Fatal("NewVerifier accepted the configuration")
			}
		})
	}
	if _, err := NewVerifier(base); err != nil {
		t.Fatal(err)
	}
}

func TestRSAPSSSaltLength(t *testing.T) {
	k := keys(t)
	header := `{"alg":"PS256","kid":"rsa-ps"}`
	input := enc64(header) + "." + enc64(claimsJSON(t, nil))
	h := sha256.Sum256([]byte(input))
	for _, salt := range []int{0, 20, 64} {
		sig, err := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		tok := input + "." + base64.RawURLEncoding.EncodeToString(sig)
		_, err = newTestVerifier(t, nil).Verify(context.Background(), tok)
		wantErr(t, err, ErrBadSignature, tok)
	}
}

// The claims must also survive a JSON round trip of the test fixture
// itself (guards against a fixture that silently lost members).
func TestFixtureShape(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(claimsJSON(t, nil)), &m); err != nil || len(m) < 20 {
		t.Fatalf("fixture: %v, %d members", err, len(m))
	}
}
