package adapter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// What a refusal is about, in log lines and audit details.
const (
	aboutAccessToken  = "access token"
	aboutLogoutToken  = "logout token"
	aboutAdminMessage = "admin message"
	aboutDPoPProof    = "DPoP proof"
)

// explain copies the explanation of a failed token check (an
// *oidc.ValidationError in err) into e, with the configuration field that
// decides it. about says what was checked.
func (a *Authenticator) explain(e *AuthError, err error, about string) {
	var ve *oidc.ValidationError
	if !errors.As(err, &ve) {
		return
	}
	e.Check, e.Expected, e.Presented = ve.Check, ve.Expected, ve.Presented
	e.Setting = a.setting(ve.Check, about)
}

// setting names the configuration field that decides check: an
// adapter.Config field when New built the verifier, else the
// oidc.VerifierConfig field of the verifier passed in. "" when no setting
// decides (the token is at fault).
func (a *Authenticator) setting(check, about string) string {
	built := a.builtVerifier
	_, multi := a.cfg.Verifier.(*oidc.MultiVerifier)
	switch check {
	case "iss":
		switch {
		case built:
			return "adapter.Config.Issuer"
		case multi:
			return "oidc.NewMultiVerifier"
		}
		return "oidc.VerifierConfig.Issuer"
	case "kid":
		if built {
			return "adapter.Config.Issuer"
		}
		return "oidc.VerifierConfig.Keys"
	case "alg":
		return "oidc.VerifierConfig.Algorithms"
	case "header.typ":
		if about == aboutAccessToken {
			return "oidc.VerifierConfig.Mode"
		}
	case "aud":
		switch {
		case about == aboutLogoutToken && built:
			return "adapter.Config.Clients"
		case about == aboutLogoutToken:
			return "oidc.VerifierConfig.Logout.Audience"
		case built:
			return "adapter.Config.Audience"
		}
		return "oidc.VerifierConfig.Audience"
	case "azp":
		return "oidc.VerifierConfig.AuthorizedParties"
	case "resource":
		if built {
			return "adapter.Config.Audience, adapter.Config.Clients"
		}
		return "oidc.VerifierConfig.AdminResources"
	}
	return ""
}

// configShaped reports whether a failed check (of what about names)
// usually means a configuration mistake rather than a bad token or proof:
// such refusals are logged at info, the others at debug.
func configShaped(about, check string) bool {
	if about == aboutDPoPProof {
		// A proof's htu against ExternalURL (a proxy), its alg against the
		// allow-list, its iat against this host's clock; a missing nonce is
		// the protocol's first step, a bad signature or a replay the
		// proof's fault.
		switch check {
		case "htu", "alg", "iat":
			return true
		}
		return false
	}
	switch check {
	case "iss", "aud", "azp", "kid", "alg", "resource", "scheme":
		return true
	}
	return false
}

// hints say, for the configuration-shaped checks, what usually fixes them.
var hints = map[string]string{
	aboutAccessToken + "/iss": "iss must equal the issuer byte for byte (scheme, host, port, path); " +
		"when this process reaches Keycloak at another host, keep the issuer and set Config.InternalURL",
	aboutAccessToken + "/aud": "the API's client id must be in aud: an audience mapper on the app's client adds it " +
		"(with lightweight.claim for lightweight access tokens)",
	aboutAccessToken + "/kid": "no key of the issuer's JWKS has this kid, even after a refresh: " +
		"a token of another issuer (compare token_iss), or a key removed",
	aboutLogoutToken + "/aud":       "a logout token's aud is the client whose back-channel logout URL Keycloak called (the app's client)",
	aboutLogoutToken + "/kid":       "no key of the issuer's JWKS has this kid, even after a refresh",
	aboutAdminMessage + "/resource": "the message names the client whose admin URL Keycloak called",
	aboutAccessToken + "/alg":       "the realm signs with an algorithm outside the allow-list (RS256 by default)",
	aboutAccessToken + "/scheme": "the route requires DPoP: the app's client must get DPoP-bound tokens " +
		"(Keycloak client attribute dpop.bound.access.tokens) and send them as Authorization: DPoP with a proof",
	aboutDPoPProof + "/htu": "htu is the URL the client called: behind a proxy that terminates TLS or rewrites the host, " +
		"set Config.DPoP.Proof.ExternalURL to the scheme://host[:port] clients use",
	aboutDPoPProof + "/iat": "the client's clock and this host's disagree by more than MaxAge (iat too old) or Leeway (iat ahead)",
	aboutDPoPProof + "/alg": "the client signs proofs with an algorithm outside Config.DPoP.Proof.Algorithms",
}

// explanation renders e's explanation for an audit event's Detail.
func (e *AuthError) explanation() string {
	if e.Check == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("check=")
	b.WriteString(e.Check)
	for _, kv := range [...][2]string{{"expected", e.Expected}, {"presented", e.Presented}, {"setting", e.Setting}} {
		if kv[1] != "" {
			b.WriteByte(' ')
			b.WriteString(kv[0])
			b.WriteByte('=')
			b.WriteString(kv[1])
		}
	}
	return b.String()
}

// logRefusal logs a refused token with its explanation: at info when the
// check is configuration-shaped, else at debug; one line per second for
// each kind of refusal. token is read only for the unverified issuer of a
// token whose kid is unknown (the usual sign of a token of another issuer),
// and only when the line is written.
func (a *Authenticator) logRefusal(ctx context.Context, r *http.Request, about string, e *AuthError, token string) {
	level := slog.LevelDebug
	if configShaped(about, e.Check) {
		level = slog.LevelInfo
	}
	kind := about + "/" + e.Check
	if !a.log.Enabled(ctx, level) || !a.logs.allow(kind, a.now().UnixNano()) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("reason", string(e.Reason)))
	if e.Check != "" {
		attrs = append(attrs, slog.String("check", e.Check))
	}
	if e.Setting != "" {
		attrs = append(attrs, slog.String("setting", e.Setting))
	}
	if e.Expected != "" {
		attrs = append(attrs, slog.String("expected", e.Expected))
	}
	if e.Presented != "" {
		attrs = append(attrs, slog.String("presented", e.Presented))
	}
	if e.Check == "kid" {
		if iss, err := jose.PeekIssuer(token, maxTokenBytes); err == nil {
			attrs = append(attrs, slog.String("token_iss", jose.QuoteValue(iss)+" (unverified)"))
		}
	}
	if h := hints[kind]; h != "" {
		attrs = append(attrs, slog.String("hint", h))
	}
	if e.Check == "" && e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	if r.URL != nil {
		attrs = append(attrs, slog.String("path", r.URL.Path))
	}
	a.log.LogAttrs(ctx, level, "adapter: "+about+" refused", attrs...)
}

// refused logs a refused token or proof (logRefusal) and audits it as a
// failed verification whose Detail is the explanation; c is the verified
// token's claims, nil when it did not verify.
func (a *Authenticator) refused(r *http.Request, about string, e *AuthError, token string, c *oidc.Claims) {
	ctx := r.Context()
	a.logRefusal(ctx, r, about, e, token)
	if a.audit != nil {
		ev := a.event(r, AuditVerificationFailed, e.Reason, c)
		ev.Detail = e.explanation()
		a.audit.emit(ctx, ev)
	}
}

// maxLogKinds bounds the kinds of line the log limiter tracks; further
// kinds share one budget.
const maxLogKinds = 64

// logLimiter lets one line of each kind through per second: an outage or
// a misconfiguration touches every request, and one line says it, while a
// failure of another kind still shows.
type logLimiter struct {
	kinds sync.Map // kind → *atomic.Int64: unix nanoseconds of its last line
	n     atomic.Int32
}

func (l *logLimiter) allow(kind string, now int64) bool {
	v, ok := l.kinds.Load(kind)
	if !ok {
		if l.n.Load() >= maxLogKinds {
			kind = "other"
		}
		var loaded bool
		v, loaded = l.kinds.LoadOrStore(kind, new(atomic.Int64))
		if !loaded {
			l.n.Add(1)
		}
	}
	last := v.(*atomic.Int64)
	t := last.Load()
	return now-t >= int64(time.Second) && last.CompareAndSwap(t, now)
}

// logLimited logs msg at most once a second (per msg): an outage touches
// every request, and one line says it.
func (a *Authenticator) logLimited(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if !a.log.Enabled(ctx, level) || !a.logs.allow(msg, a.now().UnixNano()) {
		return
	}
	a.log.LogAttrs(ctx, level, msg, attrs...)
}
