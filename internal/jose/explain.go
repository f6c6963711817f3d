package jose

import (
	"strconv"
	"strings"
	"time"
)

// The renderings below build the expected and presented values of an
// explained refusal (oidc.ValidationError): short, one line, never token
// text. Values copied from a token are quoted and escaped (ValueRunes runes
// at most, at most ListValues of a list); times are RFC 3339 in UTC.

// ValueRunes bounds one quoted value of an explanation: enough for an
// issuer URL, far less than any token.
const ValueRunes = 128

// ListValues bounds the values of a list shown in an explanation.
const ListValues = 8

// WriteCheck writes the explanation of a failed check: its name, then
// " expected E" and ", presented P" for the values that are set, e.g.
// `aud expected one of ["backend"], presented ["account"]`.
func WriteCheck(b *strings.Builder, check, expected, presented string) {
	b.WriteString(check)
	if expected != "" {
		b.WriteString(" expected ")
		b.WriteString(expected)
	}
	if presented != "" {
		if expected != "" {
			b.WriteByte(',')
		}
		b.WriteString(" presented ")
		b.WriteString(presented)
	}
}

// QuoteValue quotes one value for an explanation.
func QuoteValue(s string) string { return QuoteN(s, ValueRunes) }

// QuoteList renders values as ["a", "b"], at most ListValues of them.
func QuoteList(values []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range values {
		if i == ListValues {
			b.WriteString(", … ")
			b.WriteString(strconv.Itoa(len(values) - i))
			b.WriteString(" more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteValue(v))
	}
	b.WriteByte(']')
	return b.String()
}

// OneOf renders an accepted set: "one of [...]".
func OneOf(values []string) string { return "one of " + QuoteList(values) }

// Time renders an instant of an explanation.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// NotAfter renders the rule "at most now + leeway" of nbf and iat.
func NotAfter(now time.Time, leeway time.Duration) string {
	return "not after " + Time(now.Add(leeway)) + " (now " + Time(now) + " + leeway " + leeway.String() + ")"
}

// After renders the rule "later than now - leeway" of exp.
func After(now time.Time, leeway time.Duration) string {
	return "later than " + Time(now.Add(-leeway)) + " (now " + Time(now) + " - leeway " + leeway.String() + ")"
}

// NotBefore renders the rule "iat at least now - maxAge - leeway" of a
// logout token.
func NotBefore(now time.Time, maxAge, leeway time.Duration) string {
	return "not before " + Time(now.Add(-maxAge-leeway)) + " (now " + Time(now) + " - max age " + maxAge.String() +
		" - leeway " + leeway.String() + ")"
}
