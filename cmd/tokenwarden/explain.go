package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// verifyLeeway is the clock skew verify tolerates: oidc.VerifierConfig's
// default, as an API built with adapter.New has it.
const verifyLeeway = 30 * time.Second

// Results of one check of verify --explain.
const (
	checkOK      = "ok"
	checkFailed  = "failed"
	checkSkipped = "skipped" // an earlier check left nothing to look at
)

// checkResult is one line of verify --explain: a check the API's verifier
// makes, whether the token passes it, and the values compared. It never
// holds token text: values copied from the token are quoted and bounded.
type checkResult struct {
	Check     string `json:"check"`
	Result    string `json:"result"`
	Expected  string `json:"expected,omitempty"`
	Presented string `json:"presented,omitempty"`
	Note      string `json:"note,omitempty"`
}

// explainConfig is the configuration the checks ran against.
type explainConfig struct {
	Issuer            string    `json:"issuer"`
	JWKSURI           string    `json:"jwks_uri"`
	Keys              int       `json:"keys"`
	Audience          []string  `json:"audience"`
	AuthorizedParties []string  `json:"authorized_parties"`
	Algorithms        []string  `json:"algorithms"`
	Mode              string    `json:"mode"`
	Leeway            string    `json:"leeway"`
	Now               time.Time `json:"now"`
}

// explainer runs each check of oidc.Verifier on its own, so that every one
// is reported, not only the first that fails.
type explainer struct {
	cfg    explainConfig
	algs   jose.AlgSet
	keys   oidc.KeySource
	mode   oidc.Mode
	checks []checkResult
}

func (x *explainer) add(check, result, expected, presented, note string) {
	x.checks = append(x.checks, checkResult{check, result, expected, presented, note})
}

func okIf(ok bool) string {
	if ok {
		return checkOK
	}
	return checkFailed
}

// quoted renders a claim of the token, or "absent".
func quoted(s string) string {
	if s == "" {
		return "absent"
	}
	return jose.QuoteValue(s)
}

// run checks token. verifyErr is the verdict of oidc.Verifier on the same
// token: the check it names is reported failed with its values, whatever
// this walk found.
func (x *explainer) run(ctx context.Context, token string, verifyErr error) {
	c, err := jose.Split(token, jose.DefaultMaxTokenBytes)
	if err != nil {
		x.add("jws", checkFailed, "a compact JWS of at most 16 KiB, canonical base64url", "", err.Error())
		x.skip("alg", "header.typ", "kid", "sig", "claims")
		x.finish(verifyErr)
		return
	}
	x.add("jws", checkOK, "", "", "")
	x.add("alg", okIf(x.algs.Has(c.Alg)), jose.OneOf(x.cfg.Algorithms), jose.Quote(c.Header.Alg), "")
	x.headerTyp(&c.Header)

	verified := false
	k, err := x.keys.Key(ctx, c.Header.Kid)
	switch {
	case err == nil && k != nil:
		x.add("kid", checkOK, "", jose.QuoteN(c.Header.Kid, 64), "")
		switch {
		case k.Algorithm != c.Header.Alg:
			x.add("sig", checkFailed, "alg "+jose.Quote(k.Algorithm)+" (pinned to the key)", jose.Quote(c.Header.Alg), "")
		case c.VerifySignature((*jose.Key)(k)) != nil:
			x.add("sig", checkFailed, "a signature by key "+jose.QuoteN(k.ID, 64), "", "")
		default:
			x.add("sig", checkOK, "", "", "")
			verified = true
		}
	case errors.Is(err, oidc.ErrUnknownKey):
		x.add("kid", checkFailed, "a key of the issuer's JWKS", jose.QuoteN(c.Header.Kid, 64), "")
		x.skip("sig")
	default:
		x.add("kid", checkFailed, "a key of the issuer's JWKS", jose.QuoteN(c.Header.Kid, 64), "the key set is unavailable")
		x.skip("sig")
	}

	note := ""
	if !verified {
		note = "unverified: the signature did not verify"
	}
	payload, err := c.Payload()
	var claims *oidc.Claims
	if err == nil {
		claims, err = oidc.ParseClaims([]byte(payload))
	}
	if err != nil {
		x.add("claims", checkFailed, "strict JSON claims", "", err.Error())
		x.finish(verifyErr)
		return
	}
	x.add("claims", checkOK, "", "", note)
	x.claims(claims, payload, note)
	x.finish(verifyErr)
}

func (x *explainer) skip(checks ...string) {
	for _, c := range checks {
		x.add(c, checkSkipped, "", "", "")
	}
}

func (x *explainer) headerTyp(h *jose.Header) {
	typ := "absent"
	if h.HasTyp {
		typ = jose.QuoteValue(h.Typ)
	}
	is := func(want string) bool {
		t := strings.ToLower(h.Typ)
		return t == want || t == "application/"+want
	}
	if x.mode == oidc.ModeRFC9068 {
		x.add("header.typ", okIf(h.HasTyp && is("at+jwt")), `"at+jwt"`, typ, "")
		return
	}
	x.add("header.typ", okIf(!h.HasTyp || is("jwt") || is("at+jwt")), `"JWT", "at+jwt" or absent`, typ, "")
}

// claims checks the payload as the verifier does after the signature.
func (x *explainer) claims(c *oidc.Claims, payload, note string) {
	x.add("iss", okIf(c.Issuer == x.cfg.Issuer), jose.QuoteValue(x.cfg.Issuer), quoted(c.Issuer), note)

	var top map[string]json.RawMessage
	_ = json.Unmarshal([]byte(payload), &top)
	if _, ok := top["events"]; ok {
		x.add("events", checkFailed, "absent (an access token)", "a logout token's events", note)
	}
	typOK := c.Type == "Bearer" || c.Type == "DPoP"
	want := `"Bearer" or "DPoP"`
	if x.mode == oidc.ModeRFC9068 {
		typOK, want = typOK || c.Type == "", `"Bearer", "DPoP" or absent`
	}
	x.add("typ", okIf(typOK), want, quoted(c.Type), note)

	aud, azp := x.cfg.Audience, x.cfg.AuthorizedParties
	audOK := len(aud) > 0 && slices.ContainsFunc(c.Audience, func(v string) bool { return slices.Contains(aud, v) })
	azpOK := len(azp) > 0 && c.AuthorizedParty != "" && slices.Contains(azp, c.AuthorizedParty)
	switch {
	case len(azp) == 0:
		x.add("aud", okIf(audOK), jose.OneOf(aud)+" in aud", jose.QuoteList(c.Audience), note)
	case len(aud) == 0:
		x.add("azp", okIf(azpOK), jose.OneOf(azp), quoted(c.AuthorizedParty), note)
	default:
		x.add("aud", okIf(audOK || azpOK), jose.OneOf(aud)+" in aud, or azp "+jose.OneOf(azp),
			"aud "+jose.QuoteList(c.Audience)+", azp "+quoted(c.AuthorizedParty), note)
	}

	now, leeway := x.cfg.Now, verifyLeeway
	if c.Expiry.IsZero() {
		x.add("exp", checkFailed, "present", "absent", note)
	} else {
		x.add("exp", okIf(now.Before(c.Expiry.Add(leeway))), jose.After(now, leeway), jose.Time(c.Expiry), note)
	}
	if !c.NotBefore.IsZero() {
		x.add("nbf", okIf(!now.Add(leeway).Before(c.NotBefore)), jose.NotAfter(now, leeway), jose.Time(c.NotBefore), note)
	}
	if c.IssuedAt.IsZero() {
		x.add("iat", checkFailed, "present", "absent", note)
	} else {
		x.add("iat", okIf(!now.Add(leeway).Before(c.IssuedAt)), jose.NotAfter(now, leeway), jose.Time(c.IssuedAt), note)
	}
	if x.mode == oidc.ModeRFC9068 {
		for _, m := range []struct{ claim, v string }{{"sub", c.Subject}, {"client_id", c.ClientID}, {"jti", c.ID}} {
			x.add(m.claim, okIf(m.v != ""), "present", quoted(m.v), note)
		}
	}
}

// finish makes the list agree with the verifier: the check its refusal
// names is failed, with the values it reports.
func (x *explainer) finish(verifyErr error) {
	var ve *oidc.ValidationError
	if !errors.As(verifyErr, &ve) || ve.Check == "" {
		return
	}
	for i := range x.checks {
		if x.checks[i].Check == ve.Check {
			r := &x.checks[i]
			r.Result = checkFailed
			if ve.Expected != "" {
				r.Expected = ve.Expected
			}
			if ve.Presented != "" {
				r.Presented = ve.Presented
			}
			return
		}
	}
	x.add(ve.Check, checkFailed, ve.Expected, ve.Presented, ve.Detail)
}

// printExplain prints the configuration and the checks as a table.
func printExplain(w io.Writer, cfg explainConfig, checks []checkResult) error {
	list := func(v []string) string {
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, ", ")
	}
	fmt.Fprintf(w, "configuration: issuer %s\n", cfg.Issuer)
	fmt.Fprintf(w, "  jwks %s (%d usable key(s)); audience %s; authorized parties %s\n", cfg.JWKSURI, cfg.Keys,
		list(cfg.Audience), list(cfg.AuthorizedParties))
	fmt.Fprintf(w, "  algorithms %s; mode %s; now %s; leeway %s\n", list(cfg.Algorithms), cfg.Mode, fmtTime(cfg.Now), cfg.Leeway)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tEXPECTED\tPRESENTED\tNOTE")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Result, orDash(c.Expected), orDash(c.Presented), c.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}
