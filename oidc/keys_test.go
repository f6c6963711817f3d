package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// TestStaticKeySetKeyCheck: NewStaticKeySet keeps exactly the keys fit for
// their algorithm, and explains a key it left out.
func TestStaticKeySetKeyCheck(t *testing.T) {
	rk := &testRSAKey(t, 0).PublicKey
	p256 := &mustEC(t, elliptic.P256()).PublicKey
	p384 := &mustEC(t, elliptic.P384()).PublicKey
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		key  *Key
		ok   bool
	}{
		{"RS256", &Key{ID: "a", Algorithm: RS256, Public: rk}, true},
		{"PS512", &Key{ID: "a", Algorithm: PS512, Public: rk}, true},
		{"ES256 P-256", &Key{ID: "a", Algorithm: ES256, Public: p256}, true},
		{"ES384 P-384", &Key{ID: "a", Algorithm: ES384, Public: p384}, true},
		{"EdDSA", &Key{ID: "a", Algorithm: EdDSA, Public: edPub}, true},
		{"nil", nil, false},
		{"empty alg", &Key{ID: "a", Public: rk}, false},
		{"HS256", &Key{ID: "a", Algorithm: "HS256", Public: rk}, false},
		{"none", &Key{ID: "a", Algorithm: "none", Public: rk}, false},
		{"RS256 with EC key", &Key{ID: "a", Algorithm: RS256, Public: p256}, false},
		{"ES256 on P-384", &Key{ID: "a", Algorithm: ES256, Public: p384}, false},
		{"ES512 with RSA", &Key{ID: "a", Algorithm: ES512, Public: rk}, false},
		{"EdDSA short", &Key{ID: "a", Algorithm: EdDSA, Public: edPub[:31]}, false},
		{"EdDSA with []byte", &Key{ID: "a", Algorithm: EdDSA, Public: []byte(edPub)}, false},
		{"RSA e=1", &Key{ID: "a", Algorithm: RS256, Public: &rsa.PublicKey{N: rk.N, E: 1}}, false},
		{"RSA nil N", &Key{ID: "a", Algorithm: RS256, Public: &rsa.PublicKey{E: 65537}}, false},
		{"RSA 1024", &Key{ID: "a", Algorithm: RS256, Public: &rsa.PublicKey{N: new(big.Int).Rsh(rk.N, 1024), E: 65537}}, false},
		{"ECDSA off curve", &Key{ID: "a", Algorithm: ES256, Public: &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// NewStaticKeySet keeps a valid key and, asked for the kid of
			// a key it left out, says why.
			got, err := NewStaticKeySet(tt.key).Key(context.Background(), "a")
			if tt.ok != (err == nil) || (tt.ok && got != tt.key) {
				t.Fatalf("Key: %v, %v; want ok=%v", got, err, tt.ok)
			}
			if err != nil {
				var d *droppedKey
				if !errors.Is(err, ErrUnknownKey) || (tt.key != nil && (!errors.As(err, &d) || d.why == "")) {
					t.Fatalf("%v: not ErrUnknownKey with a reason", err)
				}
			}
		})
	}
}

func TestStaticKeySet(t *testing.T) {
	ctx := context.Background()
	a := &Key{ID: "a", Algorithm: RS256, Public: &testRSAKey(t, 0).PublicKey}
	b := &Key{ID: "b", Algorithm: RS256, Public: &testRSAKey(t, 1).PublicKey}
	b2 := &Key{ID: "b", Algorithm: PS256, Public: &testRSAKey(t, 2).PublicKey}
	bad := &Key{ID: "c", Algorithm: "HS256", Public: &testRSAKey(t, 2).PublicKey}
	noKid := &Key{Algorithm: RS256, Public: &testRSAKey(t, 2).PublicKey}

	tests := []struct {
		name string
		keys []*Key
		kid  string
		want *Key
	}{
		{"known", []*Key{a, b}, "b", b},
		{"unknown", []*Key{a, b}, "z", nil},
		{"empty kid in multi-key set", []*Key{a, b}, "", nil},
		{"duplicate kid drops both", []*Key{a, b, b2}, "b", nil},
		{"duplicate kid keeps others", []*Key{a, b, b2}, "a", a},
		{"invalid key left out", []*Key{a, bad}, "c", nil},
		{"single kid-less key answers any kid", []*Key{noKid}, "whatever", noKid},
		{"single kid-less key answers empty kid", []*Key{noKid}, "", noKid},
		{"kid-less key in a multi-key set is left out", []*Key{noKid, a}, "", nil},
		{"single keyed key answers only its kid", []*Key{a}, "b", nil},
		{"nil key", []*Key{nil, a}, "a", a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewStaticKeySet(tt.keys...).Key(ctx, tt.kid)
			if tt.want == nil {
				if !errors.Is(err, ErrUnknownKey) || got != nil {
					t.Fatalf("got %v, %v; want ErrUnknownKey", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	var _ KeySource = NewStaticKeySet()
	var _ KeySource = (*RemoteKeySet)(nil)
}

// TestStaticKeySetDroppedKeyExplained: a token naming the kid of a key the
// static set left out is refused as ErrUnknownKey, and the error says why the
// key was left out.
func TestStaticKeySetDroppedKeyExplained(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t, func(c *VerifierConfig) {
		c.Keys = NewStaticKeySet(&Key{ID: testKID, Algorithm: RS256, Public: &weak.PublicKey})
	})
	_, err = v.Verify(context.Background(), accessToken(t, nil))
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "rsa modulus of 1024 bits") {
		t.Fatalf("err = %v, want ErrUnknownKey saying the key is too short", err)
	}
}
