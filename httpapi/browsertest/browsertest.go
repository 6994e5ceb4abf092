// Package browsertest drives the dashboard in a real headless Chromium
// through chromedp. A test binary starts one browser, lazily, on the first
// call of New; every call of New opens a new tab in its own browser context,
// so tests share no cookies and may run in parallel.
//
// Call Main from the package's TestMain so that the shared browser is closed
// when the tests end:
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
//
// Without it, New still works but starts one browser per test.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where the CI image and the dev container install Chromium.
const ChromiumPath = "/usr/lib/chromium/chromium"

const (
	// TabTimeout bounds everything one test does in its tab.
	TabTimeout = 30 * time.Second
	// StepTimeout bounds one query or wait, so that a missing element fails
	// the test in seconds with a clear message instead of at TabTimeout.
	StepTimeout = 5 * time.Second
	// startTimeout bounds the start of the browser process.
	startTimeout = 20 * time.Second
	// closeTimeout bounds the graceful close of the browser.
	closeTimeout = 10 * time.Second
)

// Viewport is a screen size the pages are checked at.
type Viewport struct {
	Name          string // used in screenshot file names
	Width, Height int64
	Mobile        bool // emulate a phone: meta viewport and touch apply
}

// The sizes the dashboard is designed for. New starts every tab at Desktop.
var (
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800}
	Phone   = Viewport{Name: "mobile", Width: 390, Height: 844, Mobile: true}
)

// browser is one Chromium process and the contexts that own it.
type browser struct {
	once    sync.Once
	ctx     context.Context // chromedp context of the running browser
	cancel  context.CancelFunc
	release context.CancelFunc // cancels the allocator and waits for its cleanup
	err     error
	missing bool // no Chromium binary: err says where we looked
}

// shared is the browser of this test binary when Main runs the tests.
var (
	shared  browser
	managed atomic.Bool
)

// Main runs the tests and then closes the shared browser. Call it from
// TestMain.
func Main(m *testing.M) {
	managed.Store(true)
	code := m.Run()
	shared.close()
	os.Exit(code)
}

// New returns the context of a new tab in a fresh browser context (its own
// cookies and storage) at the Desktop viewport. The context ends after
// TabTimeout; the tab closes when the test ends.
//
// Without Chromium the test is skipped, except when CI=true: there a missing
// browser fails the test rather than silently testing less.
func New(tb testing.TB) context.Context {
	tb.Helper()
	b := &shared
	if !managed.Load() {
		b = &browser{}
		tb.Cleanup(b.close)
	}
	b.once.Do(b.start)
	if b.missing {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("browsertest: %v (CI=true, so this fails instead of skipping)", b.err)
		}
		tb.Skipf("browsertest: %v; install chromium to run browser tests", b.err)
	}
	if b.err != nil {
		tb.Fatalf("browsertest: %v", b.err)
	}

	tabCtx, closeTab := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	if err := within(tabCtx, closeTab, startTimeout, emulate(Desktop)); err != nil { // opens the tab
		closeTab()
		tb.Fatalf("browsertest: open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, TabTimeout)
	tb.Cleanup(func() {
		cancel()
		closeTab()
	})
	return ctx
}

// start launches Chromium and waits until it answers.
func (b *browser) start() {
	path, err := chromiumPath()
	if err != nil {
		b.err, b.missing = err, true
		return
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // containers and CI run us as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(int(Desktop.Width), int(Desktop.Height)),
		// No UserDataDir: the allocator makes a fresh temp profile per
		// browser and removes it, with any leftover child process, on close.
	)
	allocCtx, release := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)

	if err := within(ctx, cancel, startTimeout); err != nil {
		cancel()
		release()
		b.err = fmt.Errorf("start %s: %w", path, err)
		return
	}
	b.ctx, b.cancel, b.release = ctx, cancel, release
}

// within runs the first steps of a chromedp context, which start its
// browser or open its tab. Their context becomes the owner of what they
// start, so it cannot carry a deadline: d is enforced from outside, by
// canceling ctx.
func within(ctx context.Context, cancel context.CancelFunc, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx, steps...) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cancel()
		<-done
		return fmt.Errorf("no answer from the browser within %s", d)
	}
}

// close shuts the browser down gracefully, then frees the allocator.
func (b *browser) close() {
	if b.ctx == nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, closeTimeout)
	if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "browsertest: closing chromium:", err)
	}
	cancel()
	b.cancel()
	b.release()
	b.ctx = nil
}

// chromiumPath finds the browser: ChromiumPath, else the usual names on PATH.
func chromiumPath() (string, error) {
	if _, err := os.Stat(ChromiumPath); err == nil {
		return ChromiumPath, nil
	}
	names := []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium at %s nor %s on PATH", ChromiumPath, strings.Join(names, ", "))
}

func emulate(v Viewport) chromedp.Action[chromedp.Void] {
	if v.Mobile {
		return chromedp.EmulateViewport(v.Width, v.Height, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(v.Width, v.Height)
}

// do runs steps with StepTimeout and fails the test, saying what it was
// doing, when they fail.
func do(tb testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("browser: %s: %v (page: %s)", what, explain(ctx, err), where(ctx))
	}
}

// run is do for one action with a value.
func run[T any](tb testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	tb.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		tb.Fatalf("browser: %s: %v (page: %s)", what, explain(sctx, err), where(ctx))
	}
	return v
}

// explain turns a step's deadline into words: usually the element never
// appeared.
func explain(stepCtx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(context.Cause(stepCtx), context.DeadlineExceeded) {
		return fmt.Errorf("nothing matched within %s (or the page did not answer): %w", StepTimeout, err)
	}
	return err
}

// where names the tab's current URL for failure messages.
func where(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown"
	}
	return loc
}

// SetViewport resizes the tab's viewport.
func SetViewport(tb testing.TB, ctx context.Context, v Viewport) {
	tb.Helper()
	do(tb, ctx, "set viewport "+v.Name, emulate(v))
}

// Navigate loads url and returns the document's response (after
// redirects). It fails the test when the page cannot load.
func Navigate(tb testing.TB, ctx context.Context, url string) *network.Response {
	tb.Helper()
	return run(tb, ctx, "navigate to "+url, chromedp.NavigateResponse(url))
}

// ClickAndWait clicks the element sel selects (a CSS selector) and waits for
// the page it leads to, returning that document's response. Use it for
// links and form submit buttons.
func ClickAndWait(tb testing.TB, ctx context.Context, sel string) *network.Response {
	tb.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.Fatalf("browser: click %s and wait for the next page: %v (page: %s)", sel, explain(sctx, err), where(ctx))
	}
	return resp
}

// Fill replaces the value of the input sel selects by typing value into it,
// as a user would (key events, input and change events fire).
func Fill(tb testing.TB, ctx context.Context, sel, value string) {
	tb.Helper()
	// Clear fails on an empty <textarea> (no text node), so it runs only
	// when there is something to clear.
	if Value(tb, ctx, sel) != "" {
		do(tb, ctx, "clear "+sel, chromedp.Clear(chromedp.CSS(sel)))
	}
	do(tb, ctx, "fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// Text returns the visible text of the first element sel selects, trimmed.
// It waits up to StepTimeout for the element.
func Text(tb testing.TB, ctx context.Context, sel string) string {
	tb.Helper()
	return strings.TrimSpace(run(tb, ctx, "read text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// Value returns the current value of the form field sel selects.
func Value(tb testing.TB, ctx context.Context, sel string) string {
	tb.Helper()
	return run(tb, ctx, "read value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// WaitText waits until the text of an element sel selects contains want and
// fails the test with the text it saw if that does not happen within
// StepTimeout.
func WaitText(tb testing.TB, ctx context.Context, sel, want string) {
	tb.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.PollFunction[bool](
		`(sel, want) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes(want))`,
		chromedp.WithPollingArgs(sel, want), chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(StepTimeout)))
	if err != nil {
		got, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...document.querySelectorAll(%q)].map(e => e.innerText)`, sel)))
		tb.Fatalf("browser: no %s with text %q (found %q, err %v; page: %s)", sel, want, got, err, where(ctx))
	}
}

// Count returns how many elements sel selects, without waiting.
func Count(tb testing.TB, ctx context.Context, sel string) int {
	tb.Helper()
	return run(tb, ctx, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// Location returns the tab's current URL.
func Location(tb testing.TB, ctx context.Context) *url.URL {
	tb.Helper()
	raw := run(tb, ctx, "read location", chromedp.Location())
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("browser: location %q: %v", raw, err)
	}
	return u
}

// Screenshot writes a full-page PNG of the tab, at its current viewport, to
// dir/name.png, creating dir. It returns the file's path.
func Screenshot(tb testing.TB, ctx context.Context, dir, name string) string {
	tb.Helper()
	png := run(tb, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Screenshots writes dir/name-<viewport>.png for each viewport and leaves
// the tab at Desktop size.
func Screenshots(tb testing.TB, ctx context.Context, dir, name string, vs ...Viewport) {
	tb.Helper()
	for _, v := range vs {
		SetViewport(tb, ctx, v)
		Screenshot(tb, ctx, dir, name+"-"+v.Name)
	}
	SetViewport(tb, ctx, Desktop)
}

// ModuleDir returns the directory of the go.mod above the test's working
// directory, so that tests can write artefacts (screenshots) to a fixed
// place in the repository.
func ModuleDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Console records the console errors, failed loads and uncaught exceptions
// of a tab, such as a Content-Security-Policy violation or a missing
// stylesheet. It stops recording when the tab's context ends.
type Console struct {
	mu     sync.Mutex
	errors []string
	done   chan struct{}
}

// WatchConsole starts recording the tab's console problems until the test
// ends.
func WatchConsole(tb testing.TB, ctx context.Context) *Console {
	tb.Helper()
	ctx, stop := context.WithCancel(ctx)
	c := &Console{done: make(chan struct{})}
	messages := chromedp.Console(ctx) // subscribes now, before later actions
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError ||
				m.Type == chromedp.ConsoleWarning && m.Source == "security" {
				c.mu.Lock()
				c.errors = append(c.errors, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
				c.mu.Unlock()
			}
		}
	}()
	tb.Cleanup(func() {
		stop()
		<-c.done
	})
	return c
}

// Errors returns what has been recorded so far, leaving out the entries
// that contain any of the ignore strings (an expected 4xx, a known bug).
func (c *Console) Errors(ignore ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.errors {
		if !slices.ContainsFunc(ignore, func(s string) bool { return strings.Contains(e, s) }) {
			out = append(out, e)
		}
	}
	return out
}
