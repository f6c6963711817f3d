package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// Key is a client's DPoP key: a private key that signs proofs, its public
// JWK and the thumbprint a token bound to it carries in cnf.jkt. Keep the
// private key where it cannot be copied (a platform keystore, an HSM, a
// non-extractable WebCrypto key): a Key works with any crypto.Signer.
type Key struct {
	signer crypto.Signer
	alg    jose.Alg
	hash   crypto.Hash
	size   int    // bytes of an EC coordinate; 0 for other keys
	header string // the base64url protected header: the same for every proof
	jkt    string
}

// NewKey returns a Key that signs with signer: ES256, ES384 or ES512 for
// an ECDSA key on P-256, P-384 or P-521, EdDSA for Ed25519, PS256 for RSA
// of at least 2048 bits.
func NewKey(signer crypto.Signer) (*Key, error) {
	if signer == nil {
		return nil, errors.New("dpop: nil signer")
	}
	k := &Key{signer: signer}
	pub := signer.Public()
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			k.alg, k.hash, k.size = jose.ES256, crypto.SHA256, 32
		case elliptic.P384():
			k.alg, k.hash, k.size = jose.ES384, crypto.SHA384, 48
		case elliptic.P521():
			k.alg, k.hash, k.size = jose.ES512, crypto.SHA512, 66
		default:
			return nil, errors.New("dpop: unsupported ecdsa curve")
		}
	case ed25519.PublicKey:
		k.alg = jose.EdDSA
	case *rsa.PublicKey:
		if p.N.BitLen() < jose.MinRSABits {
			return nil, fmt.Errorf("dpop: rsa key of %d bits, want at least %d", p.N.BitLen(), jose.MinRSABits)
		}
		k.alg, k.hash = jose.PS256, crypto.SHA256
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T", pub)
	}
	jwk, err := jose.PublicJWK(pub)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	if k.jkt, err = jose.Thumbprint(pub); err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	h := `{"typ":"dpop+jwt","alg":"` + k.alg.String() + `","jwk":` + jwk + `}`
	k.header = base64.RawURLEncoding.EncodeToString([]byte(h))
	return k, nil
}

// GenerateKey returns a Key with a new ECDSA P-256 private key (ES256, the
// algorithm every DPoP implementation supports), held in memory.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	return NewKey(priv)
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url-encoded: the cnf.jkt of the tokens bound to the key, and the
// dpop_jkt parameter of an authorization request (RFC 9449 §10).
func (k *Key) Thumbprint() string { return k.jkt }

// Proof returns a proof for a request with method to uri (its query and
// fragment are left out of htu), issued now, with a fresh random jti. With
// accessToken it carries ath, the token's hash (for a resource server);
// with nonce, the server's nonce.
func (k *Key) Proof(method, uri, accessToken, nonce string) (string, error) {
	return k.proof(method, uri, accessToken, nonce, time.Now())
}

// payload is a proof's claims, in the order they are written.
type payload struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

func (k *Key) proof(method, uri, accessToken, nonce string, iat time.Time) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("dpop: proof for %q: not an absolute URL", uri)
	}
	htu := u.Scheme + "://" + u.Host + u.EscapedPath()
	var id [16]byte
	_, _ = rand.Read(id[:])
	pl := payload{JTI: base64.RawURLEncoding.EncodeToString(id[:]), HTM: method, HTU: htu, IAT: iat.Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		pl.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	body, err := json.Marshal(pl)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	var b strings.Builder
	b.Grow(len(k.header) + 2 + base64.RawURLEncoding.EncodedLen(len(body)) + 700)
	b.WriteString(k.header)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(body))
	sig, err := k.sign([]byte(b.String()))
	if err != nil {
		return "", err
	}
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String(), nil
}

// sign signs the JWS signing input in the encoding of the key's algorithm.
func (k *Key) sign(input []byte) ([]byte, error) {
	if k.alg == jose.EdDSA {
		sig, err := k.signer.Sign(rand.Reader, input, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("dpop: sign: %w", err)
		}
		return sig, nil
	}
	var digest []byte
	switch k.hash {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		digest = d[:]
	default:
		d := sha512.Sum512(input)
		digest = d[:]
	}
	var opts crypto.SignerOpts = k.hash
	if k.alg == jose.PS256 {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: k.hash}
	}
	sig, err := k.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: sign: %w", err)
	}
	if k.size == 0 {
		return sig, nil
	}
	// ECDSA signers answer ASN.1 DER; JWS wants r || s of fixed length
	// (RFC 7518 §3.4).
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil ||
		rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*k.size || rs.S.BitLen() > 8*k.size {
		return nil, errors.New("dpop: sign: the ecdsa signer did not return an ASN.1 signature")
	}
	out := make([]byte, 2*k.size)
	rs.R.FillBytes(out[:k.size])
	rs.S.FillBytes(out[k.size:])
	return out, nil
}
