package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/billing/stripemock"
	"github.com/aibud/aibud/httpapi/browsertest"
	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// TestBrowserWholeJourney is issue 9's part 5: a new customer's whole first
// session, in Chromium, through the pages only, against the real program
// wired to the Evolution simulator, redis-server and stripe-mock:
//
// sign up → 400 credits → connect WhatsApp (QR, the simulator scans) →
// import 20 leads from a CSV file → compose and send a poll → the leads vote
// and reply → results chart and classified inbox → 380 credits → billing →
// Upgrade leads to a Stripe Checkout URL.
//
// Every step leaves screenshots in testdata/screenshots/journey. Each stage
// runs in a tab of its own (a tab has browsertest.TabTimeout in all), the
// later ones carrying the session the browser got at sign-up.
func TestBrowserWholeJourney(t *testing.T) {
	ce := newJourneyEnv(t)
	shot := screenshotter(t, "journey")

	// 1. Sign up, see the 400 welcome credits, connect WhatsApp.
	ctx := browsertest.New(t)
	console := browsertest.WatchConsole(t, ctx)
	browsertest.Navigate(t, ctx, ce.base+"/signup")
	browsertest.Fill(t, ctx, "#email", testAccount["email"])
	browsertest.Fill(t, ctx, "#password", testAccount["password"])
	browsertest.Fill(t, ctx, "#company", testAccount["company"])
	browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]")
	wantPath(t, ctx, "/app")
	wantOverview(t, ctx, testAccount["company"])
	shot(ctx, "01-overview-400-credits")

	browsertest.ClickAndWait(t, ctx, `.nav a[href="/app/settings"]`)
	wantPath(t, ctx, "/app/settings")
	browsertest.Fill(t, ctx, "#number-name", "Sales line")
	browsertest.ClickAndWait(t, ctx, "#connect-whatsapp")
	waitInTab(t, ctx, 10*time.Second, "the QR image", `() => {
		const img = document.querySelector('#qr-image');
		return !!img && img.getAttribute('src').startsWith('data:image/png;base64,') && img.complete && img.naturalWidth > 0;
	}`, `document.querySelector('#qr-panel')?.outerHTML.slice(0, 300)`)
	shot(ctx, "02-qr")
	instanceID, _ := strings.CutPrefix(browsertest.Location(t, ctx).Path, "/app/settings/numbers/")
	session := browserSession(t, ctx, ce.base)
	ce.client.http.Jar.SetCookies(mustParseURL(t, ce.base), []*http.Cookie{session})
	tenantID := ce.client.me().Tenant.ID
	in, err := ce.m.Store.Instance(context.Background(), tenantID, instanceID)
	if err != nil {
		t.Fatalf("instance %q of the browser's tenant: %v", instanceID, err)
	}
	if err := ce.sim.Scan(in.GatewayName, "5511987654321", "Acme Vendas"); err != nil {
		t.Fatal(err)
	}
	waitInTab(t, ctx, 10*time.Second, `"Connected"`,
		`() => document.querySelector('#connected-title')?.innerText.trim() === 'Connected'`,
		`document.querySelector('#qr-panel')?.innerText`)
	shot(ctx, "03-connected")
	wantNoConsoleErrors(t, console)

	// 2. Import 20 leads from a CSV file through the wizard.
	csv, phones := leadsCSV(20)
	csvPath := filepath.Join(t.TempDir(), "leads.csv")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx = journeyTab(t, ce.base, session)
	console = browsertest.WatchConsole(t, ctx)
	browsertest.Navigate(t, ctx, ce.base+"/app/contacts/import")
	doInTab(t, ctx, "choose the CSV file", chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{csvPath}))
	browsertest.ClickAndWait(t, ctx, "#import-next")
	browsertest.WaitText(t, ctx, "#import-total", "20 rows")
	shot(ctx, "04-import-mapping")
	browsertest.ClickAndWait(t, ctx, "#import-run")
	if got := browsertest.Text(t, ctx, "#import-imported"); got != "20" {
		t.Fatalf("import wizard imported %q contacts, want 20", got)
	}
	shot(ctx, "05-import-done")

	// 3. Compose and send a poll; pacing is off, so all 20 go at once.
	browsertest.Navigate(t, ctx, ce.base+"/app/polls/new")
	browsertest.Fill(t, ctx, "#question", "Which day suits you for a demo?")
	doInTab(t, ctx, "type the options", chromedp.SendKeys(chromedp.CSS("#options"), "Monday\nTuesday\nWednesday"))
	browsertest.WaitText(t, ctx, "#cost-credits", "20")
	shot(ctx, "06-composer")
	browsertest.ClickAndWait(t, ctx, "#send-poll")
	pollID, ok := strings.CutPrefix(browsertest.Location(t, ctx).Path, "/app/polls/")
	if !ok || pollID == "" || strings.Contains(pollID, "/") {
		t.Fatalf("Send poll went to %s, want /app/polls/<id>", browsertest.Location(t, ctx))
	}
	ce.waitFor(10*time.Second, "20 messages sent", func() bool { return len(ce.sim.Sent()) == 20 })
	shot(ctx, "07-sent")
	wantNoConsoleErrors(t, console)

	// 4. The leads vote (several options) and reply.
	pollWA := map[string]string{}
	for _, s := range ce.sim.Sent() {
		pollWA[s.Number] = s.ID
	}
	for i, opt := range []string{"Monday", "Monday", "Tuesday", "Wednesday", "Monday"} {
		if _, err := ce.sim.Vote(in.GatewayName, evolutionsim.Vote{From: phones[i], Poll: pollWA[phones[i]], Options: []string{opt}}); err != nil {
			t.Fatal(err)
		}
	}
	replies := map[string]string{phones[10]: "yes please", phones[11]: "STOP", phones[12]: "how much?"}
	for phone, text := range replies {
		if _, err := ce.sim.Reply(in.GatewayName, evolutionsim.Reply{From: phone, Text: text, Quoted: pollWA[phone]}); err != nil {
			t.Fatal(err)
		}
	}
	ce.waitFor(10*time.Second, "5 votes and 3 replies", func() bool {
		c := ce.poll(pollID).Counts
		return c.Voted == 5 && c.Replied == 3
	})

	// 5. Results chart, classified inbox, 380 credits, billing, upgrade.
	ctx = journeyTab(t, ce.base, session)
	console = browsertest.WatchConsole(t, ctx)
	browsertest.Navigate(t, ctx, ce.base+"/app/polls/"+pollID)
	const chartState = `[...document.querySelectorAll('#results-chart .chart-label')].map((l, i) =>
		l.textContent.trim() + ' = ' + document.querySelectorAll('#results-chart .chart-value')[i].textContent.trim()).join(' | ')`
	const wantChart = "Monday = 3 · 60% | Tuesday = 1 · 20% | Wednesday = 1 · 20%"
	waitInTab(t, ctx, 5*time.Second, "the results chart", "(want) => ("+chartState+") === want", chartState, wantChart)
	shot(ctx, "08-results-chart")

	browsertest.Navigate(t, ctx, ce.base+"/app/inbox")
	const inboxState = `[...document.querySelectorAll('#inbox-list .inbox-row')].map(r => r.innerText).join(' | ')`
	waitInTab(t, ctx, 15*time.Second, "three classified replies", `() => {
		const rows = [...document.querySelectorAll('#inbox-list .inbox-row')];
		return rows.length === 3 && rows.every(r => r.querySelector('[data-intent]'));
	}`, inboxState)
	got := evalInTab[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#inbox-list .inbox-row')].map(r =>
		[['yes please', 'STOP', 'how much?'].find(s => r.innerText.includes(s)) ?? r.innerText, r.querySelector('[data-intent]').dataset.intent]))`)
	wantIntents := map[string]string{"yes please": "interested", "STOP": "opt_out", "how much?": "question"}
	if diff := cmp.Diff(wantIntents, got); diff != "" {
		t.Errorf("inbox intents (-want +got):\n%s", diff)
	}
	shot(ctx, "09-inbox")

	browsertest.ClickAndWait(t, ctx, `.nav a[href="/app/billing"]`)
	if got := browsertest.Text(t, ctx, "#credit-balance"); got != "380" {
		t.Errorf("billing page balance = %q, want 380 (400 - 20 sent)", got)
	}
	shot(ctx, "10-billing-380-credits")

	// Upgrade posts the form; the server answers 303 to Stripe Checkout
	// (stripe-mock's session URL). The browser cannot reach Stripe from
	// here, so the redirect is read from the network events.
	checkout := clickForRedirect(t, ctx, `.card[data-plan="growth"] button[type=submit]`, "/app/billing/checkout")
	if checkout.status != http.StatusSeeOther || !strings.HasPrefix(checkout.location, "https://checkout.stripe.com/") {
		t.Errorf("Upgrade to Growth answered %d to %q, want 303 to https://checkout.stripe.com/…", checkout.status, checkout.location)
	}
	t.Logf("Upgrade to Growth → %s", checkout.location)
	// The failed load of checkout.stripe.com (no internet here) is expected.
	wantNoConsoleErrors(t, console, "checkout.stripe.com")
}

// newJourneyEnv is newCampaignEnv plus stripe-mock: the Stripe keys come
// from the environment, and the Stripe API URL, which has no setting (no
// env var or flag points the program at another Stripe), is set on the
// Config as a test can.
func newJourneyEnv(t *testing.T) *campaignEnv {
	t.Helper()
	stripeURL := stripemock.Start(t)
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "sim-key", QRInterval: time.Hour, Seed: 42})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	rs := redistest.StartServer(t)
	env := testEnv{"AIBUD_DATA_DIR": t.TempDir(), "REDIS_URL": rs.URL,
		"EVOLUTION_API_URL": simSrv.URL, "EVOLUTION_API_KEY": "sim-key",
		"AIBUD_SEND_INTERVAL": "off", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off",
		"AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off", "AIBUD_ROLES": "web,worker",
		"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": "whsec_test_journey",
		"AIBUD_STRIPE_PRICE_GROWTH": "price_123"}
	env.setAddr(t)
	cfg, err := LoadConfig(nil, env.getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stripe.APIURL = stripeURL
	m := NewMain(cfg, testLogger(t))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	base := "http://" + m.Addr()
	return &campaignEnv{t: t, env: env, redis: rs, sim: sim, m: m, base: base, stop: func() {}, client: newAPIClient(t, base)}
}

// journeyTab opens a new tab carrying the session cookie.
func journeyTab(t *testing.T, base string, session *http.Cookie) context.Context {
	t.Helper()
	ctx := browsertest.New(t)
	setSessionCookie(t, ctx, base, session)
	return ctx
}

// browserSession returns the aibud_session cookie the tab holds.
func browserSession(t *testing.T, ctx context.Context, base string) *http.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	}))
	if err != nil {
		t.Fatalf("browser: read cookies: %v", err)
	}
	for _, ck := range res.Cookies {
		if ck.Name == "aibud_session" {
			return &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	t.Fatal("the browser holds no aibud_session cookie")
	return nil
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// redirect is a redirect the browser followed: the answer's status and
// where it sent the browser.
type redirect struct {
	status   int
	location string
}

// clickForRedirect clicks sel and returns the redirect the answer to a
// request whose URL contains path made the browser follow.
func clickForRedirect(t *testing.T, ctx context.Context, sel, path string) redirect {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browsertest.StepTimeout)
	defer cancel()
	ev, err := chromedp.Run(sctx, chromedp.WaitEvent(network.RequestWillBeSent, func(e network.EventRequestWillBeSent) bool {
		return e.RedirectResponse != nil && strings.Contains(e.RedirectResponse.URL, path)
	}, chromedp.Click(chromedp.CSS(sel))))
	if err != nil {
		t.Fatalf("browser: click %s and wait for the redirect of %s: %v", sel, path, err)
	}
	return redirect{status: int(ev.RedirectResponse.Status), location: ev.Request.URL}
}

// wantNoConsoleErrors fails the test for each console problem recorded so
// far that contains none of ignore.
func wantNoConsoleErrors(t *testing.T, c *browsertest.Console, ignore ...string) {
	t.Helper()
	for _, e := range c.Errors(ignore...) {
		t.Errorf("browser console: %s", e)
	}
}
