package oidc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMultiVerifier(t *testing.T) {
	k := keys(t)
	const otherIssuer = "https://other.example.test/realms/second"
	ckA := &countingKeys{inner: k.keySet()}
	ckB := &countingKeys{inner: NewStaticKeySet(&Key{ID: "b-1", Algorithm: RS256, Public: &k.rsa2.PublicKey})}
	a := newTestVerifier(t, func(c *VerifierConfig) { c.Keys = ckA; c.Cache = CacheConfig{} })
	b := newTestVerifier(t, func(c *VerifierConfig) { c.Keys = ckB; c.Issuer = otherIssuer })
	m, err := NewMultiVerifier(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMultiVerifier(a, a); err == nil {
		t.Fatal("two verifiers for one issuer accepted")
	}
	if m.Verifier(otherIssuer) != b || m.Verifier("x") != nil {
		t.Fatal("Verifier lookup")
	}

	tokA := accessToken(t, nil)
	c, err := m.Verify(context.Background(), tokA)
	if err != nil || c.Issuer != testIssuer {
		t.Fatalf("issuer A: %v", err)
	}
	if c2, _ := m.Verify(context.Background(), tokA); c2 != c {
		t.Fatal("cached answer not reused")
	}
	// A token claiming issuer B but signed with A's key (and kid) is
	// verified with B's keys only.
	forged := accessToken(t, map[string]any{"iss": otherIssuer})
	_, err = m.Verify(context.Background(), forged)
	wantErr(t, err, ErrUnknownKey, forged)
	forged2 := sign(t, k, RS256, `{"alg":"RS256","kid":"b-1"}`, claimsJSON(t, map[string]any{"iss": otherIssuer}))
	_, err = m.Verify(context.Background(), forged2)
	wantErr(t, err, ErrBadSignature, forged2)

	before := ckA.calls + ckB.calls
	for name, tok := range map[string]string{
		"unknown issuer": accessToken(t, map[string]any{"iss": "https://evil.test"}),
		"no issuer":      accessToken(t, map[string]any{"iss": nil}),
	} {
		_, err := m.Verify(context.Background(), tok)
		if err == nil {
			t.Fatalf("%s accepted", name)
		}
		wantErr(t, err, ErrWrongIssuer, tok)
	}
	for name, tok := range map[string]string{
		"duplicate iss": sign(t, k, RS256, rsHeader, `{"iss":"`+otherIssuer+`","iss":"`+testIssuer+`"}`),
		"not a jws":     "a.b",
		"bad base64":    "a.b=.c",
	} {
		_, err := m.Verify(context.Background(), tok)
		if err == nil {
			t.Fatalf("%s accepted", name)
		}
		wantErr(t, err, ErrMalformed, tok)
	}
	if ckA.calls+ckB.calls != before {
		t.Fatal("key lookups for tokens of no configured issuer")
	}
	lt := sign(t, k, RS256, logoutHeader, logoutJSON(t, nil))
	if _, err := m.VerifyLogoutToken(context.Background(), lt); err != nil {
		t.Fatal(err)
	}
	if a.cache.len() != 1 {
		t.Fatal("tokA not cached")
	}
	m.Forget(tokA)
	if a.cache.len() != 0 || m.ForgetFunc(func(*Claims) bool { return true }) != 0 {
		t.Fatal("Forget")
	}
	if _, err := m.Verify(context.Background(), tokA); err != nil {
		t.Fatal(err)
	}
	m.ForgetAll()
	if a.cache.len() != 0 {
		t.Fatal("ForgetAll left entries")
	}
}

// TestMultiVerifierPeekBounds: before any signature check the issuer peek
// reads at most 1,024 top-level members and skips values for their
// structure only; a signed token with many nested values still verifies, and
// a signed token whose nested values are not strict JSON is refused by the
// full decoding after the signature check.
func TestMultiVerifierPeekBounds(t *testing.T) {
	k := keys(t)
	ck := &countingKeys{inner: k.keySet()}
	v := newTestVerifier(t, func(c *VerifierConfig) { c.Keys = ck; c.MaxTokenBytes = 64 << 10 })
	m, err := NewMultiVerifier(v)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	payload := claimsJSON(t, nil)
	many := sign(t, k, RS256, rsHeader, strings.TrimSuffix(payload, "}")+manyMembersT(1100)+"}")
	if _, err := m.Verify(ctx, many); !errors.Is(err, ErrMalformed) || ck.calls != 0 {
		t.Fatalf("1,100 top-level members: %v, %d key lookups", err, ck.calls)
	}
	big := sign(t, k, RS256, rsHeader, strings.TrimSuffix(payload, "}")+`,"x":[0`+strings.Repeat(",0", 5000)+`]}`)
	if _, err := m.Verify(ctx, big); err != nil {
		t.Fatalf("a signed token with 5,000 nested values: %v", err)
	}
	loose := sign(t, k, RS256, rsHeader, strings.TrimSuffix(payload, "}")+`,"x":[tru,01]}`)
	if _, err := m.Verify(ctx, loose); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nested values that are not JSON: %v", err)
	}
}

// manyMembersT renders n distinct members ,"m0":0 ….
func manyMembersT(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"m%d":0`, i)
	}
	return b.String()
}
