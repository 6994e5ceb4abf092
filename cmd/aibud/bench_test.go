package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchCommands runs each `aibud bench` benchmark at a tiny size and
// checks that it prints one summary line with non-zero figures and the
// machine. Timing targets live in BENCHMARKS.md, not here.
func TestBenchCommands(t *testing.T) {
	bin := buildAibud(t) // the webhooks benchmark runs `aibud serve` as a child process
	cases := []struct {
		args []string
		want *regexp.Regexp // each group is a figure that must be > 0
	}{
		{[]string{"credits", "-n", "300", "-callers", "8", "-tenants", "20"},
			regexp.MustCompile(`^bench credits: one tenant ([\d,]+) reservations/s \(8 callers\), 20 tenants ([\d,]+)/s`)},
		{[]string{"campaign", "-n", "30", "-timeout", "60s"},
			regexp.MustCompile(`^bench campaign: 30 recipients end to end ([\d,]+) msgs/s .*no-op Asynq task ([\d,]+)/s, ratio ([\d.]+)`)},
		{[]string{"webhooks", "-n", "200", "-concurrency", "8", "-aibud", bin},
			regexp.MustCompile(`^bench webhooks: ([\d,]+) events/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms \(200 events, 8 senders in another process than aibud serve pid (\d+), [a-zA-Z -]*(?:Redis|redis-server|miniredis)[a-zA-Z -]*\)`)},
		{[]string{"tenants", "-tenants", "40", "-max-open-tenants", "8", "-touches", "200", "-probes", "10", "-idle", "0"},
			regexp.MustCompile(`^bench tenants: 40 tenants, LRU 8: RSS ([\d,]+) MiB .*, (\d+) open DBs, reopen p99 ([\d.]+) ms`)},
	}
	for _, tc := range cases {
		t.Run(tc.args[0], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"bench"}, tc.args...), testEnv{}.getenv, &stdout, &stderr)
			if err != nil {
				t.Fatalf("aibud bench %v: %v\n%s", tc.args, err, stderr.String())
			}
			line := stdout.String()
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, " cores ") {
				t.Fatalf("want one summary line naming the machine, got %q", line)
			}
			m := tc.want.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("summary %q does not match %s", line, tc.want)
			}
			for _, fig := range m[1:] {
				if v, err := strconv.ParseFloat(strings.ReplaceAll(fig, ",", ""), 64); err != nil || v <= 0 {
					t.Errorf("figure %q in %q is not positive", fig, line)
				}
			}
		})
	}
}

func TestBenchUnknown(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bench", "nope"}, testEnv{}.getenv, &stdout, &stderr); err == nil {
		t.Fatal("unknown benchmark accepted")
	}
	if !strings.Contains(stderr.String(), "credits") {
		t.Fatalf("no usage on stderr: %q", stderr.String())
	}
}
