package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
)

// TestBackupRunAndRestore: two runs (full, then incremental after a
// change), then the catalog and the tenant DB restored into a new data
// directory that aibud opens with the tenant's latest data.
func TestBackupRunAndRestore(t *testing.T) {
	data, backups := t.TempDir(), t.TempDir()
	id := seedDataDir(t, data, "owner@example.com")
	env := map[string]string{"AIBUD_DATA_DIR": data, "AIBUD_BACKUP_DIR": backups}

	out, _, err := runCmd(backupCommand, env, "run")
	if err != nil || !strings.Contains(out, "2 full, 0 incremental, 0 unchanged, 0 failed") {
		t.Fatalf("first run: %q, %v", out, err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: data, MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Grant(context.Background(), id, 25, "bonus", "after-first-backup"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if out, _, err = runCmd(backupCommand, env, "run", "-dir", backups); err != nil || !strings.Contains(out, "0 full, 1 incremental, 1 unchanged") {
		t.Fatalf("second run: %q, %v", out, err)
	}

	restored := t.TempDir()
	if err := os.Mkdir(filepath.Join(restored, "tenants"), 0o700); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(backupCommand, env, "restore", "--db", id, "--to", filepath.Join(restored, "tenants", id))
	if err != nil || strings.Count(out, "loaded ") != 2 || !strings.Contains(out, "restored "+id) {
		t.Fatalf("restore tenant: %q, %v", out, err)
	}
	if out, _, err = runCmd(backupCommand, env, "restore", "--db", "catalog", "--to", filepath.Join(restored, "catalog")); err != nil {
		t.Fatalf("restore catalog: %q, %v", out, err)
	}
	st, err = store.Open(store.Options{Dir: restored, MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.UserByEmail(context.Background(), "owner@example.com"); err != nil || u.TenantID != id {
		t.Fatalf("owner in the restored catalog = %+v, %v", u, err)
	}
	if bal, err := st.Balance(context.Background(), id); err != nil || bal != 425 {
		t.Fatalf("restored balance = %d, %v; want 425 (the incremental's grant included)", bal, err)
	}

	for _, args := range [][]string{{"restore", "--db", id}, {"run", "-dir", ""}, {"frobnicate"}} {
		e := map[string]string{"AIBUD_DATA_DIR": data}
		if args[0] == "restore" {
			e["AIBUD_BACKUP_DIR"] = backups
		}
		if _, _, err := runCmd(backupCommand, e, args...); err != errUsage {
			t.Errorf("backup %v: %v; want the usage", args, err)
		}
	}
}

// TestBackupJob runs the cron job as the cron role would: it writes the
// state file, and with no directory it does nothing.
func TestBackupJob(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	data, backups := t.TempDir(), t.TempDir()
	seedDataDir(t, data, "owner@example.com")
	st, err := store.Open(store.Options{Dir: data, MaxOpenTenants: 4, Logger: logger, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := &Main{Store: st, Logger: logger}
	m.backupJob("")()
	m.backupJob(backups)()
	if _, err := os.Stat(filepath.Join(backups, "state.json")); err != nil {
		t.Fatalf("state after the job: %v", err)
	}
	chain, err := store.BackupChain(backups, "catalog")
	if err != nil || len(chain) != 1 {
		t.Fatalf("catalog chain = %v, %v", chain, err)
	}
}
