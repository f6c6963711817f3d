package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
)

// Verify checks sig over input with k for the header algorithm a, named
// hdrAlg in the header. The key's pinned algorithm must equal the header's;
// RSA keys must have at least 2048 bits, EC keys the algorithm's curve, and
// RSA-PSS signatures a salt as long as the hash (RFC 7518 §3.5).
//
// ECDSA signatures are r || s of fixed length (RFC 7518 §3.4). Like every
// ECDSA verifier, this one accepts both (r, s) and (r, n−s) for one message:
// a valid ES* token has two valid spellings, which is why nothing may key a
// security decision on the token string alone.
func Verify(k *Key, a Alg, hdrAlg string, input, sig []byte) error {
	return verify(k, a, hdrAlg, input, sig, make([]byte, 0, 64))
}

// verify is Verify with the digest written to scratch (capacity ≥ 64).
func verify(k *Key, a Alg, hdrAlg string, input, sig, scratch []byte) error {
	if k.Algorithm != hdrAlg {
		return errAlgMismatch
	}
	if a == EdDSA {
		pub, ok := k.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return errKeyType
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, input, sig) {
			return errBadSignature
		}
		return nil
	}
	h := a.hash()
	if h == 0 {
		return errNoAlg
	}
	var digest []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(input)
		digest = append(scratch[:0], s[:]...)
	case crypto.SHA384:
		s := sha512.Sum384(input)
		digest = append(scratch[:0], s[:]...)
	default:
		s := sha512.Sum512(input)
		digest = append(scratch[:0], s[:]...)
	}
	if a.isRSA() {
		pub, ok := k.Public.(*rsa.PublicKey)
		if !ok || pub.N == nil {
			return errKeyType
		}
		if pub.N.BitLen() < MinRSABits {
			return errShortRSA
		}
		if len(sig) != pub.Size() {
			return errBadSignature
		}
		var err error
		if a.isPSS() {
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		}
		if err != nil {
			return errBadSignature
		}
		return nil
	}
	pub, ok := k.Public.(*ecdsa.PublicKey)
	if !ok || pub.Curve == nil {
		return errKeyType
	}
	curve := curveOf(a)
	if pub.Curve != curve {
		return errKeyCurve
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return errBadSignature
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	if !ecdsa.Verify(pub, digest, r, s) {
		return errBadSignature
	}
	return nil
}

// curveOf returns the curve an ES* algorithm requires (RFC 7518 §3.4).
func curveOf(a Alg) elliptic.Curve {
	switch a {
	case ES256:
		return elliptic.P256()
	case ES384:
		return elliptic.P384()
	case ES512:
		return elliptic.P521()
	}
	return nil
}
