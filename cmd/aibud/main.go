// Command aibud runs the Aibud service and its tools.
//
//	aibud serve        run the web server, the queue worker and the scheduler
//	aibud shard        add, list and drain WhatsApp gateway servers
//	aibud classify     classify replies given as JSON lines on stdin
//	aibud eval         accuracy of the offline classifier on the evaluation set
//	aibud bench        the benchmarks behind BENCHMARKS.md, one summary line each
//	aibud version      print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "aibud:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "shard":
		return shardCommand(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "tenant":
		return tenantCommand(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args[1:], getenv, stdout, stderr)
	case "classify":
		return classifyCommand(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "eval":
		return evalCommand(args[1:], stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "aibud", version)
		return nil
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: aibud <command> [flags]

Commands:
  serve      run Aibud (web, worker and cron roles; see aibud serve -h)
  shard      manage WhatsApp gateway servers: add, list, drain, undrain
  admin      create a platform admin: aibud admin create --email E (password on stdin)
  tenant     export, import and list tenants (aibud tenant -h)
  backup     back up every database, or rebuild one (aibud backup -h)
  classify   read JSON lines {"text","question","options"} on stdin, write one classification per line
  eval       print the offline classifier's accuracy on the evaluation set
  bench      measure credits, webhooks, campaign or tenants; one summary line (aibud bench -h)
  version    print the version
`)
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flagHelp) {
		return nil
	} else if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := serveMemoryLimit(cfg.MaxOpenTenants)
		debug.SetMemoryLimit(limit)
		logger.Debug("memory limit set", "bytes", limit)
	}
	m := NewMain(cfg, logger)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	logger.Info("aibud is running", "url", cfg.PublicURL, "addr", m.Addr(), "roles", cfg.Roles, "version", version)
	<-ctx.Done()
	logger.Info("shutting down")
	return m.Close()
}

// serveMemoryLimit is the soft memory limit serve sets unless GOMEMLIMIT is
// set. Open tenant DBs pin ~1.5 MiB of memtable each, which the GC counts as
// live: without a soft limit, reopen churn lets RSS run past 1 GiB
// (measured: 1,034 MiB at 10,000 tenants; 770 MiB with a limit).
func serveMemoryLimit(maxOpenTenants int) int64 {
	return int64(maxOpenTenants)*3<<20 + 128<<20
}
