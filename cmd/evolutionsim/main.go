// Command evolutionsim serves a simulated Evolution API v2.3.7 gateway for
// demos and load runs, so Aibud can be driven end to end without a real
// WhatsApp account. The phone side (scanning the QR, replies, votes) is
// played through the control API under /_sim/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "evolutionsim:", err)
		os.Exit(1)
	}
}

// run parses flags, serves until SIGINT or SIGTERM, then shuts down in
// order: HTTP intake first, then the simulator's tickers and deliveries.
func run(args []string) error {
	fs := flag.NewFlagSet("evolutionsim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	key := fs.String("key", evolutionsim.DefaultGlobalKey, "global API key (AUTHENTICATION_API_KEY)")
	serverURL := fs.String("server-url", "", `"server_url" in webhooks (default http://<addr>)`)
	qrInterval := fs.Duration("qr-interval", 45*time.Second, "interval between QR codes while connecting")
	qrLimit := fs.Int("qr-limit", 30, "QR codes per attempt before the connection is refused")
	connectWait := fs.Duration("connect-wait", 0, "how long connect/create wait before answering (real: 2s)")
	emptyFirstQR := fs.Bool("empty-first-qr", false, `answer the first connect of an instance with {"count":0}`)
	statusStep := fs.Duration("status-step", 500*time.Millisecond, "delay between a sent message's status webhooks")
	dup := fs.Float64("dup", 0, "probability [0,1] that a webhook is delivered twice")
	reorder := fs.Bool("reorder", false, "deliver webhooks of an instance out of order")
	seed := fs.Int64("seed", 0, "random seed (0: time-based)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dup < 0 || *dup > 1 {
		return fmt.Errorf("-dup must be between 0 and 1, got %v", *dup)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *serverURL == "" {
		*serverURL = "http://" + ln.Addr().String()
	}
	sim := evolutionsim.New(evolutionsim.Config{
		GlobalKey:    *key,
		QRInterval:   *qrInterval,
		QRLimit:      *qrLimit,
		ConnectWait:  *connectWait,
		EmptyFirstQR: *emptyFirstQR,
		StatusStep:   *statusStep,
		Duplicate:    *dup,
		Reorder:      *reorder,
		ServerURL:    *serverURL,
		Logger:       logger,
		Seed:         *seed,
	})
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("evolutionsim listening", "addr", ln.Addr().String(), "server_url", *serverURL)

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		logger.Info("evolutionsim shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if serveErr == nil {
		serveErr = <-served // Serve returns once Shutdown has closed the listener
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, shutdownErr, sim.Close())
}
