package services

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	ExtraHosts  []string          `yaml:"extra_hosts"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
		Required  *bool  `yaml:"required"`
	} `yaml:"depends_on"`
	Restart     string `yaml:"restart"`
	Healthcheck struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		StartPeriod string   `yaml:"start_period"`
		Retries     int      `yaml:"retries"`
	} `yaml:"healthcheck"`
}

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}`)

// loadCompose parses docker-compose.yml strictly and returns it with a
// function expanding ${VAR} and ${VAR:-default} the way docker compose does
// with .env and an empty environment.
func loadCompose(t *testing.T) (root string, c composeFile, raw []byte, dotenv map[string]string, expand func(string) string) {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	dotenv, err = ReadEnvFile(filepath.Join(root, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	expand = func(s string) string {
		return composeVar.ReplaceAllStringFunc(s, func(v string) string {
			m := composeVar.FindStringSubmatch(v)
			if x, ok := dotenv[m[1]]; ok {
				return x
			}
			return strings.TrimLeft(m[2], ":-")
		})
	}
	return root, c, raw, dotenv, expand
}

// TestDockerCompose keeps docker-compose.yml correct by construction: it
// parses, runs the pinned Keycloak with the project's realm file, and every
// variable it uses is defined in .env or has a default.
func TestDockerCompose(t *testing.T) {
	root, c, raw, dotenv, expand := loadCompose(t)
	for _, m := range composeVar.FindAllStringSubmatch(string(raw), -1) {
		if _, ok := dotenv[m[1]]; !ok && m[2] == "" {
			t.Errorf("docker-compose.yml uses ${%s} without a default and .env does not define it", m[1])
		}
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

// backendEnvFile is where the example backend names its environment
// variables, as string constants whose names start with "Env".
const backendEnvFile = "examples/capacitor-backend/app/config.go"

// backendEnvNames reads the example backend's environment variable names
// from its source: the constants Env* = "NAME" of backendEnvFile, keyed by
// constant name.
func backendEnvNames(t *testing.T, root string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, backendEnvFile), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Env") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				names[id.Name] = v
			}
		}
	}
	// The constants this test relies on must exist, or the parse is wrong.
	for _, c := range []string{"EnvIssuer", "EnvInternalURL", "EnvListen", "EnvRedisURL",
		"EnvClientSecret", "EnvClientSecretFile", "EnvMobileClientID", "EnvAudience", "EnvInsecureHTTP"} {
		if names[c] == "" {
			t.Fatalf("%s: no string constant %s", backendEnvFile, c)
		}
	}
	return names
}

// publishedPort returns the container port that a "127.0.0.1:host:container"
// mapping of ports publishes on host port hostPort.
func publishedPort(ports []string, hostPort string) (string, bool) {
	for _, p := range ports {
		parts := strings.Split(p, ":")
		if len(parts) == 3 && parts[1] == hostPort {
			return strings.TrimSuffix(parts[2], "/tcp"), true
		}
	}
	return "", false
}

// TestDockerComposeBackend checks that the backend service of
// docker-compose.yml is wired the way the example backend reads its
// configuration: only variables the backend knows, an issuer equal to
// Keycloak's fixed front-end URL, the internal URL on the Keycloak service,
// a listen port that is published and that Keycloak's notifications target,
// client ids and secret from the realm file, and a multi-stage non-root
// Dockerfile.
func TestDockerComposeBackend(t *testing.T) {
	root, c, _, _, expand := loadCompose(t)
	names := backendEnvNames(t, root)
	known := map[string]bool{}
	for _, v := range names {
		known[v] = true
	}
	be, ok := c.Services["backend"]
	if !ok {
		t.Fatal("no backend service")
	}
	kc := c.Services["keycloak"]
	env := func(constName string) string { return expand(be.Environment[names[constName]]) }

	for k := range be.Environment {
		if !known[k] {
			t.Errorf("backend sets %s, which %s does not read", k, backendEnvFile)
		}
	}

	// Issuer: Keycloak's fixed front-end URL, published on the host.
	public := expand(kc.Environment["KC_HOSTNAME"])
	if public == "" {
		t.Fatal("keycloak has no KC_HOSTNAME: its iss would follow each request's Host header")
	}
	if got, want := env("EnvIssuer"), public+"/realms/"+Realm; got != want {
		t.Errorf("backend %s = %q, want %q (KC_HOSTNAME + realm)", names["EnvIssuer"], got, want)
	}
	pu, err := url.Parse(public)
	if err != nil || pu.Port() == "" {
		t.Fatalf("KC_HOSTNAME %q: want scheme://host:port (%v)", public, err)
	}
	kcPort, ok := publishedPort(kc.Ports, pu.Port())
	if !ok {
		t.Errorf("keycloak does not publish KC_HOSTNAME's port %s: %v", pu.Port(), kc.Ports)
	}
	if ip := net.ParseIP(pu.Hostname()); pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Errorf("KC_HOSTNAME %q is not on the loopback address keycloak is published on", public)
	}

	// Internal URL: the keycloak service, on the port KC_HOSTNAME's maps to.
	iu, err := url.Parse(env("EnvInternalURL"))
	if err != nil || iu.Hostname() != "keycloak" || iu.Port() != kcPort || iu.Path != "" {
		t.Errorf("backend %s = %q, want http://keycloak:%s", names["EnvInternalURL"], env("EnvInternalURL"), kcPort)
	}
	if expand(kc.Environment["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"]) != "true" {
		t.Error("keycloak lacks KC_HOSTNAME_BACKCHANNEL_DYNAMIC=true for the backend's internal calls")
	}
	if iu != nil && iu.Scheme == "http" && env("EnvInsecureHTTP") != "true" {
		t.Errorf("backend reaches Keycloak over plain http on a non-loopback host without %s=true", names["EnvInsecureHTTP"])
	}
	if _, ok := be.DependsOn["keycloak"]; !ok || be.DependsOn["keycloak"].Condition != "service_healthy" {
		t.Error("backend does not wait for a healthy keycloak")
	}

	// Listen address: all interfaces in the container, published on the
	// host's loopback, and the target of Keycloak's notifications.
	host, port, err := net.SplitHostPort(env("EnvListen"))
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("backend %s = %q: inside a container it must listen on all interfaces", names["EnvListen"], env("EnvListen"))
	}
	published := false
	for _, p := range be.Ports {
		parts := strings.Split(p, ":")
		published = published || (len(parts) == 3 && parts[2] == port)
	}
	if !published {
		t.Errorf("backend ports %v do not publish its listen port %s", be.Ports, port)
	}
	if got, want := expand(kc.Environment["TOKENWARDEN_API_URL"]), "http://backend:"+port; got != want {
		t.Errorf("keycloak TOKENWARDEN_API_URL = %q, want %q (back-channel logout and admin URL)", got, want)
	}

	// Redis: optional, through the redis service.
	if r := env("EnvRedisURL"); r != "" {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "redis" || ru.Hostname() != "redis" {
			t.Errorf("backend %s = %q, want redis://redis:6379/<db> or empty", names["EnvRedisURL"], r)
		}
	}
	if d, ok := be.DependsOn["redis"]; !ok || d.Required == nil || *d.Required {
		t.Error("backend should depend on redis as optional (required: false)")
	}

	// Clients and secret from the realm file.
	rawRealm, err := os.ReadFile(filepath.Join(root, "testdata", "keycloak", Realm+"-realm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var realm struct {
		Clients []struct {
			ClientID     string `json:"clientId"`
			Secret       string `json:"secret"`
			PublicClient bool   `json:"publicClient"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(rawRealm, &realm); err != nil {
		t.Fatal(err)
	}
	client := func(id string) (secret string, public, found bool) {
		for _, c := range realm.Clients {
			if c.ClientID == id {
				return c.Secret, c.PublicClient, true
			}
		}
		return "", false, false
	}
	// The audience is the client that introspects, with the secret.
	if secret, public, ok := client(env("EnvAudience")); !ok || public || secret != env("EnvClientSecret") {
		t.Errorf("backend %s/%s do not match a confidential client of the realm", names["EnvAudience"], names["EnvClientSecret"])
	}
	if _, public, ok := client(env("EnvMobileClientID")); !ok || !public {
		t.Errorf("backend %s = %q is not a public client of the realm", names["EnvMobileClientID"], env("EnvMobileClientID"))
	}
	if _, _, ok := client(env("EnvAudience")); !ok {
		t.Errorf("backend %s = %q is not a client of the realm", names["EnvAudience"], env("EnvAudience"))
	}

	// Dockerfile: multi-stage golang -> distroless static, non-root, and
	// only variables the backend reads.
	if be.Build.Context != "." {
		t.Errorf("backend build context %q, want the repository root (the examples module replaces ../)", be.Build.Context)
	}
	df, err := os.ReadFile(filepath.Join(root, be.Build.Context, be.Build.Dockerfile))
	if err != nil {
		t.Fatalf("backend Dockerfile: %v", err)
	}
	var froms []string
	user := ""
	for _, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "FROM":
			froms = append(froms, f[1])
		case len(f) >= 2 && f[0] == "USER":
			user = f[1]
		case len(f) >= 2 && f[0] == "ENV":
			k, _, _ := strings.Cut(f[1], "=")
			if !known[k] {
				t.Errorf("Dockerfile sets %s, which %s does not read", k, backendEnvFile)
			}
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:") || !strings.HasPrefix(froms[len(froms)-1], "gcr.io/distroless/static") {
		t.Errorf("Dockerfile stages %v, want golang:… then gcr.io/distroless/static…", froms)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("Dockerfile USER %q, want a non-root user", user)
	}
}

// TestReadmeBackendVariables: README.md documents every environment
// variable the example backend reads.
func TestReadmeBackendVariables(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for c, v := range backendEnvNames(t, root) {
		if !strings.Contains(string(readme), "`"+v+"`") {
			t.Errorf("README.md does not document %s (%s in %s)", v, c, backendEnvFile)
		}
	}
}
