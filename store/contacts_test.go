package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustUpsert(tb testing.TB, s *Store, tid string, cs ...tenants.Contact) (created, updated int) {
	tb.Helper()
	created, updated, err := s.UpsertContacts(context.Background(), tid, cs, t0)
	if err != nil {
		tb.Fatal(err)
	}
	return created, updated
}

func mustContact(tb testing.TB, s *Store, tid, phone string) tenants.Contact {
	tb.Helper()
	c, err := s.Contact(context.Background(), tid, phone)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestUpsertContactsMerges(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	tid := mustTenant(t, s, 0)

	c, u := mustUpsert(t, s, tid,
		tenants.Contact{Phone: "5511987654321", Name: "Maria", Tags: []string{"vip"}, Source: "import"},
		tenants.Contact{Phone: "14155552671", Source: "import", OptIn: true})
	if c != 2 || u != 0 {
		t.Fatalf("first upsert created %d updated %d", c, u)
	}
	if _, err := s.SetOptOut(ctx, tid, tenants.ConsentEvent{Phone: "5511987654321", OptOut: true, Source: "reply", Detail: "PARE", At: t0}); err != nil {
		t.Fatal(err)
	}
	// A re-import: empty name keeps the old one, tags add up, the opt-out stays.
	c, u = mustUpsert(t, s, tid,
		tenants.Contact{Phone: "5511987654321", Tags: []string{"vip", "sp"}, Source: "paste"},
		tenants.Contact{Phone: "14155552671", Name: "Joe", Source: "paste"})
	if c != 0 || u != 2 {
		t.Fatalf("second upsert created %d updated %d", c, u)
	}
	maria := mustContact(t, s, tid, "5511987654321")
	want := tenants.Contact{Phone: "5511987654321", Name: "Maria", Tags: []string{"vip", "sp"}, OptedOut: true, OptedOutAt: t0,
		LeadStatus: tenants.LeadOptedOut, Source: "import", CreatedAt: t0, UpdatedAt: t0}
	if d := cmp.Diff(want, maria); d != "" {
		t.Fatalf("merged contact (-want +got):\n%s", d)
	}
	if joe := mustContact(t, s, tid, "14155552671"); joe.Name != "Joe" || !joe.OptIn {
		t.Fatalf("joe = %+v; want the new name and the opt-in kept", joe)
	}
	log, err := s.ConsentLog(ctx, tid, "14155552671")
	if err != nil || len(log) != 1 || log[0].OptOut || log[0].Source != "import" {
		t.Fatalf("joe's consent log = %+v, %v; want the import's opt-in", log, err)
	}
	tags, err := s.ContactTags(ctx, tid)
	if d := cmp.Diff([]tenants.TagCount{{Tag: "sp", Contacts: 1}, {Tag: "vip", Contacts: 1}}, tags); err != nil || d != "" {
		t.Fatalf("tags (-want +got):\n%s %v", d, err)
	}
}

// TestUpsertContactsSplitsBigBatches writes far more than one Badger
// transaction holds (a 1 MiB memtable allows ~150 KiB) in one call.
func TestUpsertContactsSplitsBigBatches(t *testing.T) {
	s := mustOpen(t, 4)
	tid := mustTenant(t, s, 0)
	var cs []tenants.Contact
	for i := range 3000 {
		cs = append(cs, tenants.Contact{Phone: fmt.Sprintf("55119%08d", i), Name: strings.Repeat("n", 90),
			Tags: []string{"campaign-2026-march", fmt.Sprintf("group %d", i%7)}, OptIn: i%2 == 0, Source: "import"})
	}
	if c, u := mustUpsert(t, s, tid, cs...); c != 3000 || u != 0 {
		t.Fatalf("created %d updated %d, want 3000 and 0", c, u)
	}
	if c, u := mustUpsert(t, s, tid, cs...); c != 0 || u != 3000 {
		t.Fatalf("again: created %d updated %d, want 0 and 3000", c, u)
	}
	n := 0
	err := s.ForEachContact(context.Background(), tid, "group 3", func(c tenants.Contact) error { n++; return nil })
	if err != nil || n != 429 {
		t.Fatalf("contacts tagged group 3 = %d, %v; want 429", n, err)
	}
}

func TestTxnBudgetMatchesBadger(t *testing.T) {
	s := mustOpen(t, 4)
	tid := mustTenant(t, s, 0)
	err := s.WithTenant(context.Background(), tid, func(h *TenantDB) error {
		b := txnBudget{maxSize: h.DB.MaxBatchSize(), maxCount: h.DB.MaxBatchCount(), threshold: h.DB.Opts().ValueThreshold}
		txn := h.DB.NewTransaction(true)
		defer txn.Discard()
		for i := 0; ; i++ {
			kv := keyValue{[]byte(fmt.Sprintf("contact/%013d", i)), bytes.Repeat([]byte("x"), 200+i%900)}
			fits := b.take([]keyValue{kv})
			err := txn.Set(kv.key, kv.value)
			if fits != (err == nil) {
				return fmt.Errorf("entry %d: budget says fits=%v, Badger says %v", i, fits, err)
			}
			if err != nil {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnsureInboundAndDelete(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	tid := mustTenant(t, s, 0)
	cs := &tenants.Contacts{Store: s, Phones: whatsapp.Phones{}, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// Someone writes first: created from the WhatsApp address, named by profile.
	c, err := cs.EnsureInbound(ctx, tid, "5511987654321@s.whatsapp.net", " Maria\n ")
	if err != nil || c.Phone != "5511987654321" || c.Name != "Maria" || c.Source != tenants.SourceInbound || c.LeadStatus != tenants.LeadNew {
		t.Fatalf("first inbound = %+v, %v", c, err)
	}
	// Again with another profile name: the contact stays as it was.
	if c, err = cs.EnsureInbound(ctx, tid, "+5511987654321", "Other"); err != nil || c.Name != "Maria" {
		t.Fatalf("second inbound = %+v, %v", c, err)
	}
	// An imported contact without a name gains the profile name, keeps its source.
	mustUpsert(t, s, tid, tenants.Contact{Phone: "14155552671", Source: "import", Tags: []string{"vip"}})
	if c, err = cs.EnsureInbound(ctx, tid, "14155552671", "Joe"); err != nil || c.Name != "Joe" || c.Source != "import" {
		t.Fatalf("inbound for an imported contact = %+v, %v", c, err)
	}
	if _, err := cs.EnsureInbound(ctx, tid, "status@broadcast", "x"); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("inbound from a non-number: %v", err)
	}

	if _, err := cs.OptOut(ctx, tid, "14155552671", tenants.ConsentReply, "STOP"); err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete(ctx, tid, "+14155552671"); err != nil {
		t.Fatal(err)
	}
	err = s.WithTenant(ctx, tid, func(h *TenantDB) error {
		return h.DB.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.DefaultIteratorOptions)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if k := string(it.Item().Key()); strings.Contains(k, "14155552671") {
					return fmt.Errorf("key %q survived the erase", k)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete(ctx, tid, "14155552671"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	want := []string{"consent/5511987654321/", "msgc/5511987654321/", "votec/5511987654321/", "replyc/5511987654321/"}
	if got := ContactKeyPrefixes("5511987654321"); !cmp.Equal(got, want) {
		t.Fatalf("ContactKeyPrefixes = %q", got)
	}
}

// BenchmarkImport50k measures the whole CSV import path (parsing, phone
// validation with libphonenumber, merging, durable batched writes) for a
// 50,000-row file of numbers from six countries, into a fresh tenant.
// Target: ≤ 5 s.
func BenchmarkImport50k(b *testing.B) {
	data := benchCSV(50_000)
	s := mustOpen(b, 4)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cs := &tenants.Contacts{Store: s, Phones: whatsapp.Phones{}, Now: time.Now, Logger: logger}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		tid := mustTenant(b, s, 0)
		b.StartTimer()
		start := time.Now()
		res, err := cs.Import(context.Background(), tenants.Tenant{ID: tid, Region: "BR"}, data,
			tenants.ColumnMapping{Phone: 0, Name: 1, Tags: 2, OptIn: 3}, []string{"bench"})
		total += time.Since(start)
		if err != nil || res.Imported != 50_000 || len(res.Invalid) != 0 {
			b.Fatalf("import: %v; imported %d, invalid %d %v", err, res.Imported, len(res.Invalid), res.Invalid[:min(3, len(res.Invalid))])
		}
	}
	per := total.Seconds() / float64(b.N)
	b.ReportMetric(per, "s/import")
	b.ReportMetric(50_000/per, "rows/s")
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/file")
}

// benchCSV is a semicolon CSV (as Excel writes it in Brazil) with n unique
// valid numbers written the ways people write them.
func benchCSV(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\xEF\xBB\xBFTelefone;Nome;Etiquetas;Aceita\r\n")
	for i := range n {
		fmt.Fprintf(&buf, "%s;Cliente %d;lead, grupo %d;%s\r\n", benchPhone(i), i, i%10, []string{"sim", "não"}[i%2])
	}
	return buf.Bytes()
}

// benchPhone returns the i-th of a set of distinct valid numbers from
// Brazil (local and international forms), the US, the UK, Spain and Mexico.
func benchPhone(i int) string {
	n := i / 6
	switch i % 6 {
	case 0:
		return fmt.Sprintf("(11) 9%04d-%04d", 1000+n/10000, n%10000)
	case 1:
		return fmt.Sprintf("5521 9%04d%04d", 2000+n/10000, n%10000)
	case 2:
		return fmt.Sprintf("+1 (415) 2%02d-%04d", n/10000+10, n%10000)
	case 3:
		return fmt.Sprintf("+44 7911 %06d", n)
	case 4:
		return fmt.Sprintf("+34 612 %03d %03d", n/1000, n%1000)
	default:
		return fmt.Sprintf("+52 55 %04d %04d", 1000+n/10000, n%10000)
	}
}
