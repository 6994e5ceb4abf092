package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Backups. BackupAll writes one file per database per run into a backup
// directory, and a state file:
//
//	<dir>/state.json                       per database: the since of its next run
//	<dir>/catalog/<run>-full.badger        a full backup
//	<dir>/catalog/<run>-incr.badger        the changes after the previous run
//	<dir>/tenants/<tenant id>/<run>-….badger   likewise for each tenant DB
//
// <run> is the run's UTC time (20060102T150405.000000000Z), so names sort
// in time order. A database's first backup, and the first one a week after
// its last full one, is full; the others hold the changes (deletions
// included) since the version the previous backup RETURNED — not that plus
// one: Badger skips versions <= since (badger#2060), so +1 would lose the
// key committed right after that backup. A run that finds no change returns
// version 0: it writes no file and keeps the previous version.
//
// RestoreBackups loads a database's newest full backup, then every
// incremental after it in order, into a new directory. Files are Badger
// backup streams (badger's DB.Load reads them); each is written to a .tmp
// name, synced and renamed, so a file that exists is complete.

// FullBackupEvery is how often a database's backup chain starts again with
// a full backup; restores read one full and at most a week of increments.
const FullBackupEvery = 7 * 24 * time.Hour

const (
	backupStateFile = "state.json"
	backupStamp     = "20060102T150405.000000000Z"
	catalogBackup   = "catalog"
	backupWorkers   = 2
)

// BackupReport is what one BackupAll run did.
type BackupReport struct {
	Dir                          string
	RunAt                        time.Time
	Elapsed                      time.Duration
	DBs                          []DBBackup
	Full, Incremental, Unchanged int
	Failed                       int
	Bytes                        int64
}

// DBBackup is one database's backup in a run.
type DBBackup struct {
	DB      string // "catalog" or the tenant id
	File    string // the file written; empty when nothing changed or it failed
	Full    bool
	Since   uint64 // the since given to Badger
	Version uint64 // the version Badger returned: the next since (0: nothing changed)
	Bytes   int64
	Err     error
}

// backupState is state.json: per database ("catalog", "tenants/<id>").
type backupState struct {
	DBs map[string]dbBackupState `json:"dbs"`
}

type dbBackupState struct {
	Since  uint64    `json:"since"`   // the version the last backup returned
	FullAt time.Time `json:"full_at"` // when its chain's full backup ran
	LastAt time.Time `json:"last_at"`
}

// BackupAll backs up the catalog and every tenant DB into dir (created if
// needed) while the server runs: each tenant DB is held from the pool
// during its backup and read in one transaction. A database that fails is
// reported and retried from the same version next run; the others go on.
func (s *Store) BackupAll(ctx context.Context, dir string) (BackupReport, error) {
	run := s.Now().UTC()
	rep := BackupReport{Dir: dir, RunAt: run}
	if err := os.MkdirAll(filepath.Join(dir, "tenants"), 0o700); err != nil {
		return rep, fmt.Errorf("store.BackupAll: %w", err)
	}
	state, err := readBackupState(dir)
	if err != nil {
		return rep, err
	}
	list, err := s.ListTenants(ctx)
	if err != nil {
		return rep, err
	}
	var mu sync.Mutex
	record := func(name string, b DBBackup) {
		mu.Lock()
		defer mu.Unlock()
		rep.add(b)
		if b.Err == nil {
			prev := state.DBs[name]
			next := dbBackupState{Since: prev.Since, FullAt: prev.FullAt, LastAt: run}
			if b.Full {
				next.FullAt = run
			}
			if b.Version != 0 || b.Full {
				next.Since = b.Version
			}
			state.DBs[name] = next
		}
	}
	prevOf := func(name string) dbBackupState { mu.Lock(); defer mu.Unlock(); return state.DBs[name] }

	record(catalogBackup, backupDB(s.Catalog.DB(), filepath.Join(dir, catalogBackup), catalogBackup, prevOf(catalogBackup), run))
	ids := make(chan string)
	var wg sync.WaitGroup
	for range backupWorkers {
		wg.Go(func() {
			for id := range ids {
				name := "tenants/" + id
				var b DBBackup
				err := s.WithTenant(ctx, id, func(h *TenantDB) error {
					b = backupDB(h.DB, filepath.Join(dir, name), id, prevOf(name), run)
					return nil
				})
				if err != nil {
					b = DBBackup{DB: id, Err: err}
				}
				record(name, b)
			}
		})
	}
	for _, t := range list {
		if ctx.Err() != nil {
			break
		}
		ids <- t.ID
	}
	close(ids)
	wg.Wait()
	rep.Elapsed = time.Since(run)
	errs := []error{ctx.Err(), writeBackupState(dir, state)}
	for _, b := range rep.DBs {
		if b.Err != nil {
			errs = append(errs, fmt.Errorf("backup %s: %w", b.DB, b.Err))
		}
	}
	return rep, errors.Join(errs...)
}

func (r *BackupReport) add(b DBBackup) {
	r.DBs = append(r.DBs, b)
	r.Bytes += b.Bytes
	switch {
	case b.Err != nil:
		r.Failed++
	case b.Full:
		r.Full++
	case b.File == "":
		r.Unchanged++
	default:
		r.Incremental++
	}
}

// backupDB writes one database's backup file into dbDir.
func backupDB(db *badger.DB, dbDir, name string, prev dbBackupState, run time.Time) DBBackup {
	b := DBBackup{DB: name, Full: prev.FullAt.IsZero() || run.Sub(prev.FullAt) >= FullBackupEvery}
	kind := "incr"
	if b.Full {
		kind = "full"
	} else {
		b.Since = prev.Since
	}
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		b.Err = err
		return b
	}
	final := filepath.Join(dbDir, run.Format(backupStamp)+"-"+kind+".badger")
	f, err := os.OpenFile(final+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Err = err
		return b
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	b.Version, err = backupSince(db, bw, b.Since)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if info, serr := f.Stat(); serr == nil {
		b.Bytes = info.Size()
	}
	err = errors.Join(err, f.Close())
	switch {
	case err != nil:
		b.Err, b.Bytes = err, 0
	case b.Version == 0 && !b.Full: // nothing changed: no file, same version
		b.Bytes = 0
	default:
		if b.Err = os.Rename(final+".tmp", final); b.Err == nil {
			b.File = final
		}
	}
	if b.File == "" {
		os.Remove(final + ".tmp")
	}
	return b
}

func readBackupState(dir string) (backupState, error) {
	st := backupState{DBs: map[string]dbBackupState{}}
	b, err := os.ReadFile(filepath.Join(dir, backupStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	} else if err != nil {
		return st, fmt.Errorf("store.BackupAll: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("store.BackupAll: %s is damaged (move it away to start new full backups): %w", filepath.Join(dir, backupStateFile), err)
	}
	if st.DBs == nil {
		st.DBs = map[string]dbBackupState{}
	}
	return st, nil
}

// writeBackupState replaces state.json atomically.
func writeBackupState(dir string, st backupState) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, backupStateFile)
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// BackupChain returns the files RestoreBackups loads for a database
// ("catalog" or a tenant id), in order: its newest full backup and every
// incremental after it.
func BackupChain(dir, dbName string) ([]string, error) {
	src := filepath.Join(dir, catalogBackup)
	if dbName != catalogBackup {
		if err := checkTenantID(dbName); err != nil {
			return nil, err
		}
		src = filepath.Join(dir, "tenants", dbName)
	}
	names, err := filepath.Glob(filepath.Join(src, "*.badger"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		if strings.HasSuffix(names[i], "-full.badger") {
			return names[i:], nil
		}
	}
	return nil, fmt.Errorf("no full backup of %s in %s", dbName, src)
}

// RestoreBackups rebuilds a database ("catalog" or a tenant id) from dir
// into target, which must not exist or be empty. Put the result in place
// (<data>/catalog or <data>/tenants/<id>) while aibud is stopped.
func RestoreBackups(dir, dbName, target string) error {
	files, err := BackupChain(dir, dbName)
	if err != nil {
		return err
	}
	if err := os.Mkdir(target, 0o700); errors.Is(err, fs.ErrExist) {
		if entries, err := os.ReadDir(target); err != nil || len(entries) > 0 {
			return errors.Join(err, fmt.Errorf("restore target %s is not empty", target))
		}
	} else if err != nil {
		return err
	}
	opts := tenantOptions(target, slog.Default().With("restore", dbName))
	if dbName == catalogBackup {
		opts = catalogOptions(target, slog.Default().With("restore", dbName))
	}
	if err := loadFiles(loadOptions(opts), files); err != nil {
		entries, _ := os.ReadDir(target)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(target, e.Name()))
		}
		return fmt.Errorf("restore %s: %w", dbName, err)
	}
	return nil
}

func loadFiles(opts badger.Options, files []string) error {
	db, err := badger.Open(opts)
	if err != nil {
		return err
	}
	for _, name := range files {
		if err = loadFile(db, name); err != nil {
			break
		}
	}
	if err == nil {
		err = db.Sync()
	}
	return errors.Join(err, db.Close())
}

func loadFile(db *badger.DB, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := db.Load(f, 16); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
