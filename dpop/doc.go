// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (DPoP, RFC 9449) at both ends of a request: a Verifier with which a
// resource server checks the proof that accompanies a DPoP-bound access
// token, and a Key and a Transport with which a Go client signs proofs for
// the authorization server's token endpoint and for APIs.
//
// A DPoP-bound access token carries cnf.jkt, the RFC 7638 thumbprint of
// the client's public key (Keycloak issues one to a client with the
// attribute dpop.bound.access.tokens). The client sends it as
// "Authorization: DPoP <token>" with a DPoP header holding a proof: a JWS,
// signed by the private key, whose header embeds the public key and whose
// payload names the request's method (htm) and URL (htu), a unique id
// (jti), the time (iat) and the hash of the token (ath). A copied token is
// worth nothing without the key, and a copied proof nothing beyond its one
// request.
//
// Verifier.Verify checks everything RFC 9449 §4.3 and §7 require, with the
// strictness tokenwarden applies to access tokens: one DPoP header holding
// one compact JWS of at most 8 KiB, read before anything is decoded;
// canonical base64url only; JSON with case-sensitive names and no repeated
// member; header typ "dpop+jwt"; alg on an allow-list of asymmetric
// algorithms, never none or HS*; the embedded jwk public, of the alg's
// type and curve, RSA of at least 2048 bits, EC points on their curve; the
// signature; jti, htm, htu and iat present; htm the request's method; htu
// the request's URL (without query and fragment, after RFC 3986 syntax-
// and scheme-based normalisation, with the externally visible scheme and
// host configurable); iat within a window; ath the token's hash; the key's
// thumbprint the token's cnf.jkt; optional server nonces (RFC 9449 §9);
// and the jti never seen before within the window, recorded in a
// ReplayStore — the revocation Store's SeenOnce, so that replicas sharing
// a Redis store refuse a proof replayed on any of them.
//
// Refusals are *Error values that carry the RFC error code for the client
// and, for the operator, which check failed, what was expected and what
// was presented.
//
// Verifier, Key and Transport are safe for concurrent use.
package dpop
