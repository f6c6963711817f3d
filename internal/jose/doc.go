// Package jose holds the JOSE and JWT pieces shared by tokenwarden's
// verifiers (oidc, introspect, and DPoP proof checking): canonical
// base64url, compact JWS splitting, the strict protected-header parser,
// JWK parsing and validation into a key pinned to one algorithm, RFC 7638
// thumbprints, signature verification, and the strict JWT claims decoder.
//
// Everything here treats its input as hostile: sizes are bounded before
// decoding, base64url must be canonical (one spelling per byte string),
// JSON goes through strictjson (no repeated or case-variant member names),
// and a key verifies only the algorithm it is pinned to.
//
// Errors that describe a token are *Error values carrying a Kind, which the
// public packages map to their own categories. Details never contain token
// text; values copied from a token pass through Quote.
package jose
