package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// Graceful shutdown, tested on the real binary: `aibud serve` in a
// subprocess gets SIGTERM in the middle of a campaign, must exit 0 within
// 30 s, and a new process on the same data dir and Redis finishes the
// campaign with every recipient getting exactly one message.

// buildAibud compiles this package into a temp dir, once per test.
func buildAibud(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aibud")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer is a process's log, written by os/exec's copier goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// aibudProcess is one running `aibud serve`.
type aibudProcess struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan error
}

func startProcess(t *testing.T, bin string, env testEnv) *aibudProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AIBUD_LOG_LEVEL=info"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &aibudProcess{cmd: cmd, log: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("aibud log (pid %d):\n%s", cmd.Process.Pid, tail(p.log.String(), 60))
		}
	})
	waitUntil(t, 30*time.Second, "aibud ready", func() bool {
		resp, err := http.Get(env["AIBUD_PUBLIC_URL"] + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *aibudProcess) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("aibud exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aibud did not exit within 30 s of SIGTERM")
	}
	return time.Since(start)
}

func waitUntil(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

func TestSIGTERMMidCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildAibud(t)
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "sim-key", QRInterval: time.Hour, Seed: 7})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	env := testEnv{"AIBUD_DATA_DIR": t.TempDir(), "REDIS_URL": redistest.Start(t),
		"EVOLUTION_API_URL": simSrv.URL, "EVOLUTION_API_KEY": "sim-key",
		"AIBUD_SEND_INTERVAL": "200ms", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off",
		"AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off", "AIBUD_ROLES": "web,worker"}
	env.setAddr(t)
	first := startProcess(t, bin, env)

	api := newAPIClient(t, env["AIBUD_PUBLIC_URL"])
	api.signup()
	status, body := api.call("POST", "/api/v1/instances", map[string]string{"name": "Sales"})
	if status != http.StatusCreated {
		t.Fatalf("create instance = %d %s", status, body)
	}
	inst := decode[struct{ ID string }](t, body)
	name := ""
	for _, c := range sim.Calls() {
		if c.Path == "/instance/create" {
			name = c.Instance
		}
	}
	if err := sim.Scan(name, "5511900000001", "Acme"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "number connected", func() bool {
		_, body := api.call("GET", "/api/v1/instances/"+inst.ID, nil)
		return strings.Contains(string(body), `"state":"open"`)
	})
	csv, phones := leadsCSV(30)
	req, _ := http.NewRequest("POST", env["AIBUD_PUBLIC_URL"]+"/api/v1/contacts/import", strings.NewReader(csv))
	req.Header.Set("Content-Type", "text/csv")
	if resp, err := api.http.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("import: %v", err)
	} else {
		resp.Body.Close()
	}
	status, body = api.call("POST", "/api/v1/polls", map[string]any{"question": "Which day suits you?",
		"options": []string{"Monday", "Tuesday"}, "instance_id": inst.ID, "audience": map[string]any{"all": true}})
	if status != http.StatusCreated {
		t.Fatalf("create poll = %d %s", status, body)
	}
	poll := decode[struct{ ID string }](t, body)
	if status, body := api.call("POST", "/api/v1/polls/"+poll.ID+"/send", nil); status != http.StatusAccepted {
		t.Fatalf("send = %d %s", status, body)
	}
	waitUntil(t, 20*time.Second, "8 sent", func() bool { return len(sim.Sent()) >= 8 })
	// Sends now take 800 ms at the gateway; the signal goes while one is
	// in flight (called, not answered), which the shutdown must finish.
	sim.SetLatency(800 * time.Millisecond)
	waitUntil(t, 10*time.Second, "a send in flight", func() bool { return sendPollCalls(sim) > len(sim.Sent()) })
	inFlight := sendPollCalls(sim) - len(sim.Sent())
	took := first.stop(t)
	sentBefore := len(sim.Sent())
	t.Logf("SIGTERM with %d of 30 sent and %d in flight; exited 0 in %v", sentBefore-inFlight, inFlight, took.Round(time.Millisecond))
	if sentBefore >= 30 {
		t.Fatal("the campaign finished before the signal; nothing was tested")
	}
	if calls := sendPollCalls(sim); calls != sentBefore {
		t.Fatalf("after the exit the gateway had %d send calls but %d sent: a send was abandoned mid-call", calls, sentBefore)
	}
	sim.SetLatency(0)
	for _, want := range []string{"shutting down", "queue worker stopped"} {
		if !strings.Contains(first.log.String(), want) {
			t.Errorf("the first process's log lacks %q", want)
		}
	}
	if strings.Contains(first.log.String(), "level=ERROR") {
		t.Errorf("errors while shutting down:\n%s", grepLines(first.log.String(), "level=ERROR"))
	}

	second := startProcess(t, bin, env) // same data dir, same Redis
	api = newAPIClient(t, env["AIBUD_PUBLIC_URL"])
	if status, body := api.call("POST", "/api/v1/login", map[string]string{"email": testAccount["email"], "password": testAccount["password"]}); status != 200 {
		t.Fatalf("login after restart = %d %s", status, body)
	}
	var p apiPoll
	waitUntil(t, 30*time.Second, "campaign done after the restart", func() bool {
		status, body := api.call("GET", "/api/v1/polls/"+poll.ID, nil)
		if status != 200 {
			return false
		}
		p = decode[apiPoll](t, body)
		return p.Counts.Queued == 0
	})
	got := map[string]int{}
	for _, s := range sim.Sent() {
		got[s.Number]++
	}
	for _, ph := range phones {
		if got[ph] != 1 {
			t.Fatalf("%s received %d messages, want exactly 1 (log %v)", ph, got[ph], got)
		}
	}
	sent := len(sim.Sent())
	if p.Counts.Sent != 30 || p.Status != "done" || sent != 30 {
		t.Fatalf("poll %s %+v, simulator log %d; want 30 sent", p.Status, p.Counts, sent)
	}
	status, body = api.call("GET", "/api/v1/credits?limit=200", nil)
	credits := decode[apiCredits](t, body)
	sum := int64(0)
	for _, e := range credits.Ledger {
		sum += e.Delta
	}
	if status != 200 || credits.Balance != int64(400-sent) || sum != credits.Balance {
		t.Fatalf("balance %d, ledger sum %d; want %d (400 − %d sent)", credits.Balance, sum, 400-sent, sent)
	}
	second.stop(t)
}

// sendPollCalls counts the sendPoll requests the gateway has received,
// answered or not.
func sendPollCalls(sim *evolutionsim.Sim) int {
	n := 0
	for _, c := range sim.Calls() {
		if strings.HasPrefix(c.Path, "/message/sendPoll/") {
			n++
		}
	}
	return n
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
