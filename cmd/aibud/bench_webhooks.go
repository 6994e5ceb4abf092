package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aibud/aibud/httpapi"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// benchWebhooks posts Evolution webhook events to a running aibud from this
// process: by default an `aibud serve` it starts (a child process on a free
// loopback port, its data in a temp dir, Redis as the campaign bench finds it)
// with this process's Evolution simulator as its gateway, which is how it
// learns the number's secret webhook URL.
func benchWebhooks(ctx context.Context, e *benchEnv) (string, error) {
	n := e.flags.Int("n", 20_000, "events")
	concurrency := e.flags.Int("concurrency", 64, "concurrent senders")
	base := e.flags.String("url", "", "base URL of an aibud already running (with -token); default: start one")
	token := e.flags.String("token", "", "with -url: a number's webhook token (the last segment of its webhook URL)")
	instance := e.flags.String("instance", "bench", "with -url: the number's instance name at the gateway")
	self, _ := os.Executable()
	bin := e.flags.String("aibud", self, "the aibud binary to start")
	if err := e.parse(); err != nil {
		return "", err
	}
	if *n < 1 || *concurrency < 1 {
		return "", errors.New("-n and -concurrency must be positive")
	}
	if (*base == "") != (*token == "") {
		return "", errors.New("-url and -token go together")
	}
	load := httpapi.WebhookLoad{URL: strings.TrimSuffix(*base, "/") + "/webhooks/evolution/" + *token,
		Instance: *instance, N: *n, Concurrency: *concurrency}
	target := "aibud at " + *base
	if *base == "" {
		pid, redisKind, err := e.startWebhookTarget(ctx, *bin, &load)
		if err != nil {
			return "", err
		}
		target = fmt.Sprintf("aibud serve pid %d, %s", pid, redisKind)
	}
	e.logger.Info("posting webhook events", "events", *n, "concurrency", *concurrency, "target", target)
	res, err := load.Run(ctx)
	if err != nil {
		return "", err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("%s events/s, p50 %.1f ms, p99 %.1f ms (%s events, %d senders in another process than %s)",
		count(res.PerSec), ms(res.P50), ms(res.P99), count(float64(*n)), *concurrency, target), nil
}

// startWebhookTarget starts `aibud serve` with the simulator as its
// gateway, adds a number through the API and points load at the number's
// webhook URL. The child is stopped with SIGTERM when the benchmark ends.
func (e *benchEnv) startWebhookTarget(ctx context.Context, bin string, load *httpapi.WebhookLoad) (pid int, redisKind string, err error) {
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "bench-key", QRInterval: time.Hour, Seed: 7})
	e.cleanups = append(e.cleanups, func() { sim.Close() })
	simURL, stopSim, err := serveLoopback(sim.Handler())
	if err != nil {
		return 0, "", err
	}
	e.cleanups = append(e.cleanups, stopSim)
	dir, err := e.tempDir()
	if err != nil {
		return 0, "", err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return 0, "", err
	}
	// The same Redis as the campaign bench: a real one unless none is
	// installed (serve's embedded miniredis costs the server CPU).
	redisURL, redisKind, stopRedis, err := benchRedis(ctx, e.getenv("REDIS_URL"), dir, e.logger)
	if err != nil {
		return 0, "", err
	}
	e.cleanups = append(e.cleanups, stopRedis) // cleanups run last first: after the child has stopped
	var exited <-chan struct{}
	pid, exited, err = e.startChild(bin, dir, "AIBUD_DATA_DIR="+filepath.Join(dir, "data"),
		"AIBUD_ADDR="+addr, "AIBUD_PUBLIC_URL=http://"+addr, "AIBUD_LOG_LEVEL=warn", "REDIS_URL="+redisURL,
		"EVOLUTION_API_URL="+simURL, "EVOLUTION_API_KEY=bench-key")
	if err != nil {
		return 0, "", err
	}
	api, err := newBenchClient("http://" + addr)
	if err != nil {
		return 0, "", err
	}
	died := false
	err = pollUntil(ctx, "aibud ready", func() bool {
		select {
		case <-exited:
			died = true
			return true
		default:
			return api.do(ctx, "GET", "/readyz", "", nil, http.StatusOK, nil) == nil
		}
	})
	if died {
		return 0, "", fmt.Errorf("aibud serve exited at start-up; its log ends:\n%s", logTail(filepath.Join(dir, "aibud.log"), 20))
	} else if err != nil {
		return 0, "", err
	}
	if err := errors.Join(api.signup(ctx, nil),
		api.json(ctx, "POST", "/api/v1/instances", map[string]string{"name": "Bench"}, http.StatusCreated, nil)); err != nil {
		return 0, "", err
	}
	for _, call := range sim.Calls() {
		if info, ok := sim.Instance(call.Instance); ok && call.Path == "/instance/create" && info.Webhook != nil {
			load.URL, load.Instance = info.Webhook.URL, info.Name
			return pid, redisKind, nil
		}
	}
	return 0, "", errors.New("aibud created no instance with a webhook at the simulator")
}

// startChild starts bin serve with this environment plus env, logging to
// aibud.log in dir. Stopping it, by its pid with SIGTERM, is a cleanup;
// exited is closed once it has gone.
func (e *benchEnv) startChild(bin, dir string, env ...string) (pid int, exited <-chan struct{}, err error) {
	logPath := filepath.Join(dir, "aibud.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...) // later values win
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return 0, nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	e.logger.Info("started aibud serve", "pid", cmd.Process.Pid, "log", logPath)
	e.cleanups = append(e.cleanups, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // only the process started here
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.logger.Warn("aibud serve did not stop within 30 s of SIGTERM: killing it", "pid", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-done
		}
		if !cmd.ProcessState.Success() {
			e.logger.Warn("aibud serve exited badly", "pid", cmd.Process.Pid, "state", cmd.ProcessState.String(),
				"log", logTail(logPath, 20))
		}
	})
	return cmd.Process.Pid, done, nil
}

// logTail returns the last lines of a log file.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}
