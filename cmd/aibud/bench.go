package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// benchUsage lists the benchmarks; each has its own -h.
const benchUsage = `Usage: aibud bench <benchmark> [flags]

Each benchmark prints one summary line on stdout (the figure and the machine);
progress goes to stderr. The defaults are the full runs behind BENCHMARKS.md.

Benchmarks:
  credits    durable single-credit reservations/s, one tenant and across 1,000 tenants
  webhooks   Evolution webhook events/s and p50/p99 against a running aibud, from this process
  campaign   a 10,000-recipient poll end to end through the Evolution simulator, pacing off,
             and a no-op Asynq task on the same Redis for the ratio
  tenants    10,000 tenants in one store: RSS, open DBs, p99 reopen
`

// benchCommand runs `aibud bench <benchmark>`.
func benchCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	run := map[string]func(context.Context, *benchEnv) (string, error){
		"credits": benchCredits, "webhooks": benchWebhooks, "campaign": benchCampaign, "tenants": benchTenants,
	}[args[0]]
	if args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(stdout, benchUsage)
		return nil
	}
	if run == nil {
		fmt.Fprint(stderr, benchUsage)
		return fmt.Errorf("unknown benchmark %q", args[0])
	}
	env := &benchEnv{
		name: args[0], args: args[1:], getenv: getenv, stderr: stderr,
		flags:     flag.NewFlagSet("aibud bench "+args[0], flag.ContinueOnError),
		logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		appLogger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	env.flags.SetOutput(stderr)
	defer env.cleanup()
	summary, err := run(ctx, env)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return fmt.Errorf("bench %s: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "bench %s: %s · %s\n", args[0], summary, machine())
	return nil
}

// benchEnv is what every benchmark is given: its flags (declared by the
// benchmark, then parsed), the environment and where progress goes.
type benchEnv struct {
	name   string
	args   []string
	flags  *flag.FlagSet
	getenv func(string) string
	stderr io.Writer
	logger *slog.Logger // the benchmark's progress
	// appLogger is for the parts of aibud a benchmark runs: warnings and
	// errors only, as they log every start and stop at Info.
	appLogger *slog.Logger
	cleanups  []func()
}

// parse parses the benchmark's flags once it has declared them.
func (e *benchEnv) parse() error { return e.flags.Parse(e.args) }

// tempDir makes a directory for one run, removed when the benchmark ends.
func (e *benchEnv) tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "aibud-bench-"+e.name+"-")
	if err != nil {
		return "", err
	}
	e.cleanups = append(e.cleanups, func() {
		if err := os.RemoveAll(dir); err != nil {
			e.logger.Warn("remove temp dir", "dir", dir, "err", err)
		}
	})
	return dir, nil
}

// cleanup undoes what the benchmark set up, last first.
func (e *benchEnv) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// machine describes where the figures were measured: CPU model, cores,
// memory, Go version and platform.
func machine() string {
	mem := "? GiB"
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.ParseUint(strings.TrimSuffix(kb, " kB"), 10, 64); err == nil {
			mem = fmt.Sprintf("%d GiB", (n+1<<19)>>20)
		}
	}
	cpu := procField("/proc/cpuinfo", "model name")
	for _, noise := range []string{"(R)", "(TM)", "(tm)", " CPU"} {
		cpu = strings.ReplaceAll(cpu, noise, "")
	}
	if cpu = strings.Join(strings.Fields(cpu), " "); cpu == "" {
		cpu = runtime.GOARCH
	}
	return fmt.Sprintf("%d cores %s, %s, %s, %s/%s", runtime.NumCPU(), cpu, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// procField returns the value of the first "name: value" line of a /proc
// file, or "" where there is none (not Linux).
func procField(path, name string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// count formats a figure with thousands separators, as the summary lines
// and BENCHMARKS.md write them: 52,310.
func count(v float64) string {
	return message.NewPrinter(language.English).Sprintf("%d", int64(v+0.5))
}

// mib formats bytes in MiB.
func mib(b uint64) string { return count(float64(b)/(1<<20)) + " MiB" }
