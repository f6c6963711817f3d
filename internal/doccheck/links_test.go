package doccheck

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository, seen from this package's directory.
const root = "../.."

// checkedFiles returns the Markdown files whose links are checked, relative
// to root.
func checkedFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range docs {
		files = append(files, path.Join("docs", filepath.Base(f)))
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md")
	}
	return files
}

var (
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	lineAnchor = regexp.MustCompile(`^L[0-9]+(-L[0-9]+)?$`)
)

// TestRelativeLinks: every relative link of README.md, CONTRIBUTING.md and
// docs/*.md names a file or directory of the repository, and its fragment,
// if any, a heading (or HTML id) of the Markdown file it names, or a line
// (#L12) of another file.
func TestRelativeLinks(t *testing.T) {
	pages := map[string]page{} // by path relative to root
	load := func(rel string) (page, error) {
		if p, ok := pages[rel]; ok {
			return p, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return page{}, err
		}
		p := parse(string(b))
		pages[rel] = p
		return p, nil
	}
	checked := 0
	for _, file := range checkedFiles(t) {
		p, err := load(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.links {
			if err := checkLink(file, l.target, load); err != "" {
				t.Errorf("%s:%d: link %q: %s", file, l.line, l.target, err)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("only %d links found: is the parser broken?", checked)
	}
}

// checkLink returns why target, linked from file, is broken, or "".
func checkLink(file, target string, load func(string) (page, error)) string {
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "" // not relative
	}
	p, frag, _ := strings.Cut(target, "#")
	p, err := url.PathUnescape(p)
	if err != nil {
		return "bad escape"
	}
	rel := file
	if p != "" {
		if path.IsAbs(p) {
			return "absolute path: GitHub resolves it against the site, not the repository"
		}
		rel = path.Clean(path.Join(path.Dir(file), p))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return "outside the repository"
		}
	}
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return "no such file or directory"
	}
	if frag == "" {
		return ""
	}
	switch {
	case fi.IsDir():
		return "a fragment on a directory"
	case strings.HasSuffix(rel, ".md"):
		dst, err := load(rel)
		if err != nil {
			return err.Error()
		}
		frag, err = url.PathUnescape(frag)
		if err != nil || !dst.anchors[frag] {
			return "no heading #" + frag + " in " + rel
		}
	case !lineAnchor.MatchString(frag):
		return "a fragment other than #L<n> on a file that is not Markdown"
	}
	return ""
}

// TestParse: the parser finds links outside code and GitHub's anchors.
func TestParse(t *testing.T) {
	src := "# Title\n" +
		"See [a](a.md#x), ![img](i.png \"t\") and `[not](code.md)`.\n" +
		"```go\n[not](fenced.md)\n# not a heading\n```\n" +
		"## `oidc.VerifierConfig` and [links](y.md)\n" +
		"## Keycloak behaviours, proven on 26.7.3\n" +
		"## 1. Log in: code + PKCE → done\n" +
		"## Title\n" +
		"<a id=\"custom\"></a>\n" +
		"[ref]: <refs.md#z>\n"
	p := parse(src)
	var got []string
	for _, l := range p.links {
		got = append(got, l.target)
	}
	if want := []string{"a.md#x", "i.png", "y.md", "refs.md#z"}; !slices.Equal(got, want) {
		t.Errorf("links %q, want %q", got, want)
	}
	for _, a := range []string{"title", "oidcverifierconfig-and-links", "keycloak-behaviours-proven-on-2673",
		"1-log-in-code--pkce--done", "title-1", "custom"} {
		if !p.anchors[a] {
			t.Errorf("no anchor %q in %v", a, p.anchors)
		}
	}
	if len(p.blocks) != 1 || p.blocks[0].info != "go" || p.blocks[0].text != "[not](fenced.md)\n# not a heading\n" {
		t.Errorf("blocks %+v", p.blocks)
	}
}
