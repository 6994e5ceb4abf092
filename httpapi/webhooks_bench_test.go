package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWebhookIntake posts gateway events (inbound texts and delivery
// statuses, each unique) to one tenant's webhook through the real router
// and store, 64 at a time, and reports events/s and latency percentiles.
// Every answer comes after a durable write.
func BenchmarkWebhookIntake(b *testing.B) {
	env := newBenchEnv(b)
	c, acct := env.signupB(b, "bench@example.com")
	created := env.createInstanceB(b, c)
	in, err := env.store.Instance(b.Context(), acct.TenantID, created)
	if err != nil {
		b.Fatal(err)
	}
	url := env.srv.URL + "/webhooks/evolution/" + in.WebhookToken
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			var body string
			if n%2 == 0 {
				body = fmt.Sprintf(`{"event":"messages.upsert","instance":%q,"data":{"key":{"remoteJid":"55119%08d@s.whatsapp.net","fromMe":false,"id":"3A%018d"},"pushName":"Lead","message":{"conversation":"yes please"},"messageType":"conversation","messageTimestamp":1733400100}}`, in.GatewayName, n%1000, n)
			} else {
				body = fmt.Sprintf(`{"event":"messages.update","instance":%q,"data":{"keyId":"3EB0%018d","remoteJid":"5511988887777@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK"}}`, in.GatewayName, n)
			}
			start := time.Now()
			resp, err := client.Post(url, "application/json", bytes.NewBufferString(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
