package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/queue/redisserver"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// benchCampaign sends one poll to n recipients end to end through the
// Evolution simulator with pacing off, then times a no-op Asynq task on the
// same Redis for the ratio.
func benchCampaign(ctx context.Context, e *benchEnv) (string, error) {
	n := e.flags.Int("n", 10_000, "recipients")
	timeout := e.flags.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := e.parse(); err != nil {
		return "", err
	}
	if *n < 1 {
		return "", errors.New("-n must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	dir, err := e.tempDir()
	if err != nil {
		return "", err
	}
	redisURL, redisKind, stopRedis, err := benchRedis(ctx, e.getenv("REDIS_URL"), dir, e.logger)
	if err != nil {
		return "", err
	}
	defer stopRedis()
	res, err := CampaignBench{N: *n, Dir: dir, RedisURL: redisURL, Logger: e.logger, AppLogger: e.appLogger}.Run(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s recipients end to end %s msgs/s (dispatch %.2f s, pacing off), no-op Asynq task %s/s, ratio %.2f, %s",
		count(float64(*n)), count(res.MsgsPerSec), res.Dispatch.Seconds(), count(res.Noop.Processed),
		res.MsgsPerSec/res.Noop.Processed, redisKind), nil
}

// benchRedis finds the Redis of a benchmark: REDIS_URL when given, else a
// redis-server of its own on a loopback port, else the in-process miniredis
// (which it says, as serve does). stop releases what it started.
func benchRedis(ctx context.Context, url, dir string, logger *slog.Logger) (_, kind string, stop func(), err error) {
	if url != "" {
		return url, "REDIS_URL", func() {}, nil
	}
	srv, err := redisserver.Start(dir)
	if err == nil {
		logger.Info("started redis-server", "url", srv.URL)
		return srv.URL, "redis-server on loopback", srv.Kill, nil
	} else if !errors.Is(err, redisserver.ErrNotInstalled) {
		return "", "", nil, err
	}
	logger.Warn("redis-server not installed: measuring on the in-process miniredis, which is slower than a real Redis")
	r, err := queue.Connect(ctx, queue.RedisConfig{}, logger)
	if err != nil {
		return "", "", nil, err
	}
	return "redis://" + r.Addr(), "in-process miniredis", func() { r.Close() }, nil
}

// CampaignBench is the campaign scenario: aibud (web and worker roles) on a
// free loopback port with its data in Dir and its queue on RedisURL, the
// Evolution simulator as its gateway, one tenant with one connected number
// and N contacts, one poll to all of them.
type CampaignBench struct {
	N        int
	Dir      string
	RedisURL string
	Logger   *slog.Logger // progress
	// AppLogger is aibud's own logger (and the no-op worker's): warnings
	// and errors only, as the program logs every start and stop at Info.
	AppLogger *slog.Logger
}

// CampaignResult is what CampaignBench measured.
type CampaignResult struct {
	MsgsPerSec float64       // from the send request to the simulator's N-th message
	Dispatch   time.Duration // the send request itself (reserve, schedule, enqueue)
	Noop       queue.NoopRates
}

// Run runs the scenario, then the no-op baseline on the same Redis once
// aibud has stopped (its worker would take the no-op tasks).
func (c CampaignBench) Run(ctx context.Context) (CampaignResult, error) {
	var res CampaignResult
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "bench-key", QRInterval: time.Hour, Seed: 42})
	defer sim.Close()
	simURL, stopSim, err := serveLoopback(sim.Handler())
	if err != nil {
		return res, err
	}
	defer stopSim()
	m, err := c.startAibud(ctx, simURL)
	if err != nil {
		return res, err
	}
	res.MsgsPerSec, res.Dispatch, err = c.send(ctx, m, sim)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	r, err := queue.Connect(ctx, queue.RedisConfig{URL: c.RedisURL}, c.AppLogger)
	if err != nil {
		return res, err
	}
	defer r.Close()
	c.Logger.Info("no-op Asynq baseline", "tasks", c.N)
	res.Noop, err = queue.NoopRate(ctx, r, c.N, c.AppLogger)
	return res, err
}

// startAibud runs the program with pacing, caps and quiet hours off.
func (c CampaignBench) startAibud(ctx context.Context, simURL string) (*Main, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	env := map[string]string{"AIBUD_DATA_DIR": c.Dir + "/data", "REDIS_URL": c.RedisURL,
		"AIBUD_ADDR": addr, "AIBUD_PUBLIC_URL": "http://" + addr,
		"EVOLUTION_API_URL": simURL, "EVOLUTION_API_KEY": "bench-key",
		"AIBUD_SEND_INTERVAL": "off", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off",
		"AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off", "AIBUD_ROLES": "web,worker"}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	m := NewMain(cfg, c.AppLogger)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// send connects a number, imports the contacts, sends the poll and waits
// until the simulator has accepted every message.
func (c CampaignBench) send(ctx context.Context, m *Main, sim *evolutionsim.Sim) (float64, time.Duration, error) {
	api, err := newBenchClient("http://" + m.Addr())
	if err != nil {
		return 0, 0, err
	}
	var acct struct {
		TenantID string `json:"tenant_id"`
	}
	var inst struct{ ID string }
	steps := []error{
		api.signup(ctx, &acct),
		api.json(ctx, "POST", "/api/v1/instances", map[string]string{"name": "Bench"}, http.StatusCreated, &inst),
	}
	if err := errors.Join(steps...); err != nil {
		return 0, 0, err
	}
	if err := c.connect(ctx, m, api, sim, acct.TenantID, inst.ID); err != nil {
		return 0, 0, err
	}
	if _, err := m.Store.Grant(ctx, acct.TenantID, int64(c.N), "benchmark", ""); err != nil {
		return 0, 0, err
	}
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range c.N {
		fmt.Fprintf(&csv, "+55119%08d,Lead %d\n", 71000000+i, i)
	}
	if err := api.do(ctx, "POST", "/api/v1/contacts/import", "text/csv", strings.NewReader(csv.String()), http.StatusOK, nil); err != nil {
		return 0, 0, err
	}
	var poll struct{ ID string }
	if err := api.json(ctx, "POST", "/api/v1/polls", map[string]any{
		"question": "Which day suits you?", "options": []string{"Monday", "Tuesday", "Wednesday"},
		"instance_id": inst.ID, "audience": map[string]any{"all": true},
	}, http.StatusCreated, &poll); err != nil {
		return 0, 0, err
	}
	c.Logger.Info("sending", "recipients", c.N)
	start := time.Now()
	if err := api.json(ctx, "POST", "/api/v1/polls/"+poll.ID+"/send", nil, http.StatusAccepted, nil); err != nil {
		return 0, 0, err
	}
	dispatch := time.Since(start)
	err = pollUntil(ctx, "every message sent", func() bool { return len(sim.Sent()) >= c.N })
	return float64(c.N) / time.Since(start).Seconds(), dispatch, err
}

// connect has the simulator scan the number's QR code and waits until aibud
// sees it open.
func (c CampaignBench) connect(ctx context.Context, m *Main, api *benchClient, sim *evolutionsim.Sim, tenantID, instanceID string) error {
	in, err := m.Store.Instance(ctx, tenantID, instanceID)
	if err != nil {
		return err
	}
	if err := sim.Scan(in.GatewayName, "5511900000001", "Bench"); err != nil {
		return err
	}
	return pollUntil(ctx, "number connected", func() bool {
		var got struct{ State string }
		return api.json(ctx, "GET", "/api/v1/instances/"+instanceID, nil, http.StatusOK, &got) == nil && got.State == "open"
	})
}

// pollUntil polls ready every 25 ms until it is true or ctx ends.
func pollUntil(ctx context.Context, what string, ready func() bool) error {
	for !ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil
}

// serveLoopback serves h on a free 127.0.0.1 port until stop.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l) // ends with Close
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}

// freeLoopbackAddr picks a free 127.0.0.1 port for a server to listen on
// and name in its public URL.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
