// Command report turns the output of the bench module's `go test -bench`
// run into bench/summary.json and BENCHMARKS.md.
//
//	go run ./cmd/report -in results/bench.txt -benchstat results/benchstat.txt \
//	    -json summary.json -md ../BENCHMARKS.md -command "make bench" -count 6
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/bench/report"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", "", "benchmark output of go test -bench (required)")
	bstat := flag.String("benchstat", "", "benchstat output of the same run, appended to the markdown")
	notesFile := flag.String("notes", "", "hand-written markdown about the rows, inserted after the targets")
	jsonOut := flag.String("json", "summary.json", "summary JSON to write")
	mdOut := flag.String("md", "", "markdown to write (none when empty)")
	command := flag.String("command", "make bench", "the exact command that produced -in")
	count := flag.Int("count", 0, "the -count of the run")
	cpuinfo := flag.String("cpuinfo", "/proc/cpuinfo", "where to read the CPU model")
	date := flag.String("date", time.Now().UTC().Format(time.RFC3339), "when the benchmarks ran")
	flag.Parse()
	if *in == "" {
		return fmt.Errorf("-in is required")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	parsed, err := report.Parse(f)
	if err != nil {
		return err
	}
	if len(parsed.Order) == 0 {
		return fmt.Errorf("%s: no benchmark results", *in)
	}
	meta := map[string]string{
		"command":   *command,
		"date":      *date,
		"nproc":     strconv.Itoa(runtime.NumCPU()),
		"cpu-model": cpuModel(*cpuinfo),
	}
	if *count > 0 {
		meta["count"] = strconv.Itoa(*count)
	}
	if parsed.Config["go"] == "" {
		meta["go"] = runtime.Version()
	}
	sum := report.Summarize(parsed, meta)
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*jsonOut, append(js, '\n'), 0o644); err != nil {
		return err
	}
	if *mdOut == "" {
		return nil
	}
	var stat, notes []byte
	if *bstat != "" {
		if stat, err = os.ReadFile(*bstat); err != nil {
			return err
		}
	}
	if *notesFile != "" {
		if notes, err = os.ReadFile(*notesFile); err != nil {
			return err
		}
	}
	md, err := os.Create(*mdOut)
	if err != nil {
		return err
	}
	if err := report.Markdown(md, sum, string(notes), string(stat)); err != nil {
		md.Close()
		return err
	}
	return md.Close()
}

// cpuModel returns the first "model name" of a /proc/cpuinfo file.
func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
