package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prometheus metrics for what an operator watches. Every Server has its own
// registry (never the global default one), so tests and several servers in
// one process do not share counters.

// Metrics counts what the use cases report (sends, gateway events,
// classifications, credits). It implements tenants.Metrics; main makes one,
// hands it to the use cases and to the Server (Deps.Metrics), which
// exposes it on /metrics.
type Metrics struct {
	sends    *prometheus.CounterVec
	events   *prometheus.CounterVec
	classify *prometheus.HistogramVec
	credits  prometheus.Counter
}

var _ tenants.Metrics = (*Metrics)(nil)

// NewMetrics returns the domain counters, not registered anywhere yet.
func NewMetrics() *Metrics {
	return &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aibud_messages_sent_total", Help: "Poll send attempts by outcome (sent, failed, retry, cancelled).",
		}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aibud_webhook_events_total", Help: "Gateway webhook events received, by type.",
		}, []string{"type"}),
		classify: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aibud_classification_duration_seconds", Help: "Time to classify one reply, by the classifier that answered.",
			Buckets: []float64{.005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"classifier"}),
		credits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aibud_credits_spent_total", Help: "Credits consumed by tenants.",
		}),
	}
}

func (m *Metrics) MessageSent(outcome string) { m.sends.WithLabelValues(outcome).Inc() }
func (m *Metrics) EventReceived(kind string)  { m.events.WithLabelValues(kind).Inc() }
func (m *Metrics) Classified(classifier string, d time.Duration) {
	m.classify.WithLabelValues(classifier).Observe(d.Seconds())
}
func (m *Metrics) CreditsSpent(n int64) { m.credits.Add(float64(n)) }

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sends, m.events, m.classify, m.credits}
}

// serverMetrics is a Server's registry and its HTTP instrumentation.
type serverMetrics struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec

	routesOnce sync.Once
	routes     map[string]bool // registered paths, so unmatched URLs share one label
}

// newServerMetrics registers the domain metrics (Deps.Metrics, or fresh
// ones), HTTP latency, queue depth, open tenant DBs and the Go runtime.
func (s *Server) newServerMetrics() *serverMetrics {
	m := &serverMetrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aibud_http_request_duration_seconds", Help: "HTTP request latency by method, route and status class.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "status"})
	domain := s.deps.Metrics
	if domain == nil {
		domain = NewMetrics()
	}
	m.reg.MustRegister(domain.collectors()...)
	m.reg.MustRegister(m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.deps.QueueStats != nil {
		m.reg.MustRegister(&queueCollector{stats: s.deps.QueueStats, log: s.log,
			desc: prometheus.NewDesc("aibud_queue_depth", "Tasks waiting or running, per queue.", []string{"queue"}, nil)})
	}
	if s.deps.OpenTenants != nil {
		open := s.deps.OpenTenants
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aibud_open_tenant_dbs", Help: "Tenant databases open in the pool.",
		}, func() float64 { return float64(open()) }))
	}
	return m
}

// observeHTTP is the middleware that times every request by route. Use it
// before the access log so that its status is the one the client got.
func (s *Server) observeHTTP() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now() // wall time on purpose: latency is physical, not the injected clock
			err := next(c)
			if err != nil && !c.Response().Committed {
				c.Error(err) // write the error answer now, so its status is counted
			}
			status := strconv.Itoa(c.Response().Status/100) + "xx"
			s.metrics.latency.WithLabelValues(c.Request().Method, s.metrics.route(s, c), status).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// route labels a request by its route pattern; URLs that matched no route
// share "unmatched" so that probes cannot grow the series without bound.
func (m *serverMetrics) route(s *Server, c echo.Context) string {
	m.routesOnce.Do(func() {
		m.routes = map[string]bool{}
		for _, r := range s.echo.Routes() {
			if r.Method != echo.RouteNotFound {
				m.routes[r.Path] = true
			}
		}
	})
	if p := c.Path(); m.routes[p] {
		return p
	}
	return "unmatched"
}

func (s *Server) registerMetricsRoutes(e *echo.Echo) {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, // a failing collector must not hide the others
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	})
	e.GET("/metrics", s.handleMetrics(h))
}

// handleMetrics serves the registry, behind Config.MetricsToken (Bearer)
// when one is set.
func (s *Server) handleMetrics(h http.Handler) echo.HandlerFunc {
	var want [32]byte
	if s.cfg.MetricsToken != "" {
		want = sha256.Sum256([]byte(s.cfg.MetricsToken))
	}
	return func(c echo.Context) error {
		if s.cfg.MetricsToken != "" {
			got, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
				return c.String(http.StatusUnauthorized, "metrics token required\n")
			}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// queueCollector asks the queue for its depth when scraped.
type queueCollector struct {
	stats func(ctx context.Context) (map[string]int, error)
	desc  *prometheus.Desc
	log   *slog.Logger
}

// queueStatsTimeout bounds the Redis round trips of one scrape.
const queueStatsTimeout = 5 * time.Second

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueStatsTimeout)
	defer cancel()
	depths, err := q.stats(ctx)
	if err != nil {
		q.log.Warn("queue depth not read", "err", err)
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for name, n := range depths {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), name)
	}
}
