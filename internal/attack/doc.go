// Package attack generates the consolidated corpus of forged, malformed and
// misused access tokens that every verifier path of tokenwarden must refuse.
//
// The ideas come from jwt_tool's attack modes and the attack table of the
// project's security notes; the code is this project's own. Given signing
// Material (the issuer's real key, a key the verifier does not trust, the
// issuer, the audience and the clock), Cases returns named cases, each with
// the HTTP answer the adapter middleware must give (400 invalid_request for a
// credential that is not an RFC 6750 b64token, 401 invalid_token otherwise)
// and the oidc sentinel error the Verifier must wrap:
//
//   - alg none in every letter case, with an empty, missing or real
//     signature segment, and other algorithms outside the allow-list;
//   - HS256, HS384 and HS512 keyed with the RSA public key's bytes (PEM,
//     PKCS#1 and PKIX DER, JWK JSON, modulus);
//   - embedded jwk, jku, x5u and x5c headers naming the attacker's key,
//     with the token signed by that key;
//   - kid path traversal, SQL and command injection strings, a very long
//     kid, a kid with NUL;
//   - crit variants, nested and oversized JSON, many dots, NUL bytes,
//     non-canonical base64url (padding, standard alphabet, unused trailing
//     bits), inserted whitespace;
//   - duplicate and case-variant claims, float, huge, negative and string
//     NumericDates, aud array/string confusion;
//   - ID, refresh, offline and logout tokens presented as access tokens;
//   - expired and not yet valid tokens, wrong or look-alike issuers, and a
//     token of another realm using the same kid.
//
// Claim-level attacks are signed with the real key: the verifier's claims
// decoder only sees payloads whose signature verified and must still refuse
// them. Cases that name a kid absent from the JWKS are marked UnknownKid: a
// verifier over a RemoteKeySet may spend its one unknown-kid fetch per
// cooldown on them, and no more.
//
// KeyServer serves the Material's JWKS over httptest and counts fetches.
// The package is for tests only.
package attack
