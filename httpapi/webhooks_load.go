package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// WebhookLoad posts N Evolution gateway events to one instance's webhook
// URL from Concurrency senders, as a busy gateway would: half inbound texts
// from a thousand leads, half delivery statuses, each event unique. It is
// the load of the webhook intake benchmarks (BenchmarkWebhookIntake and
// `aibud bench webhooks`).
type WebhookLoad struct {
	URL         string // …/webhooks/evolution/<instance token>
	Instance    string // the instance's name at the gateway, as events carry it
	N           int
	Concurrency int
}

// WebhookLoadResult is what a WebhookLoad measured.
type WebhookLoadResult struct {
	PerSec   float64
	P50, P99 time.Duration
}

// Run sends the events and fails on the first answer that is not 200.
func (l WebhookLoad) Run(ctx context.Context) (WebhookLoadResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * l.Concurrency}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	lat := make([][]time.Duration, l.Concurrency)
	errs := make([]error, l.Concurrency)
	var failed atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for w := range l.Concurrency {
		wg.Go(func() {
			for n := seq.Add(1); n <= int64(l.N) && !failed.Load(); n = seq.Add(1) {
				t0 := time.Now()
				if errs[w] = l.post(ctx, client, n); errs[w] != nil {
					failed.Store(true)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return WebhookLoadResult{}, err
		}
	}
	all := slices.Sorted(slices.Values(slices.Concat(lat...)))
	if len(all) == 0 {
		return WebhookLoadResult{}, fmt.Errorf("webhook load: no events sent")
	}
	return WebhookLoadResult{PerSec: float64(len(all)) / elapsed.Seconds(),
		P50: all[len(all)/2], P99: all[len(all)*99/100]}, nil
}

// post sends event n: an inbound text when n is even, a status otherwise.
func (l WebhookLoad) post(ctx context.Context, client *http.Client, n int64) error {
	var body string
	if n%2 == 0 {
		body = fmt.Sprintf(`{"event":"messages.upsert","instance":%q,"data":{"key":{"remoteJid":"55119%08d@s.whatsapp.net","fromMe":false,"id":"3A%018d"},"pushName":"Lead","message":{"conversation":"yes please"},"messageType":"conversation","messageTimestamp":1733400100}}`, l.Instance, n%1000, n)
	} else {
		body = fmt.Sprintf(`{"event":"messages.update","instance":%q,"data":{"keyId":"3EB0%018d","remoteJid":"5511988887777@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK"}}`, l.Instance, n)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook event %d: status %d", n, resp.StatusCode)
	}
	return nil
}
