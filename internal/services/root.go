package services

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the import path of this project's root module.
const ModulePath = "github.com/tokenwarden/tokenwarden"

// RepoRoot walks up from dir to the directory that holds the root module's
// go.mod (module ModulePath) or, failing that, a .git entry. It returns an
// error when neither is found.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	gitRoot := ""
	for d := dir; ; d = filepath.Dir(d) {
		if modulePath(filepath.Join(d, "go.mod")) == ModulePath {
			return d, nil
		}
		if gitRoot == "" {
			if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
				gitRoot = d
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if gitRoot != "" {
		return gitRoot, nil
	}
	return "", errors.New("services: no repository root above " + dir)
}

func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// IsProjectRoot reports whether dir holds this project's root go.mod.
func IsProjectRoot(dir string) bool {
	return modulePath(filepath.Join(dir, "go.mod")) == ModulePath
}
