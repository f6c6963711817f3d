package introspect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	const tok = "abc.def.ghi"
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"has abc.def.ghi inside", "has [token] inside"},
		{"split abc.d\x01ef.g\nhi by controls", "split [token] by controls"},
		{"invalid \xff utf-8 abc.def\xfe.ghi", "invalid  utf-8 [token]"},
		{strings.Repeat("é", 200), strings.Repeat("é", 128) + "…"},
	}
	for _, tt := range tests {
		got := sanitize(tt.in, tok)
		if got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !utf8.ValidString(got) || strings.Contains(got, tok) {
			t.Errorf("sanitize(%q) = %q", tt.in, got)
		}
	}
}
