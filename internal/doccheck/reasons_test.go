package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTroubleshootingReasons: docs/troubleshooting.md explains every
// adapter.Reason a refusal can carry.
func TestTroubleshootingReasons(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	reasons := reasonValues(t, filepath.Join(root, "adapter", "response.go"))
	if len(reasons) < 10 {
		t.Fatalf("only %d reasons found in adapter/response.go: %v", len(reasons), reasons)
	}
	for _, r := range reasons {
		if r != "ok" && !strings.Contains(string(doc), "`"+r+"`") {
			t.Errorf("docs/troubleshooting.md does not explain the reason `%s`", r)
		}
	}
}

// reasonValues returns the values of the constants written Reason("…") in
// file.
func reasonValues(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "Reason" {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, v)
			}
		}
		return true
	})
	return out
}
