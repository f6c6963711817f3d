// Package oidc lets a resource server trust OpenID Connect / OAuth 2.0
// access tokens, Keycloak's in particular, by local verification: issuer
// discovery, a hardened JWKS cache, and strict verification of access tokens
// and back-channel logout tokens into typed Claims.
//
// # Specifications
//
//   - OpenID Connect Discovery 1.0 §3-4 and RFC 8414 (provider metadata)
//   - RFC 7517 (JWK, JWK Set), RFC 7518 §3 and §6 (algorithms, key
//     parameters), RFC 8037 (Ed25519 keys)
//   - RFC 8725 (JWT best current practices): one algorithm per key (§3.1),
//     no "none" (§3.2), kid is untrusted input (§3.10)
//   - RFC 7234 §5.2.2.8 (Cache-Control max-age) for the JWKS lifetime
//
// # Discovery
//
// Discover fetches an issuer's discovery document through go-oidc's
// NewProvider, keeps that Provider (Discovery.Provider) for the standard
// flows, and decodes what go-oidc does not expose: the introspection,
// revocation and end-session endpoints, back-channel logout support and the
// endpoint authentication methods. KeycloakIssuer builds a realm's issuer.
// DiscoveryConfig.InternalURL serves backends that reach the provider on
// another host name than the one in iss (a Docker network): discovery and
// back-channel calls go to the internal host, browser-facing endpoints keep
// the public one, and the iss check stays exact against the configured
// issuer.
//
// # Keys
//
// A Key is one verification key pinned to exactly one JWS algorithm; the
// verifier requires the token header's alg to equal it. ParseJWKS loads a
// JWK Set strictly and leaves out, one by one, the keys that must not verify
// anything: encryption keys, symmetric (oct) keys, RSA under 2048 bits or
// with a bad exponent or the ROCA fingerprint, EC points off their curve,
// algorithm/curve mismatches, published private keys, and every key of a
// duplicated kid. HS* and "none" are never accepted.
//
// StaticKeySet holds fixed keys. RemoteKeySet caches a jwks_uri:
//
//   - The constructor starts one goroutine that fetches at once and then
//     refreshes ahead of expiry (at about 3/4 of the set's lifetime). The
//     lifetime is Cache-Control max-age clamped to [MinRefresh, MaxRefresh],
//     or MinRefresh when the response gives none (Keycloak sends no-cache).
//     Close stops the goroutine and cancels a fetch in flight.
//   - A known kid is answered from an immutable snapshot behind an atomic
//     pointer: no lock, no allocation, and never a fetch, so a forged
//     signature on a known kid costs the identity provider nothing.
//   - An unknown kid joins the fetch in flight, or starts one if the
//     UnknownKidCooldown has passed since the last unknown-kid fetch, or is
//     refused at once. A kid found absent from a fresh set goes into a
//     bounded negative cache until the next load. A flood of random kids
//     therefore costs at most one fetch per cooldown and bounded memory.
//   - Fetches are shared by all waiters; each waiter is bounded by its own
//     context, while the fetch runs on the key set's context with
//     Timeout and is never cancelled by one caller.
//   - A failed fetch keeps the last good keys, served for StaleIfError past
//     their lifetime; after that Key fails with ErrKeysUnavailable. A kid
//     absent from the cached set while fetches fail (the fetch it joined or
//     started failed, or the last fetch failed and the cooldown forbids
//     another) also fails with ErrKeysUnavailable, not ErrUnknownKey: it
//     may be a key published during the outage.
//   - Fetches require https unless InsecureAllowHTTP, refuse redirects to
//     another scheme or host, and cap the body (64 KiB by default).
//
// Both key sets also implement go-oidc's KeySet (VerifySignature), so
// go-oidc's ID-token verifier can run on this cache instead of go-oidc's
// RemoteKeySet, which refetches the JWKS for every bad signature.
//
// # Errors
//
// Failures wrap sentinel errors for errors.Is: ErrUnknownKey (no key has the
// kid), ErrKeysUnavailable (no usable key set, or a fetch that could not reach
// the JWKS), ErrInvalidJWKS (a document that is too large, malformed or holds
// no usable key), ErrInsecureURL (a URL that is not allowed) and
// ErrDiscovery. The text names the detail (status, cap, refused redirect,
// issuer mismatch). ParseJWKS reports each key it leaves out as an error
// whose text says why. No error carries a token.
//
// # Concurrency
//
// Discovery, Key, StaticKeySet and RemoteKeySet are safe for concurrent use;
// a Discovery and a Key are immutable once returned. A RemoteKeySet owns a
// goroutine until Close.
//
// # Access-token verification
//
// Verifier.Verify checks, in this order and all of them: the token length
// (MaxTokenBytes, 16 KiB by default) and an 8 KiB header cap before any
// decoding; exactly three segments of canonical unpadded base64url (padding,
// whitespace and non-zero unused bits are refused, so a token has exactly one
// accepted spelling); a strict header (alg in the caller's allow-list, RS256
// only by default; no crit, even empty; no b64 or zip; jwk, jku, x5u and x5c
// ignored and never fetched); the header typ per Mode; the key named by kid,
// whose pinned alg must equal the header's; the signature (PKCS #1 v1.5, PSS
// with salt length equal to the hash size, ECDSA r||s of fixed length,
// Ed25519); only then the payload: strict claims decoding, the exact iss,
// the token kind (ModeKeycloak: payload typ Bearer or DPoP; ModeRFC9068:
// header typ at+jwt and RFC 9068's required claims; ID, refresh, offline and
// logout tokens are refused in both), the audience rule (aud contains one of
// Audience and/or azp is one of AuthorizedParties), exp (required), nbf and
// iat with a bounded
// leeway (30 s by default). The JSON and base64url code is the module's own
// (shared with the introspect package), so the request path allocates
// little (at most 20 allocations for a Keycloak token, half of them in
// crypto/rsa) and no encoding/json runs on it.
//
// Headers and claims are decoded case-sensitively; a member name that
// repeats in any object, also through escapes or Unicode case folding
// ("aud" and "AUD", "sub" and "ſub"), is refused; strings must be valid
// UTF-8; nesting is bounded; NumericDates must be JSON integers in
// (0, 1e11): RFC 7519 permits fractions, but no supported issuer sends them
// and refusing them keeps 1e300 and string dates out. Repeated names are
// found in time linear in the number of members (a keyed hash of each
// case-folded name), and what is read before any signature check is bounded
// (256 members and array elements in a header), so a forged token whose
// header, or whose payload peeked at by MultiVerifier, packs its bytes as
// thousands of tiny members costs no more to refuse than a forged
// signature on a token of its size. ParseClaims exposes the
// claims decoder.
//
// # Verified-token cache
//
// Unless CacheConfig.Disabled, a verified token's *Claims is cached. The slot
// is chosen with hash/maphash under a random per-verifier seed over the
// token's signing input (header and payload: the content the signature
// covers), and a hit requires the stored token to equal the presented one
// byte for byte, so neither a prefix, a respelling nor a hash collision can
// return claims without a full verification. An entry lives at most until
// the token's exp and MaxTTL; exp and nbf are checked again on every hit
// against Now; the cache is a bounded LRU in 16 shards; a hit does not
// allocate and returns the same immutable *Claims. Forget, ForgetFunc and
// ForgetAll evict on revocation.
//
// Base64url is canonical here, so an RS*, PS* or EdDSA token has exactly one
// accepted spelling. An ES* token has two: ECDSA accepts both (r, s) and
// (r, n−s) as a signature of one message, and anyone holding the token can
// compute the other. Both verify; nothing keys a security decision on the
// string (the deny-list keys on the verified iss, jti, sid and sub), and the
// cache keys on the signing input, so Forget of either spelling forgets the
// verified content and the next use of either is verified again.
//
// # Logout tokens and Keycloak admin messages
//
// Verifier.VerifyLogoutToken implements OpenID Connect Back-Channel Logout
// 1.0 §2.6 with Keycloak's shape: header typ logout+jwt (absence only with
// LogoutTokenConfig.AllowMissingTyp), the same algorithm and key rules, exact iss,
// aud containing a configured client id, an events object holding the
// back-channel logout member (siblings such as revoke_offline_access are
// read), jti, iat (bounded by LogoutTokenConfig.MaxAge) and exp required, sub
// and/or sid, no nonce. Verifier.VerifyAdminAction verifies the body of
// Keycloak's k_logout / k_push_not_before requests: a realm-signed compact
// JWS whose action, expiration and resource are checked. Replay detection
// (jti, id) is left to the caller, which owns the shared state.
//
// # Several issuers
//
// MultiVerifier reads iss from the unverified payload (its top level
// strictly, at most 1,024 members, no name repeated; values for their
// structure only), then lets the Verifier configured for exactly that issuer
// verify the whole token, which decodes the payload strictly once the
// signature verified; an unknown issuer is refused with ErrWrongIssuer
// without any key lookup.
//
// # Verification errors
//
// Every refusal wraps one category for errors.Is: ErrMalformed,
// ErrAlgorithm, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrWrongIssuer,
// ErrWrongAudience, ErrWrongType or ErrUnknownKey, as a *ValidationError.
// A KeySource failure that says nothing about the token (ErrKeysUnavailable
// during a JWKS outage, a cancelled context) is returned unchanged, so a
// server can answer 503 rather than 401. Messages never
// contain the token; values copied from it (kid, alg) are truncated and
// escaped. Verifier and MultiVerifier are safe for concurrent use and start
// no goroutine.
package oidc
