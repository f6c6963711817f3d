package oidc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/attack"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// sentinels are the categories a refusal may wrap; a case must wrap its own
// and no other.
var sentinels = []error{oidc.ErrMalformed, oidc.ErrAlgorithm, oidc.ErrBadSignature, oidc.ErrExpired,
	oidc.ErrNotYetValid, oidc.ErrWrongIssuer, oidc.ErrWrongAudience, oidc.ErrWrongType, oidc.ErrUnknownKey}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// TestAttackCorpus runs the consolidated attack corpus (internal/attack)
// against a Verifier over a RemoteKeySet served by a counting JWKS server:
// every case is refused with the category the corpus names (errors.Is,
// and no other category), no claims come back, VerifyLogoutToken refuses it
// too, no error quotes the token,
// a cached verifier does not answer any of them, and the whole corpus costs
// the initial fetch plus at most the one unknown-kid fetch the cooldown
// allows.
func TestAttackCorpus(t *testing.T) {
	m := attack.NewMaterial(t)
	cases, err := attack.Cases(m)
	if err != nil {
		t.Fatal(err)
	}
	ks := attack.NewKeyServer(t, m.JWKS())
	v := m.Verifier(t, m.KeySource(t, ks))
	ctx := context.Background()
	// The control: the material's valid token is accepted.
	if _, err := v.Verify(ctx, m.Valid()); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if got := ks.Fetches(); got != 1 {
		t.Fatalf("JWKS fetches after the valid token = %d, want 1", got)
	}
	unknown := 0
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			before := ks.Fetches()
			c, err := v.Verify(ctx, tc.Token)
			if after := ks.Fetches(); !tc.UnknownKid && after != before {
				t.Fatalf("JWKS fetched %d times for a case without an unknown kid", after-before)
			}
			if c != nil || err == nil {
				t.Fatalf("accepted (claims %v, error %v)", c != nil, err)
			}
			if !errors.Is(err, tc.WantError) {
				t.Fatalf("error = %v, want %v", err, tc.WantError)
			}
			for _, s := range sentinels {
				if s != tc.WantError && errors.Is(err, s) {
					t.Fatalf("error = %v wraps %v as well as %v", err, s, tc.WantError)
				}
			}
			var ve *oidc.ValidationError
			if !errors.As(err, &ve) || ve.Kind != tc.WantError {
				t.Fatalf("error %T is not a ValidationError of kind %v", err, tc.WantError)
			}
			// Nor is any of them a logout token, but the one that is.
			lc, lerr := v.VerifyLogoutToken(ctx, tc.Token)
			switch {
			case tc.Name == "logout token":
				if lerr != nil {
					t.Fatalf("the corpus's genuine logout token: %v", lerr)
				}
			case lc != nil || !wrapsSentinel(lerr):
				t.Fatalf("VerifyLogoutToken: claims %v, error %v", lc != nil, lerr)
			}
			msg := err.Error()
			for _, seg := range strings.Split(tc.Token, ".") {
				if len(seg) >= 16 && strings.Contains(msg, seg[:16]) {
					t.Fatalf("error message quotes the token: %q", msg)
				}
			}
		})
		if tc.UnknownKid {
			unknown++
		}
	}
	if unknown == 0 {
		t.Fatal("the corpus has no unknown-kid case")
	}
	if got := ks.Fetches(); got > 2 {
		t.Fatalf("JWKS fetches = %d, want the initial one plus at most one for unknown kids", got)
	}
}
