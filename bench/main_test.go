package bench_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// modules names the module behind each library row, for the versions
// printed ahead of the benchmark results.
var modules = map[string]string{
	"go-oidc":     "github.com/coreos/go-oidc/v3",
	"gocloak":     "github.com/Nerzal/gocloak/v13",
	"keyfunc-jwt": "github.com/MicahParks/keyfunc/v3",
	"golang-jwt":  "github.com/golang-jwt/jwt/v5",
	"jwx":         "github.com/lestrrat-go/jwx/v3",
	"auth0":       "github.com/auth0/go-jwt-middleware/v2",
	"tokenwarden": "github.com/tokenwarden/tokenwarden",
}

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		printConfig()
	}
	code := m.Run()
	removeLoadBinary()
	os.Exit(code)
}

// printConfig writes configuration lines ("key: value", the benchmark
// format's way to label results) that cmd/report turns into the library
// table of BENCHMARKS.md: module versions from the build and the checks
// each peer cannot make.
func printConfig() {
	fmt.Printf("go: %s\n", runtime.Version())
	if c := os.Getenv("BENCH_COMMIT"); c != "" {
		fmt.Printf("commit: %s\n", c)
	}
	versions := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = "this tree (" + d.Replace.Path + ")"
			}
			versions[d.Path] = v
		}
	}
	lacks := map[string]string{}
	for _, l := range peers {
		var s []string
		for _, c := range l.skips {
			s = append(s, strings.ReplaceAll(c, " ", "-"))
		}
		lacks[l.name] = strings.Join(s, " ")
	}
	for _, name := range []string{"go-oidc", "gocloak", "keyfunc-jwt", "golang-jwt", "jwx", "auth0", "tokenwarden"} {
		mod := modules[name]
		v := versions[mod]
		if v == "" {
			v = "unknown"
		}
		fmt.Printf("lib-%s: %s %s\n", name, mod, v)
		if lacks[name] != "" {
			fmt.Printf("lacks-%s: %s\n", name, lacks[name])
		}
	}
}
