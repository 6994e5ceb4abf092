package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// dumpDir opens a restored database directory and returns every key.
func dumpDir(tb testing.TB, dir string) map[string]storedValue {
	tb.Helper()
	db, err := badger.Open(tenantOptions(dir, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	return dumpDB(tb, db)
}

func dumpDB(tb testing.TB, db *badger.DB) map[string]storedValue {
	tb.Helper()
	out := map[string]storedValue{}
	err := db.View(func(txn *badger.Txn) error {
		return scanItems(txn, "", func(item *badger.Item) error {
			v, err := item.ValueCopy(nil)
			out[string(item.Key())] = storedValue{v, item.ExpiresAt()}
			return err
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func mustBackup(tb testing.TB, s *Store, dir string) BackupReport {
	tb.Helper()
	rep, err := s.BackupAll(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func byDB(rep BackupReport) map[string]DBBackup {
	out := map[string]DBBackup{}
	for _, b := range rep.DBs {
		out[b.DB] = b
	}
	return out
}

// TestBackupFullThenIncrementalRestore: a full run, changes (writes,
// deletions, a key committed right after the first backup), an
// incremental run, a run with no change; each restored DB equals the live
// one key for key.
func TestBackupFullThenIncrementalRestore(t *testing.T) {
	s := mustOpen(t, 2) // fewer open DBs than tenants: backups go through the LRU
	ctx := context.Background()
	a := mustCampaignTenant(t, s, "a@example.com")
	b := mustCampaignTenant(t, s, "b@example.com")
	c := mustCampaignTenant(t, s, "c@example.com")
	dir := t.TempDir()

	first := mustBackup(t, s, dir)
	if first.Full != 4 || first.Failed != 0 {
		t.Fatalf("first run: %d full, %d failed; want the catalog and 3 tenants full", first.Full, first.Failed)
	}
	// The next commit on A gets the version right after the one its backup
	// returned: an incremental from that version plus one would miss it.
	v := byDB(first)[a].Version
	if _, err := s.Grant(ctx, a, 5, "bonus", "after-backup"); err != nil {
		t.Fatal(err)
	}
	if got := keyVersion(t, s, a, keyBalance); got != v+1 {
		t.Fatalf("the write after the backup has version %d; want %d (the returned version + 1)", got, v+1)
	}
	mustUpsert(t, s, a, tenants.Contact{Phone: "5511900000009", Name: "New", Tags: []string{"late"}, Source: "api"})
	if err := s.DeleteContact(ctx, a, "5511987650002"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUsage(ctx, tenants.DailyUsage{TenantID: c, Day: "2026-03-01", Sent: 9}); err != nil {
		t.Fatal(err)
	}

	second := mustBackup(t, s, dir)
	got := byDB(second)
	if got[a].Full || got[a].Since != v || got[a].File == "" || got[a].Version <= v {
		t.Errorf("second run for A = %+v; want an incremental file since %d", got[a], v)
	}
	if got[b].File != "" || got[b].Version != 0 {
		t.Errorf("second run for unchanged B = %+v; want no file", got[b])
	}
	if got[catalogBackup].File == "" {
		t.Errorf("second run for the catalog wrote no file: %+v", got[catalogBackup])
	}
	third := mustBackup(t, s, dir)
	if third.Unchanged != 4 {
		t.Errorf("third run: %d unchanged; want all 4 (%+v)", third.Unchanged, third.DBs)
	}
	st, err := readBackupState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.DBs["tenants/"+a].Since != got[a].Version || st.DBs["tenants/"+b].Since != byDB(first)[b].Version {
		t.Errorf("state = %+v; want A at %d (its last returned version) and B kept at %d", st.DBs, got[a].Version, byDB(first)[b].Version)
	}

	for _, id := range []string{a, b, c} {
		target := filepath.Join(t.TempDir(), id)
		if err := RestoreBackups(dir, id, target); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(dumpTenantDB(t, s, id), dumpDir(t, target), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("restored tenant %s (-live +restored):\n%s", id, d)
		}
	}
	target := filepath.Join(t.TempDir(), "catalog")
	if err := RestoreBackups(dir, catalogBackup, target); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(dumpDB(t, s.Catalog.DB()), dumpDir(t, target), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("restored catalog (-live +restored):\n%s", d)
	}
	if err := RestoreBackups(dir, a, target); err == nil {
		t.Error("restore into a directory that is not empty succeeded")
	}
	if err := RestoreBackups(dir, "no-such-tenant", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("restore of a database without backups succeeded")
	}
}

func keyVersion(tb testing.TB, s *Store, id, key string) uint64 {
	tb.Helper()
	var v uint64
	err := s.tenantView(context.Background(), id, func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err == nil {
			v = item.Version()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestBackupSinceIsTheReturnedVersion pins down badger#2060 on the Badger
// we ship: Backup skips versions <= since, so since = returned + 1 loses
// the next commit, and since = returned keeps it.
func TestBackupSinceIsTheReturnedVersion(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := badger.Open(tenantOptions(t.TempDir(), logger))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	set := func(k string) {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(k), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
	}
	set("first")
	var full bytes.Buffer
	v, err := backupSince(db, &full, 0)
	if err != nil || v == 0 {
		t.Fatalf("full backup = %d, %v", v, err)
	}
	set("second") // commits at v+1
	restored := func(since uint64) map[string]storedValue {
		var incr bytes.Buffer
		if _, err := backupSince(db, &incr, since); err != nil {
			t.Fatal(err)
		}
		r, err := badger.Open(tenantOptions(t.TempDir(), logger))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, f := range [][]byte{full.Bytes(), incr.Bytes()} {
			if err := r.Load(bytes.NewReader(f), 16); err != nil {
				t.Fatal(err)
			}
		}
		return dumpDB(t, r)
	}
	if got := restored(v); len(got) != 2 {
		t.Errorf("since = returned version: restored %d keys, want 2", len(got))
	}
	if got := restored(v + 1); len(got) != 1 {
		t.Errorf("since = returned version + 1: restored %d keys; Badger no longer skips since itself (badger#2060 fixed?): revisit backupSince", len(got))
	}
	var incr bytes.Buffer
	if v2, err := backupSince(db, &incr, v); err != nil || v2 != v+1 {
		t.Fatalf("incremental = %d, %v; want %d", v2, err, v+1)
	}
	if v3, err := backupSince(db, &incr, v+1); err != nil || v3 != 0 {
		t.Errorf("backup with no change returned %d, %v; want 0", v3, err)
	}
}

// BenchmarkBackupAll1000 runs a full backup of 1,000 small tenants (a
// signup grant, 20 contacts, a reservation), then an incremental run after
// 100 of them changed. Target: full ≤ 60 s. Off unless asked for:
//
//	AIBUD_BENCH_BACKUP=1 go test -run '^$' -bench BackupAll1000 -benchtime 1x -timeout 30m ./store/
func BenchmarkBackupAll1000(b *testing.B) {
	if os.Getenv("AIBUD_BENCH_BACKUP") == "" {
		b.Skip("set AIBUD_BENCH_BACKUP=1 to run (a minute or two)")
	}
	s := mustOpen(b, 256)
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		tn := mustCatalogTenant(b, s)
		if err := s.CreateTenantDB(ctx, tn.ID); err != nil {
			b.Fatal(err)
		}
		ids[i] = tn.ID
		if _, err := s.Grant(ctx, tn.ID, 400, "signup", "signup:"+tn.ID); err != nil {
			b.Fatal(err)
		}
		cs := make([]tenants.Contact, 20)
		for j := range cs {
			cs[j] = tenants.Contact{Phone: fmt.Sprintf("55119%04d%04d", i, j), Name: "Lead", Source: "import"}
		}
		mustUpsert(b, s, tn.ID, cs...)
		if _, err := s.Reserve(ctx, tn.ID, "poll:x", 3); err != nil {
			b.Fatal(err)
		}
	}
	var full, incr time.Duration
	var size int64
	for b.Loop() {
		dir := b.TempDir()
		rep := mustBackup(b, s, dir)
		full += rep.Elapsed
		size = rep.Bytes
		for _, id := range ids[:100] {
			if _, err := s.Grant(ctx, id, 1, "bonus", ""); err != nil {
				b.Fatal(err)
			}
		}
		rep = mustBackup(b, s, dir)
		if rep.Incremental != 100 || rep.Unchanged != 901 {
			b.Fatalf("incremental run: %d incremental, %d unchanged; want the 100 changed tenants, the rest unchanged", rep.Incremental, rep.Unchanged)
		}
		incr += rep.Elapsed
	}
	b.ReportMetric(full.Seconds()/float64(b.N), "full-s")
	b.ReportMetric(incr.Seconds()/float64(b.N), "incr-s")
	b.ReportMetric(float64(size)/(1<<20), "full-MiB")
}
