package introspect

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Revoke asks the authorization server to revoke token (RFC 7009). hint is
// the token_type_hint ("" for none); Keycloak ignores it and reads the type
// from the token.
//
// It returns nil when the server answered 200: RFC 7009 §2.2 answers 200
// for a token that was revoked and for one that was already invalid, and
// Keycloak sends the latter as 200 with {"error":"invalid_token"}. A 200
// whose body carries any other "error" member is not taken as success and is
// returned as a *Error with Status 200.
//
// 503 means the token is still valid (§2.2.1): Revoke retries, waiting
// for Retry-After (delay-seconds or HTTP-date; 1 s when absent), as long as
// Config.RevokeMaxAttempts, Config.RevokeMaxRetryWait and the context
// deadline allow; it never starts a wait it could not finish. The final
// error then wraps ErrUnavailable (and is a *Error when the answer had a
// body).
//
// Other errors: *Error for 4xx answers (Keycloak: 400 unsupported_token_type
// for an ID token, 400 invalid_request for another client's token, 400
// invalid_client for a bearer-only client, 401 unauthorized_client for
// failed client authentication), ErrUnavailable for network failures,
// timeouts and other 5xx answers, ErrConfig when no RevocationURL is set.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.cfg.RevocationURL == "" {
		return fmt.Errorf("%w: no RevocationURL configured", ErrConfig)
	}
	if token == "" {
		return fmt.Errorf("%w: empty token", ErrConfig)
	}
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		ex, err := c.post(ctx, EndpointRevocation, c.cfg.RevocationURL, newForm(token, hint), token)
		if err != nil {
			return err
		}
		switch {
		case ex.status == http.StatusOK:
			if code, _, ok := errorMember(ex.body); ok && code != "invalid_token" {
				return errorFromBody(EndpointRevocation, ex.status, ex.body, token)
			}
			return nil
		case ex.status == http.StatusServiceUnavailable:
			e := errorFromBody(EndpointRevocation, ex.status, ex.body, token)
			d, ok := c.retryDelay(ex.header.Get("Retry-After"))
			if !ok || attempt >= c.cfg.RevokeMaxAttempts || c.cfg.RevokeMaxRetryWait < 0 ||
				waited+d > c.cfg.RevokeMaxRetryWait {
				return e
			}
			if dl, has := ctx.Deadline(); has && time.Until(dl) < d {
				return e
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w: waiting to retry: %w", e, ctx.Err())
			case <-t.C:
			}
			waited += d
		default:
			return errorFromBody(EndpointRevocation, ex.status, ex.body, token)
		}
	}
}

// retryDelay parses Retry-After (RFC 9110 §10.2.3). An absent header means
// 1 s; an unparsable one means do not retry.
func (c *Client) retryDelay(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Second, true
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(c.now())
	if d < 0 {
		d = 0
	}
	return d, true
}
