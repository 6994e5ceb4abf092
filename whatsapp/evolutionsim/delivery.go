package evolutionsim

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// webhookJob is one encoded webhook waiting to be posted.
type webhookJob struct {
	event   string // payload name, for the delivery log
	url     string
	headers map[string]string
	body    []byte
	gen     uint64 // Reset generation; jobs of an older generation are dropped
}

// deliveryQueue keeps one instance's webhooks in order. A drain goroutine
// runs only while the queue has work, so idle instances cost nothing.
type deliveryQueue struct {
	pending []webhookJob
	running bool
}

// dispatcher posts webhooks with Evolution's retry policy. By default each
// instance's webhooks go out strictly in order, one at a time, a retrying
// webhook holding back the ones behind it; Config.Reorder and
// Config.Duplicate switch on the disorder and duplicates real receivers see.
// Its goroutines share the Sim's WaitGroup and context.
type dispatcher struct {
	ctx       context.Context
	wg        *sync.WaitGroup
	transport *http.Transport
	client    *http.Client
	policy    RetryPolicy
	duplicate float64
	reorder   bool
	rnd       *lockedRand
	now       func() time.Time
	log       *slog.Logger

	mu         sync.Mutex
	closed     bool
	gen        uint64
	queues     map[string]*deliveryQueue
	deliveries []Delivery
}

func newDispatcher(ctx context.Context, wg *sync.WaitGroup, cfg Config, rnd *lockedRand) *dispatcher {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &dispatcher{
		ctx:       ctx,
		wg:        wg,
		transport: transport,
		client:    &http.Client{Transport: transport, Timeout: cfg.WebhookRetry.Timeout},
		policy:    cfg.WebhookRetry,
		duplicate: cfg.Duplicate,
		reorder:   cfg.Reorder,
		rnd:       rnd,
		now:       cfg.Now,
		log:       cfg.Logger,
		queues:    map[string]*deliveryQueue{},
	}
}

// enqueue schedules job for the instance's webhook, twice with probability
// Config.Duplicate. Nothing is scheduled once the dispatcher is closed.
func (d *dispatcher) enqueue(instanceName string, job webhookJob) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	job.gen = d.gen
	copies := 1
	if d.duplicate > 0 && d.rnd.float() < d.duplicate {
		copies = 2
	}
	for range copies {
		if d.reorder {
			delay := time.Duration(d.rnd.intN(25)) * time.Millisecond
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				if sleepCtx(d.ctx, delay) {
					d.deliver(job)
				}
			}()
			continue
		}
		q := d.queues[instanceName]
		if q == nil {
			q = &deliveryQueue{}
			d.queues[instanceName] = q
		}
		q.pending = append(q.pending, job)
		if !q.running {
			q.running = true
			d.wg.Add(1)
			go d.drain(q)
		}
	}
}

// drain delivers a queue's jobs in order and exits when it is empty or the
// Sim is closing.
func (d *dispatcher) drain(q *deliveryQueue) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(q.pending) == 0 || d.ctx.Err() != nil {
			q.pending = nil
			q.running = false
			d.mu.Unlock()
			return
		}
		job := q.pending[0]
		q.pending = q.pending[1:]
		d.mu.Unlock()
		d.deliver(job)
	}
}

// deliver posts one job, retrying per the policy: any 2xx is success, a
// non-retryable status ends it, everything else (other statuses, timeouts,
// refused connections) waits Initial·2ⁿ (capped at Max, ±20%) and retries
// until MaxAttempts.
func (d *dispatcher) deliver(job webhookJob) {
	for attempt := 1; ; attempt++ {
		if !d.current(job) {
			return
		}
		status, err := d.post(job)
		d.record(job, attempt, status, err)
		if err == nil && status >= 200 && status < 300 {
			return
		}
		if err == nil && slices.Contains(d.policy.NonRetryable, status) {
			d.log.Warn("evolutionsim: webhook refused, not retrying", "event", job.event, "url", job.url, "status", status)
			return
		}
		if attempt >= d.policy.MaxAttempts {
			d.log.Warn("evolutionsim: webhook given up", "event", job.event, "url", job.url, "attempts", attempt)
			return
		}
		if !sleepCtx(d.ctx, d.backoff(attempt)) {
			return
		}
	}
}

// current reports whether job should still be attempted: not after Close
// and not after a Reset that happened since it was queued.
func (d *dispatcher) current(job webhookJob) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.closed && job.gen == d.gen
}

func (d *dispatcher) post(job webhookJob) (int, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, job.url, bytes.NewReader(job.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range job.headers {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drained so the connection is reused
	return resp.StatusCode, nil
}

// backoff is the wait after the given failed attempt.
func (d *dispatcher) backoff(attempt int) time.Duration {
	wait := d.policy.Initial
	for i := 1; i < attempt && wait < d.policy.Max; i++ {
		wait *= 2
	}
	wait = min(wait, d.policy.Max)
	jitter := 0.8 + 0.4*d.rnd.float()
	return time.Duration(float64(wait) * jitter)
}

func (d *dispatcher) record(job webhookJob, attempt, status int, err error) {
	entry := Delivery{Event: job.event, URL: job.url, Attempt: attempt, Status: status, At: d.now()}
	if err != nil {
		entry.Error = err.Error()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if job.gen == d.gen {
		d.deliveries = append(d.deliveries, entry)
	}
}

// snapshot copies the delivery log.
func (d *dispatcher) snapshot() []Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.deliveries)
}

// reset drops every pending job and the delivery log. Jobs in flight finish
// their current attempt and then stop, as their generation is stale.
func (d *dispatcher) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	for _, q := range d.queues {
		q.pending = nil
	}
	d.deliveries = nil
}

// close stops new work; the Sim cancels the context and waits.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}

// closeIdle closes kept-alive connections, whose reader goroutines would
// otherwise outlive the Sim.
func (d *dispatcher) closeIdle() { d.transport.CloseIdleConnections() }
