package dpop

import (
	"errors"
	"net/http"
	"strings"
)

// origin is the externally visible scheme://host[:port] and path prefix of
// the API (Config.ExternalURL), normalised.
type origin struct {
	base string // scheme://host[:port][/prefix], without a trailing slash
}

func parseExternalURL(s string) (*origin, error) {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return nil, errors.New("ExternalURL must not have a query or fragment")
	}
	n, ok := normalizeURI(s)
	if !ok {
		return nil, errors.New("ExternalURL must be an absolute http or https URL without user information")
	}
	return &origin{base: strings.TrimSuffix(n, "/")}, nil
}

// requestURI returns the URI of r as the client addressed it, without query
// and fragment: the configured external base and r's path; without one,
// the scheme of r's connection and its Host header.
func (v *Verifier) requestURI(r *http.Request) string {
	path := "/"
	if r.URL != nil {
		if p := r.URL.EscapedPath(); p != "" {
			path = p
		}
	}
	if v.ext != nil {
		return v.ext.base + path
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return scheme + r.Host + path
}

// sameURI reports whether htu (from a proof) names the request URI want,
// ignoring query and fragment, after RFC 3986 §6.2.2 syntax-based and
// §6.2.3 scheme-based normalisation of both.
func sameURI(htu, want string) bool {
	if i := strings.IndexAny(htu, "?#"); i >= 0 {
		htu = htu[:i]
	}
	if htu == want {
		return true // the common case: the client wrote what the server sees
	}
	a, ok := normalizeURI(htu)
	if !ok {
		return false
	}
	b, ok := normalizeURI(want)
	return ok && a == b
}

// normalizeURI normalises an absolute http(s) URI without query and
// fragment: scheme and host in lower case, the scheme's default port
// removed, an empty path made "/", percent-encodings in upper case and
// those of unreserved characters decoded, dot segments removed (RFC 3986
// §5.2.4, §6.2.2, §6.2.3). User information, a byte outside printable
// ASCII and a malformed percent-encoding make it fail.
func normalizeURI(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "", false
		}
	}
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", false
	}
	scheme := strings.ToLower(s[:i])
	var defaultPort string
	switch scheme {
	case "http":
		defaultPort = ":80"
	case "https":
		defaultPort = ":443"
	default:
		return "", false
	}
	rest := s[i+3:]
	authority, path := rest, "/"
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		authority, path = rest[:j], rest[j:]
	}
	if authority == "" || strings.ContainsAny(authority, "@%?#") {
		return "", false
	}
	authority = strings.ToLower(authority)
	authority = strings.TrimSuffix(authority, defaultPort)
	authority = strings.TrimSuffix(authority, ":") // an empty port is the default one
	if authority == "" || authority[0] == ':' {
		return "", false
	}
	path, ok := normalizePercent(path)
	if !ok {
		return "", false
	}
	return scheme + "://" + authority + removeDotSegments(path), true
}

// normalizePercent upper-cases the hex digits of percent-encodings and
// decodes those of unreserved characters.
func normalizePercent(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) {
			return "", false
		}
		hi, lo := unhex(p[i+1]), unhex(p[i+2])
		if hi > 15 || lo > 15 {
			return "", false
		}
		d := hi<<4 | lo
		if unreserved(d) {
			b.WriteByte(d)
		} else {
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[hi])
			b.WriteByte(hex[lo])
		}
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// unreserved reports whether c is an RFC 3986 §2.3 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4 for a path that starts with "/".
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
