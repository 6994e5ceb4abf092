package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// Chaos: failures injected on purpose while a campaign is going out, on the
// real binary, a real redis-server and the Evolution simulator. After each,
// every recipient has exactly one poll in the simulator's log (a duplicate
// fails the test as surely as a missing one), the balance is the starting
// 400 credits minus the messages sent, the ledger sums to the balance, and
// the server is still up with no panic in its log.
//
// `make test` runs the short form; `make chaos` (AIBUD_CHAOS=full) runs
// bigger campaigns, the gateway down for 30 s and a 30,000-event storm.

// chaosScale sizes a chaos run.
type chaosScale struct {
	leads       int
	interval    string        // AIBUD_SEND_INTERVAL: spreads the campaign so failures land mid-way
	confirm     string        // AIBUD_SEND_CONFIRM_WINDOW
	breaker     string        // AIBUD_BREAKER_PAUSE
	hookRetry   time.Duration // the simulator's first webhook retry (Evolution: 5 s)
	gatewayDown time.Duration
	stormEvents int
	settle      time.Duration // how long a campaign may take to finish after the failure
}

func chaosScaleFromEnv() chaosScale {
	if os.Getenv("AIBUD_CHAOS") == "full" {
		return chaosScale{leads: 350, interval: "40ms", confirm: "30s", breaker: "1m", hookRetry: 5 * time.Second,
			gatewayDown: 30 * time.Second, stormEvents: 30_000, settle: 6 * time.Minute}
	}
	return chaosScale{leads: 90, interval: "40ms", confirm: "5s", breaker: "5s", hookRetry: time.Second,
		gatewayDown: 4 * time.Second, stormEvents: 3_000, settle: 3 * time.Minute}
}

// gatewayServer serves the simulator on a fixed loopback address that can
// go down and come back: the simulator keeps its state (numbers, log,
// pending webhooks), as a gateway behind a network outage does.
type gatewayServer struct {
	sim  *evolutionsim.Sim
	addr string
	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed when the current Serve returns
}

func startGateway(t *testing.T, cfg evolutionsim.Config) *gatewayServer {
	t.Helper()
	g := &gatewayServer{sim: evolutionsim.New(cfg)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	g.serve(ln)
	t.Cleanup(func() { g.down(); g.sim.Close() })
	return g
}

func (g *gatewayServer) url() string { return "http://" + g.addr }

func (g *gatewayServer) serve(ln net.Listener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.srv, g.done = &http.Server{Handler: g.sim.Handler()}, make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln) // returns when down closes it
	}(g.srv, g.done)
}

// down closes the listener and every open connection: sends in flight get
// a reset, new ones a refused connection.
func (g *gatewayServer) down() {
	g.mu.Lock()
	srv, done := g.srv, g.done
	g.srv = nil
	g.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		<-done
	}
}

// up listens on the same address again.
func (g *gatewayServer) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port is ours, but the kernel may hold it a moment
		if ln, err = net.Listen("tcp", g.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("gateway up again on %s: %v", g.addr, err)
	}
	g.serve(ln)
}

// chaosRun is one tenant's campaign on a running aibud process.
type chaosRun struct {
	t       *testing.T
	bin     string
	scale   chaosScale
	gw      *gatewayServer
	redis   *redistest.Server
	env     testEnv
	proc    *aibudProcess
	client  *apiClient
	gwName  string // the number's instance name on the gateway
	webhook string // the number's webhook URL
	phones  []string
	pollID  string
}

func newChaosRun(t *testing.T, bin string, scale chaosScale) *chaosRun {
	t.Helper()
	gw := startGateway(t, evolutionsim.Config{GlobalKey: "sim-key", QRInterval: time.Hour, Seed: 11, AnswerDelay: 200 * time.Millisecond,
		WebhookRetry: evolutionsim.RetryPolicy{Initial: scale.hookRetry, Max: 4 * scale.hookRetry, MaxAttempts: 20}})
	rs := redistest.StartServer(t)
	env := testEnv{"AIBUD_DATA_DIR": t.TempDir(), "REDIS_URL": rs.URL,
		"EVOLUTION_API_URL": gw.url(), "EVOLUTION_API_KEY": "sim-key",
		"AIBUD_SEND_INTERVAL": scale.interval, "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off",
		"AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off", "AIBUD_ROLES": "web,worker,cron",
		"AIBUD_SEND_CONFIRM_WINDOW": scale.confirm, "AIBUD_BREAKER_PAUSE": scale.breaker, "AIBUD_RECONCILE_EVERY": "2s"}
	env.setAddr(t)
	r := &chaosRun{t: t, bin: bin, scale: scale, gw: gw, redis: rs, env: env}
	r.proc = startProcess(t, bin, env)
	r.client = newAPIClient(t, env["AIBUD_PUBLIC_URL"])
	r.client.signup()
	status, body := r.client.call("POST", "/api/v1/instances", map[string]string{"name": "Sales"})
	if status != http.StatusCreated {
		t.Fatalf("create instance = %d %s", status, body)
	}
	instanceID := decode[struct{ ID string }](t, body).ID
	r.gwName = createdInstance(t, gw.sim)
	if err := gw.sim.Scan(r.gwName, "5511900000001", "Acme"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "number connected", func() bool {
		_, body := r.client.call("GET", "/api/v1/instances/"+instanceID, nil)
		return strings.Contains(string(body), `"state":"open"`)
	})
	info, _ := gw.sim.Instance(r.gwName)
	r.webhook = info.Webhook.URL
	var csv string
	csv, r.phones = leadsCSV(scale.leads)
	r.client.importCSV(csv)
	r.pollID, _ = r.client.createAndSend(instanceID)
	return r
}

// createdInstance is the gateway name of the one instance aibud created.
func createdInstance(t *testing.T, sim *evolutionsim.Sim) string {
	t.Helper()
	for _, c := range sim.Calls() {
		if c.Method == "POST" && c.Path == "/instance/create" {
			var body struct{ InstanceName string }
			if err := json.Unmarshal(c.Body, &body); err != nil {
				t.Fatal(err)
			}
			return body.InstanceName
		}
	}
	t.Fatal("aibud created no instance on the gateway")
	return ""
}

// pollsSent counts the polls the gateway sent from this number, per lead.
func (r *chaosRun) pollsSent() map[string]int {
	out := map[string]int{}
	for _, m := range r.gw.sim.Sent() {
		if m.Instance == r.gwName && m.Type == "poll" {
			out[m.Number]++
		}
	}
	return out
}

func (r *chaosRun) waitSent(n int) {
	r.t.Helper()
	waitUntil(r.t, 60*time.Second, fmt.Sprintf("%d polls sent", n), func() bool {
		total := 0
		for _, c := range r.pollsSent() {
			total += c
		}
		return total >= n
	})
}

// kill ends the server with SIGKILL, as a crash or the OOM killer would.
func (r *chaosRun) kill() {
	r.t.Helper()
	if err := r.proc.cmd.Process.Kill(); err != nil { // the process this test started
		r.t.Fatal(err)
	}
	<-r.proc.exited
}

// verify waits for the campaign to finish and checks the promises.
func (r *chaosRun) verify() {
	r.t.Helper()
	t := r.t
	deadline := time.Now().Add(r.scale.settle)
	var p apiPoll
	for {
		p = r.client.poll(r.pollID)
		if p.Status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not done after %v: %+v", r.scale.settle, p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sent := r.pollsSent()
	var missing, doubled []string
	for _, phone := range r.phones {
		switch n := sent[phone]; {
		case n == 0:
			missing = append(missing, phone)
		case n > 1:
			doubled = append(doubled, fmt.Sprintf("%s×%d", phone, n))
		}
	}
	if len(missing) > 0 || len(doubled) > 0 || len(sent) != len(r.phones) {
		t.Errorf("gateway log: %d recipients, %d numbers got polls; missing %v; more than one poll %v",
			len(r.phones), len(sent), missing, doubled)
	}
	if got := p.Counts.Failed + p.Counts.Cancelled; got != 0 {
		t.Errorf("counts %+v: want every message sent", p.Counts)
	}
	bal, sum := r.client.balance()
	if want := int64(400 - len(r.phones)); bal != want || sum != bal {
		t.Errorf("balance %d, ledger sums to %d; want both %d (400 − %d sent)", bal, sum, want, len(r.phones))
	}
	select {
	case err := <-r.proc.exited:
		t.Errorf("aibud exited: %v", err)
	default:
	}
	for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
		if strings.Contains(r.proc.log.String(), bad) {
			t.Errorf("aibud log has %q", bad)
		}
	}
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	scale := chaosScaleFromEnv()
	bin := buildAibud(t)

	// Each failure strikes a third of the way into the campaign.
	failures := []struct {
		name   string
		inject func(t *testing.T, r *chaosRun)
	}{
		{"SIGKILL mid-campaign", func(t *testing.T, r *chaosRun) {
			r.kill()
			r.proc = startProcess(t, bin, r.env) // same data dir, Redis and address
			// Tasks the killed worker held come back when Asynq's recoverer
			// sees their lease expired (about a minute), hence the settle time.
		}},
		{"Redis killed and restarted empty", func(t *testing.T, r *chaosRun) {
			r.redis.Kill()
			time.Sleep(time.Second)
			r.redis.Restart() // no persistence: every queued task is gone
		}},
		{"gateway down", func(t *testing.T, r *chaosRun) {
			r.gw.down()
			time.Sleep(scale.gatewayDown)
			r.gw.up(t)
		}},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			r := newChaosRun(t, bin, scale)
			r.waitSent(scale.leads / 3)
			f.inject(t, r)
			r.verify()
		})
	}

	t.Run("webhook storm with malformed payloads", func(t *testing.T) {
		r := newChaosRun(t, bin, scale)
		storm := r.storm(scale.stormEvents, 16)
		r.verify()
		t.Logf("storm: %d events (%d malformed) in %v, %.0f/s", storm.events, storm.malformed, storm.took.Round(time.Millisecond),
			float64(storm.events)/storm.took.Seconds())
	})
}

type stormResult struct {
	events, malformed int
	took              time.Duration
}

// storm posts n webhooks to the number's URL from workers goroutines while
// its campaign goes out: inbound texts and receipts for unknown messages,
// and one in ten malformed. Malformed ones must get 400, the rest 200.
func (r *chaosRun) storm(n, workers int) stormResult {
	r.t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var next, malformed atomic.Int64
	var wrong atomic.Int64
	var firstWrong atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				body, bad := stormEvent(r.gwName, i)
				want := http.StatusOK
				if bad {
					malformed.Add(1)
					want = http.StatusBadRequest
				}
				resp, err := client.Post(r.webhook, "application/json", bytes.NewReader(body))
				if err != nil {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, fmt.Sprintf("event %d: status %d, want %d", i, resp.StatusCode, want))
				}
			}
		})
	}
	wg.Wait()
	if w := wrong.Load(); w > 0 {
		r.t.Errorf("storm: %d of %d webhooks answered wrongly; first: %v", w, n, firstWrong.Load())
	}
	return stormResult{events: n, malformed: int(malformed.Load()), took: time.Since(start)}
}

// stormEvent is the i-th storm webhook: every tenth is malformed (cut-off
// JSON, a wrong type, no data), the rest are replies from strangers and
// receipts for messages the tenant never sent.
func stormEvent(instance string, i int64) (body []byte, malformed bool) {
	switch {
	case i%30 == 0:
		return []byte(`{"event":"messages.upsert","instance":"` + instance + `","data":{"key":{"remoteJid":`), true
	case i%30 == 10:
		return []byte(`{"event":"messages.update","instance":"` + instance + `","data":"not an object"}`), true
	case i%30 == 20:
		return []byte(`[1,2,3]`), true
	case i%2 == 0:
		return fmt.Appendf(nil, `{"event":"messages.upsert","instance":%q,"data":{"key":{"remoteJid":"55219%08d@s.whatsapp.net","fromMe":false,"id":"3AST%016d"},"pushName":"Stranger","message":{"conversation":"who is this?"},"messageType":"conversation","messageTimestamp":%d}}`,
			instance, i%5000, i, time.Now().Unix()), false
	default:
		return fmt.Appendf(nil, `{"event":"messages.update","instance":%q,"data":{"keyId":"3EB0%018d","remoteJid":"5521988887777@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK"}}`,
			instance, i), false
	}
}
