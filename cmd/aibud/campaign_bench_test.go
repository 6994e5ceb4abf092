package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/aibud/aibud/queue/redistest"
)

// BenchmarkCampaign10k sends one poll to 10,000 recipients end to end —
// dispatch, queue, worker, the Evolution simulator over HTTP, its status
// webhooks back into the tenant DB — with pacing off, and in the same run
// measures a no-op Asynq task on the same Redis for the ratio. It runs
// CampaignBench, as `aibud bench campaign` does.
//
//	go test -run '^$' -bench Campaign10k -benchtime 1x ./cmd/aibud/
func BenchmarkCampaign10k(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("AIBUD_BENCH_N")); err == nil && v > 0 {
		n = v // a shorter run, e.g. for profiling
	}
	for range b.N {
		res, err := CampaignBench{N: n, Dir: b.TempDir(), RedisURL: redistest.Start(b),
			Logger: testLogger(b), AppLogger: testLogger(b)}.Run(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.MsgsPerSec, "msgs/s")
		b.ReportMetric(res.Dispatch.Seconds()*1000, "dispatch-ms")
		b.ReportMetric(res.Noop.Processed, "noop-tasks/s")
		b.ReportMetric(res.MsgsPerSec/res.Noop.Processed, "ratio")
	}
}
