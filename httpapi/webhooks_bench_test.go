package httpapi

import (
	"testing"
	"time"
)

// BenchmarkWebhookIntake posts gateway events (inbound texts and delivery
// statuses, each unique) to one tenant's webhook through the real router
// and store, 64 at a time, and reports events/s and latency percentiles.
// Every answer comes after a durable write. The senders share this
// process; `aibud bench webhooks` sends the same load from another one.
func BenchmarkWebhookIntake(b *testing.B) {
	env := newBenchEnv(b)
	c, acct := env.signupB(b, "bench@example.com")
	created := env.createInstanceB(b, c)
	in, err := env.store.Instance(b.Context(), acct.TenantID, created)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := WebhookLoad{URL: env.srv.URL + "/webhooks/evolution/" + in.WebhookToken,
		Instance: in.GatewayName, N: b.N, Concurrency: 64}.Run(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(res.PerSec, "events/s")
	b.ReportMetric(ms(res.P50), "p50-ms")
	b.ReportMetric(ms(res.P99), "p99-ms")
}
