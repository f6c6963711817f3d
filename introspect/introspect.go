package introspect

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// Introspect asks the authorization server whether token is active (RFC 7662)
// and checks an active answer: "active" must be the JSON literal true, exp
// must be present and in the future by Config.Now, iss must equal
// Config.Issuer, and aud/azp must satisfy the audience rule.
//
// An inactive answer is {"active":false}; other members in it are ignored
// (RFC 7662 §2.2 asks servers not to send any), except an RFC 6749 "error"
// member, which makes any 200 answer an error.
//
// hint is the token_type_hint ("" to send none; HintAccessToken,
// HintRefreshToken). Keycloak answers 400 to hints it does not know.
//
// On success the Result is non-nil and the error nil. Otherwise the error
// wraps ErrInactive (inactive answer), ErrRejected (active, but a check
// failed), ErrUnavailable (network, timeout, 5xx), ErrInvalidResponse
// (malformed answer) or ErrConfig, or is a *Error (an RFC 6749 error
// answer; Keycloak: 401 failed client authentication, 403 public client,
// 400 unknown hint). No error ever contains the token.
func (c *Client) Introspect(ctx context.Context, token, hint string) (*Result, error) {
	if c.cfg.IntrospectionURL == "" {
		return nil, fmt.Errorf("%w: no IntrospectionURL configured", ErrConfig)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrRejected)
	}
	if len(token) > c.maxTok {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrRejected, c.maxTok)
	}
	ex, err := c.post(ctx, EndpointIntrospection, c.cfg.IntrospectionURL, newForm(token, hint), token)
	if err != nil {
		return nil, err
	}
	if ex.status != http.StatusOK {
		return nil, errorFromBody(EndpointIntrospection, ex.status, ex.body, token)
	}
	r, err := parseResponse(ex.body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidResponse, sanitize(err.Error(), token))
	}
	if r.errMember {
		return nil, errorFromBody(EndpointIntrospection, ex.status, ex.body, token)
	}
	if !r.active {
		return nil, ErrInactive
	}
	if err := c.check(r.result.Claims, token); err != nil {
		return nil, err
	}
	return r.result, nil
}

// check applies this client's rules to the claims of an active answer.
func (c *Client) check(cl *oidc.Claims, token string) error {
	if cl.Expiry.IsZero() {
		return fmt.Errorf("%w: active answer without exp", ErrInvalidResponse)
	}
	if !c.now().Before(cl.Expiry) {
		return fmt.Errorf("%w: exp has passed", ErrRejected)
	}
	if cl.Issuer != c.cfg.Issuer {
		return fmt.Errorf("%w: iss %q is not the configured issuer", ErrRejected, sanitize(cl.Issuer, token))
	}
	if c.cfg.InsecureSkipAudienceCheck {
		return nil
	}
	azp := cl.AuthorizedParty
	if azp == "" {
		azp = cl.ClientID
	}
	audOK := slices.ContainsFunc(cl.Audience, func(a string) bool { return slices.Contains(c.cfg.Audience, a) })
	partyOK := azp != "" && slices.Contains(c.cfg.AuthorizedParties, azp)
	if c.cfg.RequireAudienceAndParty {
		if audOK && partyOK {
			return nil
		}
	} else if audOK || partyOK {
		return nil
	}
	return fmt.Errorf("%w: audience rule not met (aud has none of %q, azp %q); with Keycloak, add an audience mapper naming this client to the client that requests the token",
		ErrRejected, sanitize(strings.Join(c.cfg.Audience, " "), token), sanitize(azp, token))
}
