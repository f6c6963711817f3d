package attack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/attack"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// TestCasesHoldForOtherMaterial regenerates the corpus for issuers and
// kids of other lengths (which move every base64 alignment) and checks each
// expectation against a Verifier over a static key set: the corpus does not
// depend on the default material.
func TestCasesHoldForOtherMaterial(t *testing.T) {
	base := attack.NewMaterial(t)
	for _, tc := range []struct{ issuer, kid, aud string }{
		{attack.DefaultIssuer, attack.DefaultKID, attack.DefaultAudience},
		{"https://sso.example.org/realms/a", "k", "api"},
		{"https://login.example.com:8443/auth/realms/Production-EU", "Xy3_-0abcDEFghiJKLmnoPQRstuVWxyz012345678", "orders-service"},
		{"http://127.0.0.1:8080/realms/tw", "kid-with-two", "b"},
	} {
		t.Run(tc.issuer+" "+tc.kid, func(t *testing.T) {
			m := *base
			m.Issuer, m.KID, m.Audience = tc.issuer, tc.kid, tc.aud
			m.Now = time.Unix(1_800_000_000+int64(len(tc.kid)), 0)
			cases, err := attack.Cases(&m)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Verifier(t, oidc.NewStaticKeySet(&oidc.Key{ID: m.KID, Algorithm: oidc.RS256, Public: &m.Key.PublicKey}))
			if _, err := v.Verify(context.Background(), m.Valid()); err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
			for _, c := range cases {
				_, err := v.Verify(context.Background(), c.Token)
				if !errors.Is(err, c.WantError) {
					t.Errorf("%s: error = %v, want %v", c.Name, err, c.WantError)
				}
				if c.UnknownKid != errors.Is(c.WantError, oidc.ErrUnknownKey) {
					t.Errorf("%s: UnknownKid %v with %v", c.Name, c.UnknownKid, c.WantError)
				}
				if c.WantStatus != http.StatusBadRequest && c.WantStatus != http.StatusUnauthorized {
					t.Errorf("%s: status %d", c.Name, c.WantStatus)
				}
			}
		})
	}
}

func TestCasesNeedMaterial(t *testing.T) {
	m := attack.NewMaterial(t)
	for name, mut := range map[string]func(*attack.Material){
		"no issuer":       func(m *attack.Material) { m.Issuer = "" },
		"no audience":     func(m *attack.Material) { m.Audience = "" },
		"no key":          func(m *attack.Material) { m.Key = nil },
		"no kid":          func(m *attack.Material) { m.KID = "" },
		"no attacker key": func(m *attack.Material) { m.Attacker = nil },
		"no clock":        func(m *attack.Material) { m.Now = time.Time{} },
	} {
		c := *m
		mut(&c)
		if cases, err := attack.Cases(&c); err == nil || cases != nil {
			t.Errorf("%s: Cases = %d cases, %v", name, len(cases), err)
		}
	}
	if _, err := attack.Cases(nil); err == nil {
		t.Error("Cases(nil) succeeded")
	}
}

func ExampleCases() {
	m, err := attack.GenerateMaterial()
	if err != nil {
		fmt.Println(err)
		return
	}
	cases, err := attack.Cases(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cases {
		if strings.HasPrefix(c.Name, "alg nOnE") {
			fmt.Println(c.Name, c.WantStatus, c.WantError)
		}
	}
	// Output:
	// alg nOnE, empty signature 401 oidc: malformed token
	// alg nOnE, no signature segment 401 oidc: malformed token
	// alg nOnE, real signature 401 oidc: disallowed signing algorithm
}
