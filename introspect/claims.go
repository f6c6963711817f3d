package introspect

import "github.com/tokenwarden/tokenwarden/oidc"

// decodeClaims decodes the claims of an active introspection response with
// the oidc package's strict decoder, so a claim is read the same way whether
// a token was verified locally or introspected: case-sensitive names,
// duplicate names refused, integer NumericDates, aud as a string or an
// array, unknown members (active, username, token_type, …) skipped.
func decodeClaims(payload []byte) (*oidc.Claims, error) { return oidc.ParseClaims(payload) }
