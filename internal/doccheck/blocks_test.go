package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeFuncs are the Go blocks of README.md that are a function of a test
// file, verbatim: the first go block under the heading is the function,
// from "func" to its closing brace, so that it compiles, is vetted and runs
// with every change. (The quick start is adapter's TestReadmeQuickStart.)
var readmeFuncs = []struct {
	heading, file, fn, mention string
}{
	{"Test your API without Keycloak", "keycloaktest/fake/readme_test.go", "TestProfile",
		"github.com/tokenwarden/tokenwarden/keycloaktest/fake"},
}

func TestReadmeFuncBlocks(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := parse(string(src))
	for _, rf := range readmeFuncs {
		t.Run(rf.fn, func(t *testing.T) {
			var got *block
			for i, b := range readme.blocks {
				if b.heading == rf.heading && b.info == "go" {
					got = &readme.blocks[i]
					break
				}
			}
			if got == nil {
				t.Fatalf("README.md has no go block under ## %s", rf.heading)
			}
			want := funcSource(t, filepath.Join(root, filepath.FromSlash(rf.file)), rf.fn) + "\n"
			if got.text != want {
				t.Errorf("README.md's block under ## %s differs from %s in %s:\n--- README\n%s--- %s\n%s",
					rf.heading, rf.fn, rf.file, got.text, rf.file, want)
			}
			if !strings.Contains(string(src), rf.mention) {
				t.Errorf("README.md does not name %s, which the block uses", rf.mention)
			}
		})
	}
}

// funcSource returns the source of the top-level function name in file,
// from "func" to its closing brace.
func funcSource(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == name {
			return string(src[fset.Position(fd.Pos()).Offset:fset.Position(fd.End()).Offset])
		}
	}
	t.Fatalf("no func %s in %s", name, file)
	return ""
}
