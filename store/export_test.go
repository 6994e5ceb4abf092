package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// mustCampaignTenant creates a tenant as the product does, with something
// in every kind of record: catalog (tenant, owner with email and external
// id, session, route, usage, active mark, Stripe customer, audit entry, API
// key) and database (ledger, instance, contacts with tags and consent, a
// poll with its messages, a delivery status, a vote and a reply).
func mustCampaignTenant(tb testing.TB, s *Store, email string) string {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	tid, uid := NewID(), NewID()
	must(s.CreateTenantDB(ctx, tid))
	_, err := s.Grant(ctx, tid, 400, "signup", "signup:"+tid)
	must(err)
	must(s.CreateAccount(ctx, tenants.Tenant{ID: tid, Name: "Acme " + email, Plan: tenants.PlanStarter, Status: tenants.TenantActive, CreatedAt: t0},
		tenants.User{ID: uid, Email: email, TenantID: tid, Role: tenants.RoleOwner, PasswordHash: "h", ExternalID: "ext_" + uid, CreatedAt: t0}))
	must(s.CreateSession(ctx, tenants.Session{ID: NewID(), UserID: uid, TenantID: tid, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}))
	_, err = s.SetStripeCustomer(ctx, tid, "cus_"+uid)
	must(err)
	for _, day := range []string{"2026-02-27", "2026-02-28"} {
		must(s.PutUsage(ctx, tenants.DailyUsage{TenantID: tid, Day: day, Sent: 3}))
	}
	must(s.MarkActive(ctx, tid, true))
	must(s.AppendAudit(ctx, tenants.AuditEntry{ID: NewID(), TenantID: tid, Action: tenants.AuditSupportView, ActorID: "adm", At: t0}))
	must(s.CreateAPIKey(ctx, tenants.APIKey{ID: NewID(), TenantID: tid, UserID: uid, Name: "k", Hash: strings.Repeat("a", 48) + uid[len(uid)-16:], CreatedAt: t0}, 5))

	must(s.PutShard(ctx, tenants.Shard{ID: "sandbox", Kind: tenants.ShardSandbox, Capacity: 100}))
	in := tenants.Instance{ID: NewID(), TenantID: tid, Name: "Main", ShardID: "sandbox", GatewayName: "gw-" + uid, WebhookToken: "tok" + uid, State: tenants.StateOpen}
	_, _, err = s.PlaceInstance(ctx, in.WebhookToken, tenants.InstanceRoute{TenantID: tid, InstanceID: in.ID, GatewayName: in.GatewayName})
	must(err)
	must(s.PutInstance(ctx, in))

	phones := []string{"5511987650001", "5511987650002", "14155550003"}
	mustUpsert(tb, s, tid,
		tenants.Contact{Phone: phones[0], Name: "Ana", Tags: []string{"vip"}, OptIn: true, Source: "import"},
		tenants.Contact{Phone: phones[1], Name: "Bia", Tags: []string{"vip", "sp"}, Source: "import"},
		tenants.Contact{Phone: phones[2], Name: "Cy", Source: "paste"})
	_, err = s.SetOptOut(ctx, tid, tenants.ConsentEvent{Phone: phones[2], OptOut: true, Source: "reply", Detail: "STOP", At: t0})
	must(err)
	p := tenants.Poll{ID: NewID(), TenantID: tid, Question: "Which day?", Options: []string{"Mon", "Tue"}, InstanceID: in.ID,
		Audience: tenants.Audience{Tag: "vip"}, Status: tenants.PollSending, CreatedAt: t0, DispatchedAt: t0}
	must(s.PutPoll(ctx, p))
	must(s.PutAudience(ctx, tid, p.ID, phones[:2]))
	_, err = s.Reserve(ctx, tid, p.ReservationRef(), 2)
	must(err)
	plan := func(cur tenants.PaceCursor, n int) ([]time.Time, tenants.PaceCursor) {
		return make([]time.Time, n), cur
	}
	_, err = s.WriteMessages(ctx, tid, p, phones[:2], plan)
	must(err)
	for i, phone := range phones[:2] {
		_, err := s.UpdateMessage(ctx, tid, p.ID, phone, func(m *tenants.Message) error {
			m.Status, m.WAID, m.SentAt = tenants.StatusSent, fmt.Sprintf("WA%d-%s", i, p.ID), t0
			return nil
		})
		must(err)
	}
	waid := "WA0-" + p.ID
	_, err = s.ApplyEvents(ctx, tid, in.ID, []tenants.GatewayEvent{
		{Kind: tenants.EventMessageStatus, DedupeKey: "st1", Status: &tenants.StatusChange{MessageID: waid, Status: tenants.StatusRead}},
		{Kind: tenants.EventPollVote, DedupeKey: "v1", Vote: &tenants.PollVote{MessageID: "V1", PollMessageID: waid, Options: []string{"Tue"}, At: t0}},
		{Kind: tenants.EventInboundText, DedupeKey: "t1", Text: &tenants.InboundText{MessageID: "T1", From: phones[0], Text: "Tuesday is great", QuotedID: waid, At: t0}},
	}, t0)
	must(err)
	return tid
}

type storedValue struct {
	Value     []byte
	ExpiresAt uint64
}

// dumpTenantDB returns every key of a tenant DB with its value and expiry.
func dumpTenantDB(tb testing.TB, s *Store, id string) map[string]storedValue {
	tb.Helper()
	out := map[string]storedValue{}
	err := s.WithTenant(context.Background(), id, func(h *TenantDB) error {
		return h.DB.View(func(txn *badger.Txn) error {
			return scanItems(txn, "", func(item *badger.Item) error {
				v, err := item.ValueCopy(nil)
				out[string(item.Key())] = storedValue{v, item.ExpiresAt()}
				return err
			})
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func mustRecords(tb testing.TB, s *Store, id string) []tenants.ExportRecord {
	tb.Helper()
	recs, err := s.Catalog.tenantRecords(id, false)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

func mustExport(tb testing.TB, s *Store, id string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := s.ExportTenant(context.Background(), id, &buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	src := mustOpen(t, 4)
	ctx := context.Background()
	other := mustCampaignTenant(t, src, "other@example.com")
	tid := mustCampaignTenant(t, src, "owner@example.com")

	var buf bytes.Buffer
	m, err := src.ExportTenant(ctx, tid, &buf)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int{"tenant": 1, "users": 1, "email_index": 1, "extid_index": 1, "routes": 1, "usage": 2,
		"active": 1, "stripe_customers": 1, "audit": 1, "api_keys": 1, "api_key_index": 1, "db_keys": len(dumpTenantDB(t, src, tid))}
	if d := cmp.Diff(wantCounts, m.Counts); d != "" {
		t.Errorf("manifest counts (-want +got):\n%s", d)
	}
	for _, r := range m.Records {
		if strings.Contains(r.Key, other) || strings.Contains(string(r.Value), other) || strings.HasPrefix(r.Key, keySession) {
			t.Errorf("export carries %q, which is not the tenant's", r.Key)
		}
	}

	dst := mustOpen(t, 4)
	if err := dst.PutShard(ctx, tenants.Shard{ID: "sandbox", Kind: tenants.ShardSandbox, Capacity: 100}); err != nil {
		t.Fatal(err)
	}
	got, err := dst.ImportTenant(ctx, bytes.NewReader(buf.Bytes()), "")
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != tid || got.SHA256 != m.SHA256 {
		t.Errorf("import manifest = %s %s, want %s %s", got.TenantID, got.SHA256, tid, m.SHA256)
	}
	if d := cmp.Diff(dumpTenantDB(t, src, tid), dumpTenantDB(t, dst, tid), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("tenant DB after the round trip (-exported +imported):\n%s", d)
	}
	if d := cmp.Diff(mustRecords(t, src, tid), mustRecords(t, dst, tid), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("catalog records after the round trip (-exported +imported):\n%s", d)
	}
	if sh, err := dst.Shard(ctx, "sandbox"); err != nil || sh.InUse != 1 {
		t.Errorf("sandbox shard after import = %+v, %v; want its number counted", sh, err)
	}
	// The imported tenant works through the ordinary store methods.
	if u, err := dst.UserByEmail(ctx, "owner@example.com"); err != nil || u.TenantID != tid {
		t.Errorf("owner after import = %+v, %v", u, err)
	}
	if bal, err := dst.Balance(ctx, tid); err != nil || bal != 398 {
		t.Errorf("balance after import = %d, %v; want 398", bal, err)
	}
	if _, err := dst.Reserve(ctx, tid, "after-import", 1); err != nil {
		t.Errorf("reserve after import: %v", err)
	}
	// A second import of the same file is refused, naming the tenant.
	_, err = dst.ImportTenant(ctx, bytes.NewReader(buf.Bytes()), "")
	if tenants.ErrorCode(err) != tenants.ECONFLICT || !strings.Contains(tenants.ErrorMessage(err), tid) {
		t.Errorf("second import: %v; want a conflict naming %s", err, tid)
	}
}

func TestImportAsNewID(t *testing.T) {
	src := mustOpen(t, 4)
	ctx := context.Background()
	tid := mustCampaignTenant(t, src, "owner@example.com")
	file := mustExport(t, src, tid)

	// Into the same catalog, the owner's email is taken: refused clearly.
	_, err := src.ImportTenant(ctx, bytes.NewReader(file), "copy-1")
	if tenants.ErrorCode(err) != tenants.ECONFLICT || !strings.Contains(tenants.ErrorMessage(err), "owner@example.com") {
		t.Fatalf("import --as into the same catalog: %v; want the email conflict", err)
	}
	if _, err := os.Stat(src.Pool.Dir("copy-1")); !os.IsNotExist(err) {
		t.Fatalf("refused import left a directory: %v", err)
	}

	dst := mustOpen(t, 4)
	const newID = "01NEWTENANT"
	m, err := dst.ImportTenant(ctx, bytes.NewReader(file), newID)
	if err != nil {
		t.Fatal(err)
	}
	if m.TenantID != newID {
		t.Errorf("manifest tenant = %s", m.TenantID)
	}
	for _, r := range mustRecords(t, dst, newID) {
		if strings.Contains(r.Key, tid) || strings.Contains(string(r.Value), tid) {
			t.Errorf("record %s = %s still names the old id", r.Key, r.Value)
		}
	}
	if tn, err := dst.Tenant(ctx, newID); err != nil || tn.ID != newID || tn.Name != "Acme owner@example.com" {
		t.Errorf("tenant = %+v, %v", tn, err)
	}
	if u, err := dst.UserByEmail(ctx, "owner@example.com"); err != nil || u.TenantID != newID {
		t.Errorf("owner = %+v, %v", u, err)
	}
	if days, err := dst.Usage(ctx, newID, "2026-01-01", "2026-12-31"); err != nil || len(days) != 2 || days[0].TenantID != newID {
		t.Errorf("usage = %+v, %v", days, err)
	}
	polls, err := dst.Polls(ctx, newID)
	if err != nil || len(polls) != 1 || polls[0].TenantID != newID {
		t.Fatalf("polls = %+v, %v", polls, err)
	}
	ins, err := dst.Instances(ctx, newID)
	if err != nil || len(ins) != 1 || ins[0].TenantID != newID {
		t.Fatalf("instances = %+v, %v", ins, err)
	}
	if r, err := dst.Route(ctx, ins[0].WebhookToken); err != nil || r.TenantID != newID {
		t.Errorf("route = %+v, %v", r, err)
	}
	srcDB, dstDB := dumpTenantDB(t, src, tid), dumpTenantDB(t, dst, newID)
	if len(srcDB) != len(dstDB) {
		t.Errorf("tenant DB has %d keys, want %d", len(dstDB), len(srcDB))
	}
}

// TestImportRefusesDamage: a flipped byte anywhere, a wrong version, a cut
// file, trailing bytes or a record that is not the tenant's are refused
// with a clear error, and nothing is written.
func TestImportRefusesDamage(t *testing.T) {
	src := mustOpen(t, 4)
	tid := mustCampaignTenant(t, src, "owner@example.com")
	file := mustExport(t, src, tid)
	nl := bytes.IndexByte(file, '\n')
	flip := func(at int) []byte {
		b := bytes.Clone(file)
		b[at] ^= 0x01
		return b
	}
	var m Manifest
	if err := json.Unmarshal(file[:nl], &m); err != nil {
		t.Fatal(err)
	}
	relined := func(edit func(*Manifest), rehash bool) []byte {
		m2 := m
		m2.Records = append([]tenants.ExportRecord(nil), m.Records...)
		edit(&m2)
		if rehash {
			sum := manifestDigest(m2)
			sum.Write(file[nl+1:])
			m2.SHA256 = fmt.Sprintf("%x", sum.Sum(nil))
		}
		line, _ := json.Marshal(m2)
		return append(append(line, '\n'), file[nl+1:]...)
	}
	admin, _ := json.Marshal(tenants.User{ID: "evil", Email: "evil@example.com", TenantID: tid, Role: tenants.RoleAdmin})
	tests := []struct {
		name, want string
		file       []byte
	}{
		{"payload byte", "checksum does not match", flip(nl + 1 + (len(file)-nl)/2)},
		{"last byte", "checksum does not match", flip(len(file) - 1)},
		{"record value", "checksum does not match", relined(func(m *Manifest) { m.Records[0].Value = []byte(`{"id":"x"}`) }, false)},
		{"counts", "checksum does not match", relined(func(m *Manifest) { m.Counts["db_keys"]++ }, false)},
		{"version", "format version 2", relined(func(m *Manifest) { m.Version = 2 }, true)},
		{"not an export", "not an aibud tenant export", []byte("hello\n")},
		{"manifest byte", "not an aibud tenant export", flip(1)},
		{"cut short", "incomplete", file[:len(file)-10]},
		{"trailing", "data after its payload", append(bytes.Clone(file), 'x')},
		{"admin smuggled", "not tenant", relined(func(m *Manifest) {
			m.Records = append(m.Records, tenants.ExportRecord{Key: keyUser + "evil", Value: admin})
		}, true)},
		{"shard smuggled", "not tenant", relined(func(m *Manifest) {
			m.Records = append(m.Records, tenants.ExportRecord{Key: keyShard + "x", Value: []byte(`{}`)})
		}, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dst := mustOpenDir(t, dir, 2)
			_, err := dst.ImportTenant(context.Background(), bytes.NewReader(tt.file), "")
			if tenants.ErrorCode(err) != tenants.EINVALID || !strings.Contains(tenants.ErrorMessage(err), tt.want) {
				t.Fatalf("import: %v; want EINVALID saying %q", err, tt.want)
			}
			if list, err := dst.ListTenants(context.Background()); err != nil || len(list) != 0 {
				t.Errorf("tenants after a refused import: %v, %v", list, err)
			}
			if left := dirNames(t, filepath.Join(dir, "tenants")); len(left) != 0 {
				t.Errorf("tenants dir after a refused import: %v", left)
			}
			if temps, _ := filepath.Glob(filepath.Join(dir, ".import-*")); len(temps) != 0 {
				t.Errorf("temp files left: %v", temps)
			}
		})
	}
}

// BenchmarkExportImport100k exports a tenant of 100,000 records (contacts
// of ~150 bytes) and imports the file into a fresh store. Target: export
// and import ≤ 2 s each.
//
//	go test -run '^$' -bench ExportImport100k -benchtime 3x ./store/
func BenchmarkExportImport100k(b *testing.B) {
	src := mustOpen(b, 4)
	ctx := context.Background()
	tn := mustCatalogTenant(b, src)
	if err := src.CreateTenantDB(ctx, tn.ID); err != nil {
		b.Fatal(err)
	}
	cs := make([]tenants.Contact, 100_000)
	for i := range cs {
		cs[i] = tenants.Contact{Phone: fmt.Sprintf("55119%08d", i), Name: fmt.Sprintf("Contact number %d", i), Source: "import"}
	}
	mustUpsert(b, src, tn.ID, cs...)
	var exportTime, importTime time.Duration
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		start := time.Now()
		m, err := src.ExportTenant(ctx, tn.ID, &buf)
		if err != nil || m.Counts["db_keys"] != 100_000 {
			b.Fatalf("export: %v (%d keys)", err, m.Counts["db_keys"])
		}
		exportTime += time.Since(start)
		size = buf.Len()
		dst := mustOpen(b, 4)
		start = time.Now()
		if _, err := dst.ImportTenant(ctx, &buf, ""); err != nil {
			b.Fatal(err)
		}
		importTime += time.Since(start)
	}
	b.ReportMetric(exportTime.Seconds()/float64(b.N), "export-s")
	b.ReportMetric(importTime.Seconds()/float64(b.N), "import-s")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
}
