package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/httpapi"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

func TestAdminCreateCommand(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		if k == "AIBUD_DATA_DIR" {
			return dir
		}
		return ""
	}
	tests := []struct {
		name, stdin string
		args        []string
		wantErr     string
	}{
		{"no subcommand", "", nil, "usage"},
		{"no email", "long enough password\n", []string{"create"}, "usage"},
		{"no password", "", []string{"create", "--email", "ops@aibud.example"}, "no password on stdin"},
		{"short password", "short\n", []string{"create", "--email", "ops@aibud.example"}, "at least 10 characters"},
		{"long password", strings.Repeat("p", 129) + "\n", []string{"create", "--email", "ops@aibud.example"}, "at most 128 characters"},
		{"bad email", "long enough password\n", []string{"create", "--email", "not-an-email"}, "not a valid address"},
		{"created", "long enough password\r\n", []string{"create", "--email", "Ops@Aibud.example"}, ""},
		{"taken", "another good password\n", []string{"create", "--email", "ops@aibud.example"}, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := adminCommand(context.Background(), tt.args, getenv, strings.NewReader(tt.stdin), &out, &errOut)
			switch {
			case tt.wantErr == "usage":
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want usage", err)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v (%s)", err, errOut.String())
			case !strings.Contains(out.String(), "admin ops@aibud.example created"):
				t.Fatalf("stdout = %q", out.String())
			}
		})
	}

	// The admin is in the catalog: role admin, no tenant, and the password
	// (without its line ending) logs in at the console.
	cat, err := store.OpenCatalog(dir+"/catalog", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	admin := &tenants.Admin{Catalog: cat, Hasher: httpapi.Argon2idHasher{}, NewID: store.NewID, Now: time.Now}
	u, err := admin.Login(context.Background(), "ops@aibud.example", "long enough password")
	if err != nil || u.Role != tenants.RoleAdmin || u.TenantID != "" {
		t.Fatalf("login as the new admin = %+v, %v", u, err)
	}
}
