package tenants_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/aibud/aibud/whatsapp/sandbox"
)

// Erasing runs over a real store and the sandbox gateway; only Stripe is a
// fake that records the cancellations it was asked for.

type cancelRecorder struct {
	mu       sync.Mutex
	canceled []string
}

func (c *cancelRecorder) CreateCustomer(context.Context, tenants.CustomerRequest) (string, error) {
	return "cus_new", nil
}
func (c *cancelRecorder) CheckoutSession(context.Context, tenants.CheckoutRequest) (string, error) {
	return "", nil
}
func (c *cancelRecorder) PortalSession(context.Context, tenants.PortalRequest) (string, error) {
	return "", nil
}
func (c *cancelRecorder) CancelSubscription(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = append(c.canceled, id)
	return nil
}

// readablePasswords keeps passwords readable: these tests are not about
// hashing.
type readablePasswords struct{}

func (readablePasswords) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (readablePasswords) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type eraseEnv struct {
	st       *store.Store
	sb       *sandbox.Gateway
	pay      *cancelRecorder
	accounts *tenants.Accounts
	numbers  *tenants.Numbers
	eraser   *tenants.Eraser
	admin    tenants.User
}

func newEraseEnv(t *testing.T) *eraseEnv {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 8, Logger: logger})
	noErr(t, err)
	t.Cleanup(func() { st.Close() })
	sb := sandbox.New(sandbox.Config{ShardID: "sandbox", Logger: logger})
	t.Cleanup(sb.Close)
	noErr(t, st.PutShard(context.Background(), tenants.Shard{ID: "sandbox", Kind: tenants.ShardSandbox, URL: "sandbox:", Capacity: 100}))
	e := &eraseEnv{st: st, sb: sb, pay: &cancelRecorder{}, admin: tenants.User{ID: "adm1", Email: "ops@example.com", Role: tenants.RoleAdmin}}
	e.numbers = &tenants.Numbers{Catalog: st, Shards: st, Instances: st, Gateways: &whatsapp.Registry{Sandbox: sb, Logger: logger},
		PublicURL: "http://aibud.test", NewID: store.NewID, Now: time.Now, Logger: logger}
	sb.SetSink(func(ctx context.Context, token string, events []tenants.GatewayEvent) error {
		_, err := e.numbers.Intake(ctx, token, events)
		return err
	})
	e.accounts = &tenants.Accounts{Catalog: st, Databases: st, Credits: st, Hasher: readablePasswords{}, NewID: store.NewID, Now: time.Now, Logger: logger}
	billing := &tenants.Billing{Catalog: st, Credits: st, Payments: e.pay, Events: st, Now: time.Now, Logger: logger}
	e.eraser = &tenants.Eraser{Catalog: st, Numbers: e.numbers, Billing: billing, Data: st, Audit: st, Hasher: readablePasswords{},
		Contacts: st, Polls: st, NewID: store.NewID, Now: time.Now, Logger: logger}
	return e
}

// fullTenant is a signed-up tenant with a connected number, a Stripe
// subscription, a session, usage and an API key.
type fullTenant struct {
	acct    tenants.Account
	number  tenants.Instance
	session tenants.Session
	keyHash string
}

func (e *eraseEnv) fullTenant(t *testing.T, email string) fullTenant {
	t.Helper()
	ctx := context.Background()
	acct, err := e.accounts.Signup(ctx, tenants.SignupInput{Email: email, Password: "correct horse battery"})
	noErr(t, err)
	tid := acct.Tenant.ID
	in, err := e.numbers.Connect(ctx, acct.Tenant, "Main", "")
	noErr(t, err)
	noErr(t, e.sb.Scan(ctx, in.GatewayName, "5511999990000", "Shop"))
	for deadline := time.Now().Add(5 * time.Second); in.State != tenants.StateOpen && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		in, err = e.numbers.Get(ctx, tid, in.ID)
		noErr(t, err)
	}
	_, err = e.st.SetStripeCustomer(ctx, tid, "cus_"+tid)
	noErr(t, err)
	_, err = e.st.UpdateTenant(ctx, tid, func(t *tenants.Tenant) error { t.StripeSubscriptionID = "sub_" + tid; return nil })
	noErr(t, err)
	sess, err := e.accounts.StartSession(ctx, acct)
	noErr(t, err)
	noErr(t, e.st.PutUsage(ctx, tenants.DailyUsage{TenantID: tid, Day: "2026-03-01", Sent: 1}))
	noErr(t, e.st.MarkActive(ctx, tid, true))
	hash := tenants.HashAPIKey("ak_" + tid)
	noErr(t, e.st.CreateAPIKey(ctx, tenants.APIKey{ID: store.NewID(), TenantID: tid, UserID: acct.User.ID, Name: "k", Hash: hash}, 5))
	return fullTenant{acct: acct, number: in, session: sess, keyHash: hash}
}

// assertErased checks that nothing of the tenant is left but its audit log,
// which ends with the tombstone naming who erased it.
func (e *eraseEnv) assertErased(t *testing.T, ft fullTenant, by string) {
	t.Helper()
	ctx := context.Background()
	tid := ft.acct.Tenant.ID
	gone := map[string]error{}
	_, gone["tenant"] = e.st.Tenant(ctx, tid)
	_, gone["user"] = e.st.UserByEmail(ctx, ft.acct.User.Email)
	_, gone["session"] = e.st.Session(ctx, ft.session.ID)
	_, gone["route"] = e.st.Route(ctx, ft.number.WebhookToken)
	_, gone["stripe customer"] = e.st.TenantByStripeCustomer(ctx, "cus_"+tid)
	_, gone["api key"] = e.st.APIKeyByHash(ctx, ft.keyHash)
	for what, err := range gone {
		if tenants.ErrorCode(err) != tenants.ENOTFOUND {
			t.Errorf("%s after erase: %v; want not found", what, err)
		}
	}
	if days, err := e.st.Usage(ctx, tid, "2000-01-01", "2100-01-01"); err != nil || len(days) != 0 {
		t.Errorf("usage after erase: %v, %v", days, err)
	}
	if active, _ := e.st.ActiveTenants(ctx); slices.Contains(active, tid) {
		t.Error("tenant still marked active")
	}
	if _, err := os.Stat(e.st.Pool.Dir(tid)); !os.IsNotExist(err) {
		t.Errorf("tenant DB directory after erase: %v", err)
	}
	if _, err := e.sb.ConnectionState(ctx, ft.number.Ref()); err == nil {
		t.Error("the number still exists at the gateway")
	}
	page, err := e.st.AuditEntries(ctx, tid, "", 10)
	if err != nil || len(page.Entries) == 0 || page.Entries[0].Action != tenants.AuditErase || page.Entries[0].ActorID != by {
		t.Errorf("audit log after erase = %+v, %v; want the erase tombstone by %s first", page.Entries, err, by)
	}
}

func TestEraseTenantByAdmin(t *testing.T) {
	e := newEraseEnv(t)
	ctx := context.Background()
	victim := e.fullTenant(t, "gone@example.com")
	kept := e.fullTenant(t, "kept@example.com")
	tid := victim.acct.Tenant.ID

	owner := victim.acct.User
	if err := e.eraser.EraseTenant(ctx, owner, tid, "test"); tenants.ErrorCode(err) != tenants.EFORBIDDEN {
		t.Fatalf("erase by a tenant owner: %v; want forbidden", err)
	}
	if err := e.eraser.EraseTenant(ctx, e.admin, tid, " "); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("erase without a reason: %v; want invalid", err)
	}
	noErr(t, e.eraser.EraseTenant(ctx, e.admin, tid, "GDPR request #12"))
	e.assertErased(t, victim, e.admin.ID)
	if !slices.Equal(e.pay.canceled, []string{"sub_" + tid}) {
		t.Errorf("subscriptions cancelled = %v; want the victim's", e.pay.canceled)
	}
	if sh, err := e.st.Shard(ctx, "sandbox"); err != nil || sh.InUse != 1 {
		t.Errorf("sandbox shard = %+v, %v; want only the kept tenant's number", sh, err)
	}
	if err := e.eraser.EraseTenant(ctx, e.admin, tid, "again"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("second erase: %v; want not found", err)
	}
	// The other tenant is untouched.
	if u, err := e.st.UserByEmail(ctx, "kept@example.com"); err != nil || u.TenantID != kept.acct.Tenant.ID {
		t.Errorf("kept owner = %+v, %v", u, err)
	}
	if bal, err := e.st.Balance(ctx, kept.acct.Tenant.ID); err != nil || bal != 400 {
		t.Errorf("kept balance = %d, %v", bal, err)
	}
	if _, err := e.st.Route(ctx, kept.number.WebhookToken); err != nil {
		t.Errorf("kept route: %v", err)
	}
}

func TestDeleteOwnAccount(t *testing.T) {
	e := newEraseEnv(t)
	e.eraser.Billing = &tenants.Billing{} // Stripe off: nothing to cancel, no error
	ctx := context.Background()
	ft := e.fullTenant(t, "me@example.com")
	if err := e.eraser.DeleteOwnAccount(ctx, ft.acct, "wrong password!"); err != tenants.ErrWrongPassword {
		t.Fatalf("wrong password: %v", err)
	}
	if err := e.eraser.DeleteOwnAccount(ctx, ft.acct, ""); tenants.ErrorField(err) != "password" {
		t.Fatalf("no password: %v", err)
	}
	if _, err := e.st.Tenant(ctx, ft.acct.Tenant.ID); err != nil {
		t.Fatalf("tenant after refused deletions: %v", err)
	}
	// Hold the tenant DB as a request would: the erase waits for it.
	h, err := e.st.Pool.Acquire(ctx, ft.acct.Tenant.ID)
	noErr(t, err)
	time.AfterFunc(100*time.Millisecond, h.Release)
	noErr(t, e.eraser.DeleteOwnAccount(ctx, ft.acct, "correct horse battery"))
	e.assertErased(t, ft, ft.acct.User.ID)
	if len(e.pay.canceled) != 0 {
		t.Errorf("cancelled %v with Stripe off", e.pay.canceled)
	}
}

func TestExportContact(t *testing.T) {
	e := newEraseEnv(t)
	ctx := context.Background()
	ft := e.fullTenant(t, "shop@example.com")
	tid, in := ft.acct.Tenant.ID, ft.number
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, _, err := e.st.UpsertContacts(ctx, tid, []tenants.Contact{
		{Phone: "5511987650001", Name: "Ana", OptIn: true, Source: "import"},
		{Phone: "5511987650002", Name: "Bia", Source: "import"}}, t0)
	noErr(t, err)
	p := tenants.Poll{ID: store.NewID(), TenantID: tid, Question: "Which day?", Options: []string{"Mon", "Tue"}, InstanceID: in.ID,
		Audience: tenants.Audience{All: true}, Status: tenants.PollSending, CreatedAt: t0}
	noErr(t, e.st.PutPoll(ctx, p))
	plan := func(cur tenants.PaceCursor, n int) ([]time.Time, tenants.PaceCursor) {
		return make([]time.Time, n), cur
	}
	_, err = e.st.WriteMessages(ctx, tid, p, []string{"5511987650001", "5511987650002"}, plan)
	noErr(t, err)
	for _, phone := range []string{"5511987650001", "5511987650002"} {
		_, err = e.st.UpdateMessage(ctx, tid, p.ID, phone, func(m *tenants.Message) error {
			m.Status, m.WAID = tenants.StatusSent, "WA"+phone
			return nil
		})
		noErr(t, err)
	}
	_, err = e.st.ApplyEvents(ctx, tid, in.ID, []tenants.GatewayEvent{
		{Kind: tenants.EventPollVote, DedupeKey: "v1", Vote: &tenants.PollVote{MessageID: "V1", PollMessageID: "WA5511987650001", Options: []string{"Tue"}, At: t0}},
		{Kind: tenants.EventInboundText, DedupeKey: "t1", Text: &tenants.InboundText{MessageID: "T1", From: "5511987650001", Text: "Tuesday!", At: t0}},
		{Kind: tenants.EventInboundText, DedupeKey: "t2", Text: &tenants.InboundText{MessageID: "T2", From: "5511987650002", Text: "Who is this?", At: t0}},
	}, t0)
	noErr(t, err)

	var buf bytes.Buffer
	noErr(t, e.eraser.ExportContact(ctx, tid, "+5511987650001", &buf))
	var got tenants.ContactData
	noErr(t, json.Unmarshal(buf.Bytes(), &got))
	switch {
	case got.Contact.Name != "Ana" || len(got.Consent) != 1 || got.Consent[0].OptOut:
		t.Errorf("contact and consent = %+v %+v", got.Contact, got.Consent)
	case len(got.Messages) != 1 || got.Messages[0].Question != "Which day?" || got.Messages[0].WAID != "WA5511987650001":
		t.Errorf("messages = %+v", got.Messages)
	case len(got.Votes) != 1 || !slices.Equal(got.Votes[0].Options, []string{"Tue"}):
		t.Errorf("votes = %+v", got.Votes)
	case len(got.Replies) != 1 || got.Replies[0].Text != "Tuesday!":
		t.Errorf("replies = %+v (another contact's reply must not appear)", got.Replies)
	}
	if err := e.eraser.ExportContact(ctx, tid, "5511000000000", io.Discard); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("unknown contact: %v", err)
	}
}
