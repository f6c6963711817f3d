package doccheck

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// A link is one link target of a Markdown file, with its line number.
type link struct {
	line   int
	target string
}

// A page is what the checks need of a Markdown file: its links, the
// anchors its headings and HTML ids define, and its fenced code blocks.
type page struct {
	links   []link
	anchors map[string]bool
	blocks  []block
}

// A block is a fenced code block: its info string, its text, and the
// heading it follows.
type block struct {
	info, text, heading string
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	fence      = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")
	// An inline link or image: [text](target "title"), target optionally
	// in <>. Code spans are removed before it runs.
	inlineLink = regexp.MustCompile(`\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	htmlID     = regexp.MustCompile(`<[a-zA-Z][^>]*\s(?:id|name)="([^"]+)"`)
	linkText   = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// parse reads a Markdown file as GitHub renders it, closely enough for
// links and anchors: ATX headings, fenced code, code spans, inline links,
// reference definitions and HTML ids.
func parse(src string) page {
	p := page{anchors: map[string]bool{}}
	seen := map[string]int{}
	var open string // the fence that opened the current code block
	var cur block
	heading := ""
	for i, line := range strings.Split(src, "\n") {
		if open != "" {
			if m := fence.FindStringSubmatch(line); m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(m[2]) == "" {
				open = ""
				p.blocks = append(p.blocks, cur)
				continue
			}
			cur.text += line + "\n"
			continue
		}
		if m := fence.FindStringSubmatch(line); m != nil && !(m[1][0] == '`' && strings.Contains(m[2], "`")) {
			open = m[1]
			cur = block{info: strings.TrimSpace(m[2]), heading: heading}
			continue
		}
		for _, m := range htmlID.FindAllStringSubmatch(line, -1) {
			p.anchors[m[1]] = true
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			heading = m[2]
			s := slug(m[2])
			if n := seen[s]; n > 0 {
				p.anchors[s+"-"+strconv.Itoa(n)] = true
			} else {
				p.anchors[s] = true
			}
			seen[s]++
		}
		text := stripCodeSpans(line)
		if m := refDef.FindStringSubmatch(text); m != nil {
			p.links = append(p.links, link{i + 1, strings.Trim(m[1], "<>")})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			p.links = append(p.links, link{i + 1, strings.Trim(m[1], "<>")})
		}
	}
	return p
}

// stripCodeSpans removes the code spans of a line: a run of backticks up to
// the next run of the same length.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		n := i
		for n < len(s) && s[n] == '`' {
			n++
		}
		run := s[i:n]
		end := closingRun(s[n:], len(run))
		if end < 0 {
			b.WriteString(s[:n])
			s = s[n:]
			continue
		}
		b.WriteString(s[:i])
		s = s[n+end+len(run):]
	}
}

// closingRun returns the index in s of the first run of exactly n
// backticks, or -1.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

// slug is the anchor GitHub gives a heading: the rendered text (link and
// code-span text kept, markup dropped) in lower case, without punctuation
// and symbols, spaces turned into hyphens.
func slug(heading string) string {
	heading = linkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
