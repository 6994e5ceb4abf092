package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// docker build and docker compose cannot run on the test machines, so the
// files in deploy/ are read here and their wiring is checked against the
// program: the settings table, the default address, /healthz.

// deployFile reads a file of deploy/ (the test runs in cmd/aibud).
func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// composeDoc is docker-compose.yml read as the simple YAML it is kept in:
// scalars by dotted path ("services.aibud.image") and list items by the
// path of their key ("services.aibud.ports").
type composeDoc struct {
	scalars map[string]string
	lists   map[string][]string
	keys    map[string][]string // a mapping's child keys, in order
}

func parseCompose(t *testing.T, text string) composeDoc {
	t.Helper()
	doc := composeDoc{scalars: map[string]string{}, lists: map[string][]string{}, keys: map[string][]string{}}
	var stack []string // keys of the enclosing mappings, one per two-space indent level
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent%2 != 0 || strings.Contains(line, "\t") {
			t.Fatalf("docker-compose.yml:%d: indent with two spaces", n)
		}
		level := indent / 2
		if item, ok := strings.CutPrefix(trimmed, "- "); ok {
			if level != len(stack) {
				t.Fatalf("docker-compose.yml:%d: list item at the wrong depth", n)
			}
			path := strings.Join(stack, ".")
			doc.lists[path] = append(doc.lists[path], unquote(item))
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok || level > len(stack) {
			t.Fatalf("docker-compose.yml:%d: want key: value at depth %d, got %q", n, len(stack), line)
		}
		stack = stack[:level]
		parent := strings.Join(stack, ".")
		doc.keys[parent] = append(doc.keys[parent], key)
		stack = append(stack, key)
		if value = strings.TrimSpace(value); value != "" {
			doc.scalars[strings.Join(stack, ".")] = unquote(value)
			stack = stack[:level]
		}
	}
	return doc
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// env returns a service's environment as a map (and fails on duplicates).
func (d composeDoc) env(t *testing.T, service string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range d.lists["services."+service+".environment"] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s environment entry %q is not KEY=value", service, kv)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("%s sets %s twice", service, k)
		}
		out[k] = v
	}
	return out
}

func settingDefaults() map[string]string {
	out := map[string]string{}
	for _, s := range settings() {
		out[s.env] = s.def
	}
	return out
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

func TestDeployDockerfile(t *testing.T) {
	df := deployFile(t, "Dockerfile")
	var final []string // instructions of the last stage
	var stages []string
	for _, line := range strings.Split(strings.ReplaceAll(df, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages, final = append(stages, line), nil
		}
		final = append(final, line)
	}
	if len(stages) != 2 || !strings.HasPrefix(stages[0], "FROM golang:1.26 ") || !strings.HasSuffix(stages[0], " AS build") {
		t.Fatalf("stages = %q, want a golang:1.26 build stage and a runtime stage", stages)
	}
	if !regexp.MustCompile(`CGO_ENABLED=0 .*go build .*\./cmd/aibud`).MatchString(df) {
		t.Error("the binary is not built static (CGO_ENABLED=0 go build ./cmd/aibud)")
	}
	instr := func(name string) []string {
		var out []string
		for _, l := range final {
			if rest, ok := strings.CutPrefix(l, name+" "); ok {
				out = append(out, rest)
			}
		}
		return out
	}
	defaultPort := portOf(t, settingDefaults()["AIBUD_ADDR"])
	if exposed := instr("EXPOSE"); len(exposed) != 1 || !slices.Contains(strings.Fields(exposed[0]), defaultPort) {
		t.Errorf("EXPOSE %q does not include the default AIBUD_ADDR port %s", exposed, defaultPort)
	}
	if user := instr("USER"); len(user) != 1 || user[0] == "root" || strings.HasPrefix(user[0], "0") {
		t.Errorf("USER = %q, want a non-root user", user)
	}
	if v := instr("VOLUME"); len(v) != 1 || !strings.Contains(v[0], `"/data"`) || !slices.Contains(instr("ENV"), "AIBUD_DATA_DIR=/data AIBUD_ADDR=:"+defaultPort) {
		t.Errorf("VOLUME %q / ENV %q: want /data as the volume and the data dir", v, instr("ENV"))
	}
	if hc := instr("HEALTHCHECK"); len(hc) != 1 || !strings.Contains(hc[0], "http://127.0.0.1:"+defaultPort+"/healthz") {
		t.Errorf("HEALTHCHECK = %q, want /healthz on port %s", hc, defaultPort)
	}
	if ep, cmd := instr("ENTRYPOINT"), instr("CMD"); len(ep) != 1 || !strings.Contains(ep[0], "aibud") || len(cmd) != 1 || cmd[0] != `["serve"]` {
		t.Errorf("ENTRYPOINT %q CMD %q, want aibud serve", ep, cmd)
	}
}

func TestDeployCompose(t *testing.T) {
	doc := parseCompose(t, deployFile(t, "docker-compose.yml"))
	for _, s := range []string{"aibud", "redis", "evolution", "postgres"} {
		if !slices.Contains(doc.keys["services"], s) {
			t.Fatalf("service %s missing; services: %v", s, doc.keys["services"])
		}
	}
	// Every variable given to Aibud is one of its settings (runtime
	// variables aside), and no other service gets Aibud's.
	known := settingDefaults()
	env := doc.env(t, "aibud")
	for k := range env {
		if _, ok := known[k]; !ok && !slices.Contains([]string{"GOMEMLIMIT", "GOMAXPROCS", "TZ"}, k) {
			t.Errorf("aibud's environment sets %s, which is not in the settings table", k)
		}
	}
	for _, svc := range doc.keys["services"] {
		for k := range doc.env(t, svc) {
			if svc != "aibud" && (strings.HasPrefix(k, "AIBUD_") || k == "REDIS_URL" || strings.HasPrefix(k, "EVOLUTION_")) {
				t.Errorf("service %s sets Aibud's %s", svc, k)
			}
		}
	}
	evo := doc.env(t, "evolution")
	want := map[string]string{
		"AIBUD_DATA_DIR":    "/data",
		"REDIS_URL":         "redis://redis:6379/0",
		"EVOLUTION_API_URL": "http://evolution:" + evo["SERVER_PORT"],
		"EVOLUTION_API_KEY": evo["AUTHENTICATION_API_KEY"], // one key, on both sides
		"AIBUD_TLS_DOMAIN":  "${DOMAIN}",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("aibud %s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["AIBUD_PUBLIC_URL"], "https://${DOMAIN") || !strings.HasPrefix(evo["AUTHENTICATION_API_KEY"], "${GATEWAY_API_KEY") {
		t.Errorf("public URL %q / gateway key %q: want the https URL of DOMAIN and a shared key", env["AIBUD_PUBLIC_URL"], evo["AUTHENTICATION_API_KEY"])
	}
	if evo["WEBHOOK_GLOBAL_ENABLED"] != "false" || doc.scalars["services.evolution.image"] != "evoapicloud/evolution-api:v2.3.7" {
		t.Errorf("evolution: image %q, global webhook %q", doc.scalars["services.evolution.image"], evo["WEBHOOK_GLOBAL_ENABLED"])
	}
	if !strings.Contains(doc.scalars["services.redis.command"], `"--appendonly", "yes"`) {
		t.Errorf("redis command %q: AOF must be on", doc.scalars["services.redis.command"])
	}

	// Ports: the published container ports are the ones Aibud listens on,
	// and the image exposes them.
	httpPort, tlsPort := portOf(t, env["AIBUD_ADDR"]), portOf(t, env["AIBUD_TLS_ADDR"])
	if got := doc.lists["services.aibud.ports"]; !slices.Equal(got, []string{"80:" + httpPort, "443:" + tlsPort}) {
		t.Errorf("aibud ports = %v, want 80:%s and 443:%s", got, httpPort, tlsPort)
	}
	df := deployFile(t, "Dockerfile")
	for _, p := range []string{httpPort, tlsPort} {
		if !regexp.MustCompile(`(?m)^EXPOSE .*\b` + p + `\b`).MatchString(df) {
			t.Errorf("the Dockerfile does not EXPOSE %s", p)
		}
	}
	if hc := doc.scalars["services.aibud.healthcheck.test"]; !strings.Contains(hc, "http://127.0.0.1:"+httpPort+"/healthz") {
		t.Errorf("aibud health check %q, want /healthz on %s", hc, httpPort)
	}

	// Volumes: the data dir is a named volume, and every named volume is declared.
	for _, dir := range []string{env["AIBUD_DATA_DIR"], env["AIBUD_BACKUP_DIR"]} {
		if dir == "" || !slices.ContainsFunc(doc.lists["services.aibud.volumes"], func(v string) bool { return strings.HasSuffix(v, ":"+dir) }) {
			t.Errorf("aibud volumes %v do not hold %q (data and backups each need a volume)", doc.lists["services.aibud.volumes"], dir)
		}
	}
	for _, svc := range doc.keys["services"] {
		for _, v := range doc.lists["services."+svc+".volumes"] {
			if name, _, _ := strings.Cut(v, ":"); !slices.Contains(doc.keys["volumes"], name) {
				t.Errorf("%s uses volume %s, not declared under volumes", svc, name)
			}
		}
	}
	if doc.scalars["services.aibud.ulimits.nofile.soft"] != "65536" {
		t.Errorf("aibud nofile limit = %q, want 65536", doc.scalars["services.aibud.ulimits.nofile.soft"])
	}
	// HTTP shutdown (20 s) then the worker drain (25 s) must fit before SIGKILL.
	if d, err := time.ParseDuration(doc.scalars["services.aibud.stop_grace_period"]); err != nil || d < 45*time.Second {
		t.Errorf("stop_grace_period = %q, want at least 45s", doc.scalars["services.aibud.stop_grace_period"])
	}
	for _, dep := range []string{"redis", "evolution"} {
		if doc.scalars["services.aibud.depends_on."+dep+".condition"] != "service_healthy" {
			t.Errorf("aibud does not wait for %s to be healthy", dep)
		}
	}
}

func TestDeploySystemdUnit(t *testing.T) {
	unit := map[string][]string{}
	for _, line := range strings.Split(deployFile(t, "aibud.service"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = append(unit[k], v)
		}
	}
	for k, v := range map[string]string{"User": "aibud", "StateDirectory": "aibud", "LimitNOFILE": "65536",
		"EnvironmentFile": "/etc/aibud/aibud.env", "ExecStart": "/usr/local/bin/aibud serve", "KillSignal": "SIGTERM"} {
		if !slices.Contains(unit[k], v) {
			t.Errorf("%s = %v, want %s", k, unit[k], v)
		}
	}
	known := settingDefaults()
	hasMemLimit := false
	for _, e := range unit["Environment"] {
		k, _, _ := strings.Cut(e, "=")
		if _, ok := known[k]; !ok && k != "GOMEMLIMIT" {
			t.Errorf("Environment=%s is not a setting", e)
		}
		hasMemLimit = hasMemLimit || k == "GOMEMLIMIT"
	}
	if !hasMemLimit || !slices.Contains(unit["Environment"], "AIBUD_DATA_DIR=/var/lib/aibud") {
		t.Errorf("Environment = %v, want GOMEMLIMIT and the state directory as the data dir", unit["Environment"])
	}
	if d, err := time.ParseDuration(strings.Join(unit["TimeoutStopSec"], "")); err != nil || d < 45*time.Second {
		t.Errorf("TimeoutStopSec = %v, want at least 45s", unit["TimeoutStopSec"])
	}
}
