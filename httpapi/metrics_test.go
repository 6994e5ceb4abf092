package httpapi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
)

// withMetrics gives the server domain metrics, a fake queue and the real
// pool's count of open tenant DBs.
func withMetrics(m *Metrics, queueErr *atomic.Bool) envOption {
	return func(c *Config, d *Deps) {
		d.Metrics = m
		d.QueueStats = func(ctx context.Context) (map[string]int, error) {
			if queueErr.Load() {
				return nil, errors.New("redis: connection refused")
			}
			return map[string]int{"critical": 2, "default": 7, "low": 0}, nil
		}
		d.OpenTenants = d.Credits.(*store.Store).Pool.OpenCount
	}
}

func withMetricsToken(token string) envOption {
	return func(c *Config, d *Deps) { c.MetricsToken = token }
}

func (e *testEnv) scrape(t *testing.T, headers ...string) result {
	t.Helper()
	return e.do(t, e.client(), "GET", "/metrics", "", headers...)
}

func TestMetricsExposeNamedSeries(t *testing.T) {
	m := NewMetrics()
	var queueDown atomic.Bool
	env := newTestEnv(t, withMetrics(m, &queueDown))
	c, _ := env.signup(t, "a@example.com")
	env.do(t, c, "GET", "/api/v1/me", "")
	env.do(t, c, "GET", "/api/v1/polls/01JCM6A2B3C4D5E6F7G8H9J0K1", "")
	env.do(t, c, "GET", "/no/such/page/123", "")
	env.do(t, c, "GET", "/no/such/page/456", "")
	// What the use cases report during a small campaign.
	m.MessageSent("sent")
	m.MessageSent("sent")
	m.MessageSent("failed")
	m.EventReceived("poll_vote")
	m.Classified("rules", 30*time.Millisecond)
	m.CreditsSpent(2)

	r := env.scrape(t)
	if r.status != 200 {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	for _, want := range []string{
		`aibud_http_request_duration_seconds_count{method="POST",route="/api/v1/signup",status="2xx"} 1`,
		`aibud_http_request_duration_seconds_count{method="GET",route="/api/v1/me",status="2xx"} 1`,
		`aibud_http_request_duration_seconds_count{method="GET",route="/api/v1/polls/:id",status="4xx"} 1`,
		`aibud_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"} 2`,
		`aibud_messages_sent_total{outcome="sent"} 2`,
		`aibud_messages_sent_total{outcome="failed"} 1`,
		`aibud_webhook_events_total{type="poll_vote"} 1`,
		`aibud_classification_duration_seconds_count{classifier="rules"} 1`,
		`aibud_credits_spent_total 2`,
		`aibud_queue_depth{queue="default"} 7`,
		`aibud_queue_depth{queue="critical"} 2`,
		`aibud_open_tenant_dbs 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(r.body, "/no/such/page") {
		t.Error("an unmatched URL became a label")
	}

	// A queue that cannot be read leaves the other series served.
	queueDown.Store(true)
	r = env.scrape(t)
	if r.status != 200 || strings.Contains(r.body, "aibud_queue_depth{") || !strings.Contains(r.body, "aibud_credits_spent_total 2") {
		t.Fatalf("with the queue down: %d, queue series present: %v", r.status, strings.Contains(r.body, "aibud_queue_depth{"))
	}
}

func TestMetricsRegistryPerServer(t *testing.T) {
	one, two := newTestEnv(t), newTestEnv(t)
	one.signup(t, "a@example.com")
	if r := two.scrape(t); strings.Contains(r.body, `route="/api/v1/signup"`) {
		t.Fatal("a request to one server shows in the other's metrics")
	}
	if r := one.scrape(t); !strings.Contains(r.body, `route="/api/v1/signup"`) {
		t.Fatal("the server's own request is missing")
	}
}

func TestMetricsToken(t *testing.T) {
	env := newTestEnv(t, withMetricsToken("s3cret-metrics-token"), withAPIKeys(100, 100))
	c, _ := env.signup(t, "a@example.com")
	key := env.createKey(t, c, "CRM")
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"token without Bearer", "s3cret-metrics-token", 401},
		{"a tenant API key", "Bearer " + key.Key, 401},
		{"right token", "Bearer s3cret-metrics-token", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.auth != "" {
				h = []string{"Authorization", tt.auth}
			}
			r := env.scrape(t, h...)
			if r.status != tt.status {
				t.Fatalf("/metrics with %q = %d; want %d", tt.auth, r.status, tt.status)
			}
			if tt.status == 401 && (strings.Contains(r.body, "aibud_") || r.header.Get("WWW-Authenticate") == "") {
				t.Fatalf("refused scrape leaked metrics or lacks WWW-Authenticate: %s", r.body)
			}
		})
	}
	// A session does not open /metrics either.
	if r := env.do(t, c, "GET", "/metrics", ""); r.status != 401 {
		t.Fatalf("session scrape = %d; want 401", r.status)
	}
}
