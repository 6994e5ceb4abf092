package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/aibud/aibud/store"
)

const backupUsage = `Usage:
  aibud backup run [-dir DIR]                       back up the catalog and every tenant DB into DIR
  aibud backup restore [-dir DIR] --db ID --to DIR  rebuild one database (a tenant id, or "catalog")
-dir defaults to AIBUD_BACKUP_DIR. backup run opens the data directory
(-data-dir, AIBUD_DATA_DIR), so stop aibud serve first; while it runs, its
daily cron job does the same. restore only reads the backups.
`

// backupCommand runs `aibud backup run|restore`.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "run" && args[0] != "restore") {
		fmt.Fprint(stderr, backupUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("aibud backup "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("AIBUD_DATA_DIR"), "./data"), "data directory (AIBUD_DATA_DIR)")
	dir := fs.String("dir", getenv("AIBUD_BACKUP_DIR"), "backup directory (AIBUD_BACKUP_DIR)")
	db := fs.String("db", "", `restore: the database, a tenant id or "catalog"`)
	to := fs.String("to", "", "restore: the new directory to rebuild it in (must not exist or be empty)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 || (args[0] == "restore" && (*db == "" || *to == "")) {
		fmt.Fprint(stderr, backupUsage)
		return errUsage
	}
	if args[0] == "restore" {
		return restoreBackup(*dir, *db, *to, stdout)
	}
	st, err := openDataDir(*dataDir, true, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.BackupAll(ctx, *dir)
	printBackupReport(stdout, rep)
	return err
}

func restoreBackup(dir, db, to string, stdout io.Writer) error {
	files, err := store.BackupChain(dir, db)
	if err != nil {
		return userError(err)
	}
	start := time.Now()
	if err := store.RestoreBackups(dir, db, to); err != nil {
		return userError(err)
	}
	for _, f := range files {
		fmt.Fprintln(stdout, "loaded", f)
	}
	place := filepath.Join("<data-dir>", "tenants", db)
	if db == "catalog" {
		place = filepath.Join("<data-dir>", "catalog")
	}
	fmt.Fprintf(stdout, "restored %s into %s in %s. With aibud stopped, move the old %s away and put %s in its place.\n",
		db, to, time.Since(start).Round(time.Millisecond), place, to)
	return nil
}

func printBackupReport(w io.Writer, rep store.BackupReport) {
	fmt.Fprintf(w, "backup into %s: %d full, %d incremental, %d unchanged, %d failed; %d bytes in %s\n",
		rep.Dir, rep.Full, rep.Incremental, rep.Unchanged, rep.Failed, rep.Bytes, rep.Elapsed.Round(time.Millisecond))
	for _, b := range rep.DBs {
		if b.Err != nil {
			fmt.Fprintf(w, "  %s: FAILED: %v\n", b.DB, b.Err)
		}
	}
}

// backupJob returns the cron role's daily backup: every database into dir,
// incrementally (store.BackupAll); an empty dir turns it off. A run still
// going when the next one starts makes that one skip.
func (m *Main) backupJob(dir string) func() {
	var running sync.Mutex
	return func() {
		if dir == "" {
			return
		}
		if !running.TryLock() {
			m.Logger.Warn("backup still running: this run is skipped", "dir", dir)
			return
		}
		defer running.Unlock()
		rep, err := m.Store.BackupAll(context.Background(), dir)
		if err != nil {
			m.Logger.Error("backup failed", "dir", dir, "failed", rep.Failed, "err", err)
		}
		m.Logger.Info("backup done", "dir", dir, "full", rep.Full, "incremental", rep.Incremental,
			"unchanged", rep.Unchanged, "failed", rep.Failed, "bytes", rep.Bytes, "elapsed", rep.Elapsed)
	}
}
