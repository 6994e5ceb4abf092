// Package stripemock runs stripe-mock (github.com/stripe/stripe-mock, pinned
// to v0.183.0, which speaks Stripe API 2023-10-16 like stripe-go v76) for
// tests.
package stripemock

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the stripe-mock release the tests are written against.
const Version = "v0.183.0"

const installHint = "go install github.com/stripe/stripe-mock@" + Version

// Start runs stripe-mock on free loopback ports (plain HTTP and HTTPS both
// set, so it never falls back to its default port 12111) and returns the
// HTTP base URL. The process is killed when the test ends. Without the
// binary the test is skipped, or fails under CI=true.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("stripe-mock not found (%v); install it with: %s", err, installHint)
		}
		tb.Skipf("stripe-mock not found (%v); install it with: %s", err, installHint)
	}
	var lastErr error
	for range 3 { // a freed port can be taken before stripe-mock binds it
		url, err := start(tb, bin)
		if err == nil {
			return url
		}
		lastErr = err
	}
	tb.Fatalf("stripe-mock did not start: %v", lastErr)
	return ""
}

// binary finds stripe-mock on PATH or in $(go env GOPATH)/bin.
func binary() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "bin", "stripe-mock")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("not on PATH nor at %s", p)
	}
	return p, nil
}

func start(tb testing.TB, bin string) (string, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return "", err
	}
	httpsAddr, err := freeAddr()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{}) // closed when the process is gone
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill() // by PID: only the process started here
		<-exited
	}
	url := "http://" + httpAddr
	if err := waitReady(url, exited); err != nil {
		stop()
		return "", fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	tb.Cleanup(stop)
	return url, nil
}

// waitReady polls until stripe-mock answers an authenticated request.
func waitReady(url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("stripe-mock exited")
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_stripemock")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("stripe-mock did not answer at %s within 20s", url)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
