package fake

import (
	"cmp"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// realmKey is one RS256 key of the realm's "rsa-generated" provider.
type realmKey struct {
	kid      string
	priv     *rsa.PrivateKey
	cert     *x509.Certificate
	priority int64
	active   bool // passive keys verify but never sign
}

// newRealmKey wraps priv with a self-signed certificate for the realm,
// valid ten years, as Keycloak's generated keys are.
func newRealmKey(priv *rsa.PrivateKey, realm string, now time.Time, priority int64) (*realmKey, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixMilli()),
		Subject:      pkix.Name{CommonName: realm},
		NotBefore:    now.Truncate(time.Second),
		NotAfter:     now.Truncate(time.Second).AddDate(10, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kid, err := keyID(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &realmKey{kid: kid, priv: priv, cert: cert, priority: priority, active: true}, nil
}

// keyID is Keycloak's kid for a generated key: the base64url SHA-256 of the
// DER SubjectPublicKeyInfo.
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func generateRSA() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// Keys no realm signs with: the "rsa-enc-generated" key the JWKS lists for
// encryption (shared by every fake realm of the process; it never signs),
// and the key of tokens from elsewhere.
var (
	encryptionKey = sync.OnceValues(generateRSA)
	foreignKey    = sync.OnceValues(generateRSA)
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// encodeHeader writes a JWS header the way Keycloak does:
// {"alg":"RS256","typ" : "JWT","kid" : "…"}.
func encodeHeader(h *object) ([]byte, error) { return h.encode(" : ") }

func header(alg, typ, kid string) *object {
	return newObject().set("alg", alg).set("typ", typ).set("kid", kid)
}

// sign serializes a compact JWS. key is an *rsa.PrivateKey for RS256, a
// []byte for HS512 and nil for "none".
func sign(h *object, claims *object, key any) (string, error) {
	hb, err := encodeHeader(h)
	if err != nil {
		return "", err
	}
	pb, err := claims.MarshalJSON()
	if err != nil {
		return "", err
	}
	input := b64(hb) + "." + b64(pb)
	var sig []byte
	switch alg := h.str("alg"); alg {
	case "RS256":
		priv, ok := key.(*rsa.PrivateKey)
		if !ok {
			return "", errors.New("RS256 needs an RSA key")
		}
		sum := sha256.Sum256([]byte(input))
		if sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:]); err != nil {
			return "", err
		}
	case "HS512":
		secret, ok := key.([]byte)
		if !ok {
			return "", errors.New("HS512 needs a secret")
		}
		m := hmac.New(sha512.New, secret)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		return "", fmt.Errorf("cannot sign with alg %q", alg)
	}
	return input + "." + b64(sig), nil
}

// jws is a compact JWS split into its parts.
type jws struct {
	header, claims *object
	input          string // header.payload
	sig            []byte
}

func splitJWS(token string) (*jws, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("signature is not base64url")
	}
	h, err := decodeObject(hb)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	c, err := decodeObject(pb)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return &jws{header: h, claims: c, input: parts[0] + "." + parts[1], sig: sig}, nil
}

// verifyLocked checks the signature of token with the realm's keys: RS256
// with an active or passive key, HS512 with the realm's secret.
func (k *Keycloak) verifyLocked(token string) (*jws, error) {
	j, err := splitJWS(token)
	if err != nil {
		return nil, err
	}
	kid := j.header.str("kid")
	switch j.header.str("alg") {
	case "RS256":
		i := k.keyLocked(kid)
		if i < 0 {
			return nil, errors.New("unknown key")
		}
		sum := sha256.Sum256([]byte(j.input))
		if rsa.VerifyPKCS1v15(&k.keys[i].priv.PublicKey, crypto.SHA256, sum[:], j.sig) != nil {
			return nil, errors.New("bad signature")
		}
	case "HS512":
		if kid != k.hmacKID {
			return nil, errors.New("unknown key")
		}
		m := hmac.New(sha512.New, k.hmacKey)
		m.Write([]byte(j.input))
		if !hmac.Equal(m.Sum(nil), j.sig) {
			return nil, errors.New("bad signature")
		}
	default:
		return nil, errors.New("algorithm not allowed")
	}
	return j, nil
}

// keyLocked returns the index of the key kid, -1 if the realm has none.
func (k *Keycloak) keyLocked(kid string) int {
	return slices.IndexFunc(k.keys, func(rk *realmKey) bool { return rk.kid == kid })
}

func (k *Keycloak) mustKeyLocked(t testing.TB, kid string) int {
	t.Helper()
	i := k.keyLocked(kid)
	if i < 0 {
		t.Fatalf("fake: no key %q", kid)
	}
	return i
}

// signingKeyLocked is the active key of highest priority, the newest on a
// tie.
func (k *Keycloak) signingKeyLocked() *realmKey {
	var best *realmKey
	for _, rk := range k.keys {
		if rk.active && (best == nil || rk.priority >= best.priority) {
			best = rk
		}
	}
	return best
}

// signLocked signs claims with the realm's current key (RS256) or, for
// HS512, with its secret.
func (k *Keycloak) signLocked(alg, typ string, claims *object) (string, error) {
	if alg == "HS512" {
		return sign(header("HS512", typ, k.hmacKID), claims, k.hmacKey)
	}
	rk := k.signingKeyLocked()
	if rk == nil {
		return "", errors.New("the realm has no active key")
	}
	return sign(header("RS256", typ, rk.kid), claims, rk.priv)
}

func jwk(rk *realmKey, use, alg string) jose.JSONWebKey {
	s1 := sha1.Sum(rk.cert.Raw)
	s256 := sha256.Sum256(rk.cert.Raw)
	return jose.JSONWebKey{
		Key: &rk.priv.PublicKey, KeyID: rk.kid, Algorithm: alg, Use: use,
		Certificates:                []*x509.Certificate{rk.cert},
		CertificateThumbprintSHA1:   s1[:],
		CertificateThumbprintSHA256: s256[:],
	}
}

// jwksLocked is the realm's certs document: its signing keys, active and
// passive, by priority, then the RSA-OAEP encryption key, as Keycloak lists
// them.
func (k *Keycloak) jwksLocked() ([]byte, error) {
	keys := slices.Clone(k.keys)
	slices.SortStableFunc(keys, func(a, b *realmKey) int { return cmp.Compare(b.priority, a.priority) })
	var set struct {
		Keys []jose.JSONWebKey `json:"keys"`
	}
	for _, rk := range keys {
		set.Keys = append(set.Keys, jwk(rk, "sig", "RS256"))
	}
	set.Keys = append(set.Keys, jwk(k.enc, "enc", "RSA-OAEP"))
	return json.Marshal(set)
}

// RotateKeys adds a new RS256 key with a priority above every other key,
// so that it signs every token from now on; the older keys stay in the
// JWKS and still verify. It returns the new key's kid.
func (k *Keycloak) RotateKeys(t testing.TB) string {
	t.Helper()
	priv, err := generateRSA()
	if err != nil {
		t.Fatalf("fake: generate key: %v", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	prio := int64(100)
	for _, rk := range k.keys {
		prio = max(prio, rk.priority+10)
	}
	rk, err := newRealmKey(priv, k.Realm, k.now(), prio)
	if err != nil {
		t.Fatalf("fake: new key: %v", err)
	}
	k.keys = append(k.keys, rk)
	return rk.kid
}

// SetKeyPassive makes a key passive: it stays in the JWKS and tokens it
// signed still verify, but it signs nothing new. Tokens are then signed by
// the active key of highest priority; with none left, grants fail.
func (k *Keycloak) SetKeyPassive(t testing.TB, kid string) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[k.mustKeyLocked(t, kid)].active = false
}

// RemoveKey deletes a key: it leaves the JWKS and tokens it signed no
// longer verify (Keycloak's introspection then answers inactive).
func (k *Keycloak) RemoveKey(t testing.TB, kid string) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.mustKeyLocked(t, kid)
	k.keys = slices.Delete(k.keys, i, i+1)
}

// KeyID returns the kid of the key that signs new tokens, "" when no key is
// active.
func (k *Keycloak) KeyID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rk := k.signingKeyLocked(); rk != nil {
		return rk.kid
	}
	return ""
}
