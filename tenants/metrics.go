package tenants

import "time"

// Metrics is what the use cases report for operators to watch: sends,
// gateway events, classification and credits. httpapi implements it with
// Prometheus; the domain only knows these four calls.
type Metrics interface {
	// MessageSent counts one send attempt by outcome: OutcomeSent,
	// OutcomeFailed, OutcomeRetry or OutcomeCancelled.
	MessageSent(outcome string)
	// EventReceived counts one gateway webhook event by kind (EventKind).
	EventReceived(kind string)
	// Classified records how long one classification took and which
	// classifier answered (Classification.Classifier).
	Classified(classifier string, d time.Duration)
	// CreditsSpent counts credits consumed.
	CreditsSpent(n int64)
}

// Send outcomes for Metrics.MessageSent.
const (
	OutcomeSent      = "sent"
	OutcomeFailed    = "failed"
	OutcomeRetry     = "retry"
	OutcomeCancelled = "cancelled"
)

// NopMetrics reports nothing; use cases with no Metrics use it.
type NopMetrics struct{}

func (NopMetrics) MessageSent(string)               {}
func (NopMetrics) EventReceived(string)             {}
func (NopMetrics) Classified(string, time.Duration) {}
func (NopMetrics) CreditsSpent(int64)               {}

// metricsOr returns m, or NopMetrics when m is nil, so that use cases can
// leave their Metrics field unset.
func metricsOr(m Metrics) Metrics {
	if m == nil {
		return NopMetrics{}
	}
	return m
}
