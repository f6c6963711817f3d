package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const distMarker = ".tokenwarden-dist-sha256"

// KeycloakHome returns where EnsureKeycloakDist unpacks the distribution
// inside cacheDir.
func KeycloakHome(cacheDir string) string {
	return filepath.Join(cacheDir, "keycloak-"+KeycloakVersion)
}

// EnsureKeycloakDist makes sure the pinned Keycloak distribution is unpacked
// under cacheDir and returns its home directory. A distribution unpacked
// earlier (recognised by a marker holding the verified checksum) is reused
// without touching Maven. Otherwise the archive is copied out of the Maven
// repository with `mvn dependency:copy`, its SHA-256 is checked and it is
// unpacked. Progress goes to logw (may be nil).
func EnsureKeycloakDist(ctx context.Context, cacheDir string, logw io.Writer) (string, error) {
	logw = progress(logw)
	cacheDir, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(cacheDir, "keycloak-dist.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	home := KeycloakHome(cacheDir)
	if b, err := os.ReadFile(filepath.Join(home, distMarker)); err == nil && strings.TrimSpace(string(b)) == KeycloakDistSHA256 {
		return home, nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", errors.New("services: Keycloak distribution not cached and mvn not found (install Maven and Java 17+, or set KEYCLOAK_URL)")
	}

	start := time.Now()
	dl := filepath.Join(cacheDir, "download")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return "", err
	}
	archive := filepath.Join(dl, "keycloak-quarkus-dist-"+KeycloakVersion+".tar.gz")
	fmt.Fprintf(logw, "keycloak: fetching org.keycloak:keycloak-quarkus-dist:%s with mvn\n", KeycloakVersion)
	mvn := exec.CommandContext(ctx, "mvn", "-q", "-B", "-C", "dependency:copy",
		"-Dartifact=org.keycloak:keycloak-quarkus-dist:"+KeycloakVersion+":tar.gz",
		"-DoutputDirectory="+dl)
	mvn.Dir = dl
	if out, err := mvn.CombinedOutput(); err != nil {
		return "", fmt.Errorf("services: mvn dependency:copy failed: %w\n%s", err, lastLines(string(out), 30))
	}
	sum, err := fileSHA256(archive)
	if err != nil {
		return "", err
	}
	if sum != KeycloakDistSHA256 {
		os.Remove(archive)
		return "", fmt.Errorf("services: checksum mismatch for %s: got sha256 %s, want %s", filepath.Base(archive), sum, KeycloakDistSHA256)
	}
	fmt.Fprintf(logw, "keycloak: archive verified (sha256 %s…), unpacking\n", sum[:12])

	tmp, err := os.MkdirTemp(cacheDir, ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	tar := exec.CommandContext(ctx, "tar", "-xzf", archive, "-C", tmp)
	if out, err := tar.CombinedOutput(); err != nil {
		return "", fmt.Errorf("services: unpack %s: %w\n%s", archive, err, lastLines(string(out), 10))
	}
	unpacked := filepath.Join(tmp, "keycloak-"+KeycloakVersion)
	if _, err := os.Stat(filepath.Join(unpacked, "bin", "kc.sh")); err != nil {
		return "", fmt.Errorf("services: unexpected archive layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(unpacked, distMarker), []byte(KeycloakDistSHA256+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(home); err != nil {
		return "", err
	}
	if err := os.Rename(unpacked, home); err != nil {
		return "", err
	}
	// Maven's local repository keeps the archive; the copy is not needed.
	os.Remove(archive)
	fmt.Fprintf(logw, "keycloak: distribution ready in %s (%.1fs)\n", home, time.Since(start).Seconds())
	return home, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
