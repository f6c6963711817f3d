package services

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		ExtraHosts  []string          `yaml:"extra_hosts"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test        []string `yaml:"test"`
			Interval    string   `yaml:"interval"`
			Timeout     string   `yaml:"timeout"`
			StartPeriod string   `yaml:"start_period"`
			Retries     int      `yaml:"retries"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}`)

// TestDockerCompose keeps docker-compose.yml correct by construction: it
// parses, runs the pinned Keycloak with the project's realm file, and every
// variable it uses is defined in .env or has a default.
func TestDockerCompose(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	dotenv, err := ReadEnvFile(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range composeVar.FindAllStringSubmatch(string(raw), -1) {
		if _, ok := dotenv[m[1]]; !ok && m[2] == "" {
			t.Errorf("docker-compose.yml uses ${%s} without a default and .env does not define it", m[1])
		}
	}
	expand := func(s string) string {
		return composeVar.ReplaceAllStringFunc(s, func(v string) string {
			m := composeVar.FindStringSubmatch(v)
			if x, ok := dotenv[m[1]]; ok {
				return x
			}
			return strings.TrimLeft(m[2], ":-")
		})
	}

	kc, ok := c.Services["keycloak"]
	if !ok {
		t.Fatal("no keycloak service")
	}
	if got, want := expand(kc.Image), "quay.io/keycloak/keycloak:"+KeycloakVersion; got != want {
		t.Errorf("keycloak image %q, want %q", got, want)
	}
	for _, arg := range []string{"start-dev", "--import-realm", "--health-enabled=true"} {
		if !slices.Contains(kc.Command, arg) {
			t.Errorf("keycloak command %v lacks %s", kc.Command, arg)
		}
	}
	mounted := false
	for _, v := range kc.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst, _, _ = strings.Cut(dst, ":")
		if dst != "/opt/keycloak/data/import" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, src, Realm+"-realm.json")); err != nil {
			t.Errorf("import mount %q does not hold the realm file: %v", v, err)
		}
		mounted = true
	}
	if !mounted {
		t.Error("keycloak does not mount the realm into /opt/keycloak/data/import")
	}
	if kc.Environment["KC_BOOTSTRAP_ADMIN_USERNAME"] == "" || kc.Environment["KC_BOOTSTRAP_ADMIN_PASSWORD"] == "" {
		t.Error("keycloak has no bootstrap admin")
	}
	if len(kc.Healthcheck.Test) == 0 || !strings.Contains(strings.Join(kc.Healthcheck.Test, " "), "/health/ready") {
		t.Errorf("keycloak healthcheck %v does not ask /health/ready", kc.Healthcheck.Test)
	}

	r, ok := c.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if !strings.HasPrefix(r.Image, "redis:7") || len(r.Healthcheck.Test) == 0 {
		t.Errorf("redis image %q healthcheck %v", r.Image, r.Healthcheck.Test)
	}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond loopback", name, p)
			}
		}
	}
}
