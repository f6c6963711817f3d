package bench_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		printConfig()
	}
	code := m.Run()
	removeTools()
	os.Exit(code)
}

// printConfig writes configuration lines ("key: value", the benchmark
// format's way to label results) that cmd/report turns into the library
// table of BENCHMARKS.md: the checks each peer cannot make. run.sh adds
// the module versions ("lib-<row>: <module> <version>").
func printConfig() {
	fmt.Printf("go: %s\n", runtime.Version())
	if c := os.Getenv("BENCH_COMMIT"); c != "" {
		fmt.Printf("commit: %s\n", c)
	}
	for _, l := range peers {
		if len(l.skips) == 0 {
			continue
		}
		var s []string
		for _, c := range l.skips {
			s = append(s, strings.ReplaceAll(c, " ", "-"))
		}
		fmt.Printf("lacks-%s: %s\n", l.name, strings.Join(s, " "))
	}
}
