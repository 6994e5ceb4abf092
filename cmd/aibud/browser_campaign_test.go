package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/httpapi/browsertest"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// Browser tests of the WhatsApp connection and of a poll campaign, against
// the real program wired to the Evolution simulator. Each leaves a
// screenshot of every step, at desktop and phone sizes, in
// testdata/screenshots/{connect,campaign}.

// TestBrowserConnectWhatsApp: sign up, Settings → Connect WhatsApp → the QR
// image shows → the simulator plays the phone's scan → the same page, never
// reloaded, says "Connected" with the number and profile name. It logs how
// long the QR and "Connected" took (issue 3's targets: 1 s and 2 s).
func TestBrowserConnectWhatsApp(t *testing.T) {
	ce := newCampaignEnv(t, nil)
	shot := screenshotter(t, "connect")
	ctx := browsertest.New(t)
	console := browsertest.WatchConsole(t, ctx)
	snap := func(name string) { shot(ctx, name) }

	browsertest.Navigate(t, ctx, ce.base+"/signup")
	browsertest.Fill(t, ctx, "#email", testAccount["email"])
	browsertest.Fill(t, ctx, "#password", testAccount["password"])
	browsertest.Fill(t, ctx, "#company", testAccount["company"])
	browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]")
	wantPath(t, ctx, "/app")

	browsertest.ClickAndWait(t, ctx, `.nav a[href="/app/settings"]`)
	wantPath(t, ctx, "/app/settings")
	if got := browsertest.Text(t, ctx, "#numbers .empty"); !strings.Contains(got, "No WhatsApp number yet.") {
		t.Errorf("settings without a number says %q", got)
	}
	snap("01-settings-empty")

	browsertest.Fill(t, ctx, "#number-name", "Sales line")
	clicked := time.Now()
	if resp := browsertest.ClickAndWait(t, ctx, "#connect-whatsapp"); resp.Status != http.StatusOK {
		t.Fatalf("Connect WhatsApp landed with %d", resp.Status)
	}
	waitInTab(t, ctx, 10*time.Second, "the QR image", `() => {
		const img = document.querySelector('#qr-image');
		return !!img && img.getAttribute('src').startsWith('data:image/png;base64,') &&
			img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0;
	}`, `document.querySelector('#qr-panel')?.outerHTML.slice(0, 300)`)
	qrShown := time.Since(clicked)

	u := browsertest.Location(t, ctx)
	instanceID, ok := strings.CutPrefix(u.Path, "/app/settings/numbers/")
	if !ok || instanceID == "" || strings.Contains(instanceID, "/") {
		t.Fatalf("Connect WhatsApp went to %s, want /app/settings/numbers/<id>", u)
	}
	if got := browsertest.Text(t, ctx, ".page-head .muted"); got != "Sales line" {
		t.Errorf("connect page names the number %q, want Sales line", got)
	}
	snap("02-qr")

	// The browser's own session says which tenant it is.
	tenantID := meOfBrowser(t, ctx, ce.base).Tenant.ID
	in, err := ce.m.Store.Instance(context.Background(), tenantID, instanceID)
	if err != nil {
		t.Fatalf("instance %s of tenant %s: %v", instanceID, tenantID, err)
	}
	markPage(t, ctx)
	const number, profile = "5511987654321", "Acme Vendas"
	scanned := time.Now()
	if err := ce.sim.Scan(in.GatewayName, number, profile); err != nil {
		t.Fatal(err)
	}
	waitInTab(t, ctx, 10*time.Second, `"Connected"`,
		`() => document.querySelector('#connected-title')?.innerText.trim() === 'Connected'`,
		`document.querySelector('#qr-panel')?.innerText`)
	connected := time.Since(scanned)
	wantSamePage(t, ctx)
	t.Logf("QR visible %v after the click (target ≤ 1s); \"Connected\" %v after the scan (target ≤ 2s)",
		qrShown.Round(time.Millisecond), connected.Round(time.Millisecond))

	got := map[string]string{
		"number":  digitsOnly(browsertest.Text(t, ctx, "#connected-number")),
		"profile": browsertest.Text(t, ctx, "#connected-profile"),
		"qr":      fmt.Sprint(browsertest.Count(t, ctx, "#qr-image")),
	}
	want := map[string]string{"number": number, "profile": profile, "qr": "0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("connected panel (-want +got):\n%s", diff)
	}
	snap("03-connected")

	browsertest.ClickAndWait(t, ctx, "#qr-panel a.btn-primary")
	wantPath(t, ctx, "/app/settings")
	row := fmt.Sprintf(`#numbers tr[data-instance=%q]`, instanceID)
	got = map[string]string{
		"state":  browsertest.Text(t, ctx, row+" .chip"),
		"number": digitsOnly(browsertest.Text(t, ctx, row+" .mono")),
		"limit":  browsertest.Text(t, ctx, "#limit-note"),
		"forms":  fmt.Sprint(browsertest.Count(t, ctx, "#connect-whatsapp")),
	}
	want = map[string]string{
		"state": "Connected", "number": number, "forms": "0",
		"limit": "Your plan allows 1 WhatsApp number. Remove one to connect another.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings after connecting (-want +got):\n%s", diff)
	}
	browsertest.WaitText(t, ctx, row, profile)
	snap("04-settings-connected")

	for _, e := range console.Errors() {
		t.Errorf("browser console: %s", e)
	}
}

// TestBrowserPollCampaign: import leads through the wizard, compose a poll
// and see its cost, send it, watch progress reach 100% without reloading,
// then see the results chart after the simulator's leads vote and reply,
// the votes in the recipients table and the credits spent.
func TestBrowserPollCampaign(t *testing.T) {
	// A short interval so that the page is seen while sending.
	ce := newCampaignEnv(t, map[string]string{"AIBUD_SEND_INTERVAL": "100ms"})
	tenantID, instanceID := ce.connect()
	csv, phones := leadsCSV(20)
	csvPath := filepath.Join(t.TempDir(), "leads.csv")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ce.m.Store.Instance(context.Background(), tenantID, instanceID)
	if err != nil {
		t.Fatal(err)
	}

	// Leads, through the import wizard, in a tab of their own: a tab has
	// browsertest.TabTimeout for everything it does.
	shot := screenshotter(t, "campaign")
	importCtx := browsertest.New(t)
	importConsole := browsertest.WatchConsole(t, importCtx)
	setSessionCookie(t, importCtx, ce.base, ce.client.sessionCookie())
	if resp := browsertest.Navigate(t, importCtx, ce.base+"/app/contacts/import"); resp.Status != http.StatusOK {
		t.Fatalf("GET /app/contacts/import = %d", resp.Status)
	}
	doInTab(t, importCtx, "choose the CSV file", chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{csvPath}))
	browsertest.ClickAndWait(t, importCtx, "#import-next")
	browsertest.WaitText(t, importCtx, "#import-total", "20 rows")
	shot(importCtx, "01-import-columns")
	browsertest.ClickAndWait(t, importCtx, "#import-run")
	if got := browsertest.Text(t, importCtx, "#import-imported"); got != "20" {
		t.Fatalf("import wizard imported %q contacts, want 20", got)
	}
	shot(importCtx, "02-import-done")
	for _, e := range importConsole.Errors() {
		t.Errorf("browser console (import): %s", e)
	}

	ctx := browsertest.New(t)
	console := browsertest.WatchConsole(t, ctx)
	setSessionCookie(t, ctx, ce.base, ce.client.sessionCookie())
	snap := func(name string) { shot(ctx, name) }
	browsertest.Navigate(t, ctx, ce.base+"/app/polls")
	wantPath(t, ctx, "/app/polls")
	snap("03-polls-empty")
	if resp := browsertest.ClickAndWait(t, ctx, "#new-poll"); resp.Status != http.StatusOK {
		t.Fatalf("New poll page = %d", resp.Status)
	}
	wantPath(t, ctx, "/app/polls/new")
	browsertest.Fill(t, ctx, "#question", "Which day suits you for a demo?")
	// browsertest.Fill cannot clear an empty textarea; this one starts empty.
	doInTab(t, ctx, "type the options", chromedp.SendKeys(chromedp.CSS("#options"), "Monday\nTuesday\nWednesday"))
	browsertest.WaitText(t, ctx, "#cost-credits", "20")
	got := map[string]string{
		"credits":    browsertest.Text(t, ctx, "#cost-credits"),
		"recipients": browsertest.Text(t, ctx, "#cost-recipients"),
	}
	if diff := cmp.Diff(map[string]string{"credits": "20", "recipients": "20"}, got); diff != "" {
		t.Errorf("live cost (-want +got):\n%s", diff)
	}
	snap("04-composer-cost")

	if resp := browsertest.ClickAndWait(t, ctx, "#send-poll"); resp.Status != http.StatusOK {
		t.Fatalf("Send poll landed with %d", resp.Status)
	}
	u := browsertest.Location(t, ctx)
	pollID, ok := strings.CutPrefix(u.Path, "/app/polls/")
	if !ok || pollID == "" || strings.Contains(pollID, "/") {
		t.Fatalf("Send poll went to %s, want /app/polls/<id>", u)
	}
	markPage(t, ctx)
	first := evalInTab[string](t, ctx, `document.querySelector('#progress').getAttribute('value')`)
	snap("05-sending")
	took := waitInTab(t, ctx, 15*time.Second, "progress 100% and 20 sent", `() =>
		document.querySelector('#progress')?.getAttribute('value') === '100' &&
		document.querySelector('#count-sent')?.innerText.trim() === '20'`,
		`[document.querySelector('#progress')?.getAttribute('value'), document.querySelector('#count-sent')?.innerText]`)
	wantSamePage(t, ctx)
	t.Logf("progress was %s%% on landing, 100%% %v later", first, took.Round(time.Millisecond))
	if got := browsertest.Text(t, ctx, "#progress-label"); got != "100% sent" {
		t.Errorf("progress label = %q, want 100%% sent", got)
	}
	snap("06-sent")

	// The leads answer: three options chosen, one vote changed, one reply.
	pollWA := map[string]string{}
	for _, s := range ce.sim.Sent() {
		pollWA[s.Number] = s.ID
	}
	vote := func(phone string, opts ...string) {
		t.Helper()
		if _, err := ce.sim.Vote(in.GatewayName, evolutionsim.Vote{From: phone, Poll: pollWA[phone], Options: opts}); err != nil {
			t.Fatal(err)
		}
	}
	vote(phones[1], "Tuesday")
	vote(phones[0], "Monday")
	vote(phones[2], "Monday")
	vote(phones[3], "Wednesday")
	vote(phones[4], "Monday")
	if _, err := ce.sim.Reply(in.GatewayName, evolutionsim.Reply{From: phones[5], Text: "who is this?", Quoted: pollWA[phones[5]]}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // votes carry second-resolution timestamps
	vote(phones[1], "Wednesday")
	voted := time.Now()

	const chartState = `[...document.querySelectorAll('#results-chart .chart-label')].map((l, i) =>
		l.textContent.trim() + ' = ' + document.querySelectorAll('#results-chart .chart-value')[i].textContent.trim()).join(' | ') +
		' ; voted ' + document.querySelector('#count-voted')?.innerText + ' ; replied ' + document.querySelector('#count-replied')?.innerText`
	const wantChart = "Monday = 3 · 60% | Tuesday = 0 · 0% | Wednesday = 2 · 40% ; voted 5 ; replied 1"
	// Once nothing is queued the live region refreshes every 15 s
	// (campaign.html), so the chart can take that long to appear.
	waitInTab(t, ctx, 20*time.Second, "the results chart", "(want) => ("+chartState+") === want", chartState, wantChart)
	t.Logf("results chart right %v after the last vote", time.Since(voted).Round(time.Millisecond))
	wantSamePage(t, ctx)
	snap("07-results")

	// The recipients table is not live: a reload shows the votes.
	browsertest.Navigate(t, ctx, ce.base+"/app/polls/"+pollID)
	rows := evalInTab[map[string][]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#recipients tbody tr')].map(tr =>
		[tr.cells[0].innerText.trim(), [...tr.cells].slice(1, 4).map(c => c.innerText.trim())]))`)
	wantRows := map[string][]string{
		"+" + phones[0]: {"Read", "Monday", "—"},
		"+" + phones[1]: {"Read", "Wednesday", "—"},
		"+" + phones[3]: {"Read", "Wednesday", "—"},
		"+" + phones[5]: {"Read", "—", "who is this?"},
		"+" + phones[6]: {"Read", "—", "—"},
	}
	if len(rows) != 20 {
		t.Errorf("recipients table has %d rows, want 20", len(rows))
	}
	for phone, want := range wantRows {
		if diff := cmp.Diff(want, rows[phone]); diff != "" {
			t.Errorf("recipient %s: status, vote, reply (-want +got):\n%s", phone, diff)
		}
	}
	snap("08-recipients")

	browsertest.ClickAndWait(t, ctx, `.nav a[href="/app/billing"]`)
	if got := browsertest.Text(t, ctx, "#credit-balance"); got != "380" {
		t.Errorf("credits page balance = %q, want 380 (400 - 20 sent)", got)
	}
	snap("09-credits")

	for _, e := range console.Errors() {
		t.Errorf("browser console: %s", e)
	}
}

// screenshotter returns a func that saves a tab at desktop and phone sizes
// into testdata/screenshots/dir.
func screenshotter(t *testing.T, dir string) func(ctx context.Context, name string) {
	shots := filepath.Join(browsertest.ModuleDir(t), "testdata", "screenshots", dir)
	t.Logf("screenshots: %s", shots)
	return func(ctx context.Context, name string) {
		t.Helper()
		browsertest.Screenshots(t, ctx, shots, name, browsertest.Desktop, browsertest.Phone)
	}
}

// waitInTab polls predicate (a JavaScript function) in the tab every 10 ms
// until it returns true, and returns how long that took. After d it fails
// the test with what and the value of the JavaScript expression state.
func waitInTab(t *testing.T, ctx context.Context, d time.Duration, what, predicate, state string, args ...any) time.Duration {
	t.Helper()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.PollFunction[bool](predicate,
		chromedp.WithPollingArgs(args...), chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		seen, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[any](state))
		t.Fatalf("browser: waited %v for %s: %v (saw %v)", d, what, err, seen)
	}
	return time.Since(start)
}

// evalInTab evaluates a JavaScript expression in the tab.
func evalInTab[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browsertest.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %.80s: %v", expr, err)
	}
	return v
}

// doInTab runs chromedp steps within browsertest.StepTimeout.
func doInTab(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browsertest.StepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// markPage leaves a mark on the tab's window that a reload would erase.
func markPage(t *testing.T, ctx context.Context) {
	t.Helper()
	evalInTab[bool](t, ctx, `window.aibudSamePage = true`)
}

// wantSamePage fails the test if the page was reloaded since markPage.
func wantSamePage(t *testing.T, ctx context.Context) {
	t.Helper()
	if !evalInTab[bool](t, ctx, `window.aibudSamePage === true`) {
		t.Fatal("the page was reloaded; it should have updated itself")
	}
}

// setSessionCookie gives the tab the session of an API client.
func setSessionCookie(t *testing.T, ctx context.Context, base string, ck *http.Cookie) {
	t.Helper()
	if ck == nil {
		t.Fatal("the API client has no session cookie")
	}
	httpOnly := true
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: ck.Name, Value: ck.Value, URL: base + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax})
		return err
	}))
	if err != nil {
		t.Fatalf("browser: set the session cookie: %v", err)
	}
}

// meOfBrowser calls /api/v1/me with the tab's session cookie.
func meOfBrowser(t *testing.T, ctx context.Context, base string) apiMe {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	}))
	if err != nil {
		t.Fatalf("browser: read cookies: %v", err)
	}
	c := newAPIClient(t, base)
	for _, ck := range res.Cookies {
		if ck.Name == "aibud_session" {
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			c.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
			return c.me()
		}
	}
	t.Fatal("the browser holds no aibud_session cookie")
	return apiMe{}
}

var nonDigits = regexp.MustCompile(`\D`)

func digitsOnly(s string) string { return nonDigits.ReplaceAllString(s, "") }
