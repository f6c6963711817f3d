// Package doccheck holds the tests that keep the repository's Markdown
// true: every relative link of README.md, CONTRIBUTING.md and docs/*.md
// reaches an existing file and, for a Markdown file, an existing heading;
// and the Go blocks README.md shows are the code that the tests compile and
// run. It has no API.
package doccheck
