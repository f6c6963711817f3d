package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printSessions(w io.Writer, asJSON bool, realm, username, userID string, ss []session) error {
	if asJSON {
		return writeJSON(w, struct {
			Realm    string    `json:"realm"`
			User     string    `json:"user"`
			UserID   string    `json:"user_id"`
			Sessions []session `json:"sessions"`
		}{realm, username, userID, ss})
	}
	if len(ss) == 0 {
		_, err := fmt.Fprintf(w, "%s (%s) has no active session in realm %s\n", username, userID, realm)
		return err
	}
	fmt.Fprintf(w, "%s (%s) has %d active session(s) in realm %s\n", username, userID, len(ss), realm)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION (sid)\tIP\tSTARTED\tLAST ACCESS\tCLIENTS")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, orDash(s.IPAddress), fmtTime(s.Start), fmtTime(s.LastAccess),
			orDash(strings.Join(s.Clients, ",")))
	}
	return tw.Flush()
}

func printLogout(w io.Writer, asJSON bool, r logoutResult) error {
	if asJSON {
		return writeJSON(w, r)
	}
	if r.SingleSession {
		_, err := fmt.Fprintf(w, "ended session %s of %s (%s) in realm %s; the user's not-before is unchanged\n",
			r.Sessions[0], r.User, r.UserID, r.Realm)
		return err
	}
	fmt.Fprintf(w, "logged out %s (%s) in realm %s: %d session(s) ended\n", r.User, r.UserID, r.Realm, len(r.Sessions))
	for _, s := range r.Sessions {
		fmt.Fprintf(w, "  ended %s\n", s)
	}
	if !r.UserNotBefore.IsZero() {
		fmt.Fprintf(w, "user not-before: %s (%d); older tokens fail introspection\n", fmtTime(r.UserNotBefore), r.UserNotBefore.Unix())
	}
	return nil
}

func printPush(w io.Writer, asJSON bool, r pushResult) error {
	if asJSON {
		return writeJSON(w, r)
	}
	fmt.Fprintf(w, "realm %s: not-before set to %s (%d); older tokens fail introspection\n",
		r.Realm, fmtTime(r.NotBefore), r.NotBefore.Unix())
	switch {
	case !r.Pushed:
		fmt.Fprintln(w, "not pushed (-push=false): APIs that verify locally still accept older tokens")
	case len(r.Succeeded)+len(r.Failed) == 0:
		fmt.Fprintln(w, "pushed to no one: no client of the realm has an admin URL")
	default:
		fmt.Fprintf(w, "pushed to %d of %d admin URL(s)\n", len(r.Succeeded), len(r.Succeeded)+len(r.Failed))
		for _, s := range r.Succeeded {
			fmt.Fprintf(w, "  ok      %s\n", s)
		}
		for _, s := range r.Failed {
			fmt.Fprintf(w, "  FAILED  %s\n", s)
		}
	}
	return nil
}

// claimsView is the printed form of a token's claims: names as in the JWT,
// times as RFC 3339, roles flattened. It never holds the token itself.
type claimsView struct {
	Issuer            string              `json:"iss"`
	Subject           string              `json:"sub"`
	PreferredUsername string              `json:"preferred_username,omitempty"`
	Email             string              `json:"email,omitempty"`
	Audience          []string            `json:"aud"`
	AuthorizedParty   string              `json:"azp,omitempty"`
	ClientID          string              `json:"client_id,omitempty"`
	Type              string              `json:"typ,omitempty"`
	ID                string              `json:"jti,omitempty"`
	SessionID         string              `json:"sid,omitempty"`
	IssuedAt          time.Time           `json:"iat,omitzero"`
	Expiry            time.Time           `json:"exp"`
	NotBefore         time.Time           `json:"nbf,omitzero"`
	AuthTime          time.Time           `json:"auth_time,omitzero"`
	Scope             []string            `json:"scope"`
	RealmRoles        []string            `json:"realm_roles"`
	ClientRoles       map[string][]string `json:"client_roles"`
	ConfirmationJKT   string              `json:"cnf_jkt,omitempty"`
}

func printClaims(w io.Writer, c claimsView, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, v)
		}
	}
	row("subject", c.Subject)
	row("username", c.PreferredUsername)
	row("email", c.Email)
	row("issuer", c.Issuer)
	row("audience", strings.Join(c.Audience, ", "))
	row("authorized party", c.AuthorizedParty)
	row("client id", c.ClientID)
	row("type", c.Type)
	row("token id", c.ID)
	row("session", c.SessionID)
	if !c.IssuedAt.IsZero() {
		row("issued at", fmtTime(c.IssuedAt))
	}
	if !c.Expiry.IsZero() {
		left := c.Expiry.Sub(now).Truncate(time.Second)
		if left >= 0 {
			row("expires at", fmt.Sprintf("%s (in %s)", fmtTime(c.Expiry), left))
		} else {
			row("expires at", fmt.Sprintf("%s (%s ago)", fmtTime(c.Expiry), -left))
		}
	}
	if !c.AuthTime.IsZero() {
		row("auth time", fmtTime(c.AuthTime))
	}
	row("scope", strings.Join(c.Scope, " "))
	row("realm roles", strings.Join(c.RealmRoles, ", "))
	for _, client := range slices.Sorted(maps.Keys(c.ClientRoles)) {
		row("client roles", client+": "+strings.Join(c.ClientRoles[client], ", "))
	}
	row("bound to key", c.ConfirmationJKT)
	return tw.Flush()
}

func printStatus(w io.Writer, r statusResult) error {
	yesNo := func(b bool) string {
		if b {
			return "supported"
		}
		return "not advertised"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "issuer\t%s\n", r.Issuer)
	fmt.Fprintf(tw, "jwks\t%d usable signing key(s) at %s\n", r.Keys, r.JWKSURI)
	fmt.Fprintf(tw, "introspection\t%s\n", orDash(r.IntrospectionEndpoint))
	fmt.Fprintf(tw, "revocation\t%s\n", orDash(r.RevocationEndpoint))
	fmt.Fprintf(tw, "end session\t%s\n", orDash(r.EndSessionEndpoint))
	fmt.Fprintf(tw, "back-channel logout\t%s (with sid: %s)\n", yesNo(r.BackchannelLogout), yesNo(r.BackchannelSession))
	return tw.Flush()
}
