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
//     FetchTimeout and is never cancelled by one caller.
//   - A failed fetch keeps the last good keys, served for StaleIfError past
//     their lifetime; after that Key fails with ErrKeysUnavailable.
//   - Fetches require https unless InsecureAllowHTTP, refuse redirects to
//     another scheme or host, and cap the body (64 KiB by default).
//
// # Errors
//
// Failures wrap sentinel errors for errors.Is: ErrUnknownKey,
// ErrKeysUnavailable, ErrInvalidJWKS, ErrKeySkipped (per key, as *KeyError),
// ErrInvalidKey, ErrInsecureURL, ErrRedirect, ErrBodyTooLarge,
// ErrUpstreamStatus, ErrDiscovery and ErrIssuerMismatch. No error carries a
// token.
//
// # Concurrency
//
// Discovery, Key, StaticKeySet and RemoteKeySet are safe for concurrent use;
// a Discovery and a Key are immutable once returned. A RemoteKeySet owns a
// goroutine until Close.
package oidc
