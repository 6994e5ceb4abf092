package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// seedDataDir makes a data directory holding one signed-up tenant with
// credits and a contact, as `aibud serve` would have left it, and returns
// the tenant's id.
func seedDataDir(t *testing.T, dir, email string) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: dir, MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc := &tenants.Accounts{Catalog: st, Databases: st, Credits: st, Hasher: readableHash{}, NewID: store.NewID, Now: time.Now, Logger: logger}
	a, err := acc.Signup(context.Background(), tenants.SignupInput{Email: email, Password: "correct horse battery", Company: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.UpsertContacts(context.Background(), a.Tenant.ID, []tenants.Contact{{Phone: "5511987654321", Name: "Ana"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return a.Tenant.ID
}

type readableHash struct{}

func (readableHash) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (readableHash) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

// runCmd runs a subcommand function and returns its output and error.
func runCmd(cmd func(context.Context, []string, func(string) string, io.Writer, io.Writer) error, env map[string]string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := cmd(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestTenantExportImportList(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	id := seedDataDir(t, src, "owner@example.com")
	file := filepath.Join(t.TempDir(), "acme.aibud")
	srcEnv, dstEnv := map[string]string{"AIBUD_DATA_DIR": src}, map[string]string{"AIBUD_DATA_DIR": dst}

	out, _, err := runCmd(tenantCommand, srcEnv, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "owner@example.com") || !strings.Contains(out, "1 tenants") {
		t.Fatalf("list = %q, %v", out, err)
	}
	_, msg, err := runCmd(tenantCommand, srcEnv, "export", id, "-o", file)
	if err != nil || !strings.Contains(msg, "exported tenant "+id) {
		t.Fatalf("export: %q, %v", msg, err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	// To standard output, the same bytes but for the creation time.
	stdoutFile, _, err := runCmd(tenantCommand, srcEnv, "export", "--data-dir", src, id)
	if err != nil || !strings.HasPrefix(stdoutFile, `{"format":"aibud-tenant-export","version":1`) {
		t.Fatalf("export to stdout: %.80q, %v", stdoutFile, err)
	}

	if out, _, err = runCmd(tenantCommand, dstEnv, "import", file); err != nil || !strings.Contains(out, "imported tenant "+id) {
		t.Fatalf("import: %q, %v", out, err)
	}
	if out, _, err = runCmd(tenantCommand, dstEnv, "list"); err != nil || !strings.Contains(out, id) {
		t.Fatalf("list after import = %q, %v", out, err)
	}
	_, _, err = runCmd(tenantCommand, dstEnv, "import", file)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second import: %v; want a clear refusal", err)
	}
	_, _, err = runCmd(tenantCommand, dstEnv, "import", file, "--as", "acme-copy")
	if err == nil || !strings.Contains(err.Error(), "owner@example.com") {
		t.Fatalf("import --as into a catalog with that owner: %v; want the email named", err)
	}
	third := t.TempDir()
	out, _, err = runCmd(tenantCommand, map[string]string{"AIBUD_DATA_DIR": third}, "import", "--as", "acme-copy", file)
	if err != nil || !strings.Contains(out, "imported tenant acme-copy") {
		t.Fatalf("import --as: %q, %v", out, err)
	}
}

func TestTenantCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	id := seedDataDir(t, dir, "owner@example.com")
	env := map[string]string{"AIBUD_DATA_DIR": dir}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"export without id", []string{"export"}, "usage"},
		{"unknown", []string{"frobnicate"}, "unknown tenant command"},
		{"unknown tenant", []string{"export", "01UNKNOWN"}, "Tenant not found"},
		{"bad id", []string{"export", "../catalog"}, "not valid"},
		{"missing file", []string{"import", filepath.Join(dir, "nope")}, "no such file"},
		{"not an export", []string{"import", filepath.Join(dir, "secret")}, "not an aibud tenant export"},
		{"no data", []string{"list", "-data-dir", t.TempDir()}, "no aibud data"},
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("not an export\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(tenantCommand, env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v; want %q", err, tt.want)
			}
		})
	}

	// While a server holds the data directory, the commands say so.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: dir, MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, _, err = runCmd(tenantCommand, env, "export", id)
	if err == nil || !strings.Contains(err.Error(), "aibud serve is running") {
		t.Fatalf("export while the server runs: %v", err)
	}
}
