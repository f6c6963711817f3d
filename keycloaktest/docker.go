package keycloaktest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/services"
)

// Image is the container image started when Docker is used.
const Image = "quay.io/keycloak/keycloak:" + services.KeycloakVersion

func dockerAvailable(ctx context.Context) bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("keycloaktest: docker %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// startDocker runs the Keycloak image with the realm mounted for import, on
// loopback ports chosen by Docker.
func startDocker(ctx context.Context, realm string, realmData []byte) (*Keycloak, error) {
	dir, err := os.MkdirTemp("", "keycloaktest-import-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, realm+"-realm.json"), realmData, 0o644); err != nil {
		return nil, err
	}
	pass := fmt.Sprintf("kt-%d", time.Now().UnixNano())
	args := []string{"run", "-d", "--rm",
		"-p", "127.0.0.1::8080", "-p", "127.0.0.1::9000",
		"-e", "KC_BOOTSTRAP_ADMIN_USERNAME=admin",
		"-e", "KC_BOOTSTRAP_ADMIN_PASSWORD=" + pass,
		"-v", dir + ":/opt/keycloak/data/import:ro",
	}
	if v := os.Getenv("TOKENWARDEN_API_URL"); v != "" {
		args = append(args, "-e", "TOKENWARDEN_API_URL="+v)
	}
	args = append(args, Image, "start-dev", "--import-realm", "--health-enabled=true")
	id, err := docker(ctx, args...)
	if err != nil {
		return nil, err
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := docker(ctx, "stop", id)
		os.RemoveAll(dir)
		return err
	}
	hostPort := func(p string) (string, error) {
		out, err := docker(ctx, "port", id, p+"/tcp")
		if err != nil {
			return "", err
		}
		return strings.Split(out, "\n")[0], nil
	}
	web, err := hostPort("8080")
	if err == nil {
		var mgmt string
		if mgmt, err = hostPort("9000"); err == nil {
			err = services.WaitKeycloak(ctx, "http://"+web, "http://"+mgmt, realm, 4*time.Minute)
		}
	}
	if err != nil {
		logs, _ := docker(context.Background(), "logs", "--tail", "50", id)
		_ = stop()
		return nil, fmt.Errorf("keycloaktest: keycloak container not ready: %w\n%s", err, logs)
	}
	shared.mu.Lock()
	shared.stop = stop
	shared.mu.Unlock()
	return newKeycloak("http://"+web, realm, "admin", pass), nil
}
