package httpapi

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

// BenchmarkCampaignPage10k renders the campaign page of a poll sent to
// 10,000 recipients (with votes and replies) through the real router.
//
//	go test -run '^$' -bench CampaignPage10k ./httpapi/
func BenchmarkCampaignPage10k(b *testing.B) {
	env := newBenchEnv(b)
	c, acct := env.signupB(b, "page@example.com")
	instanceID := env.createInstanceB(b, c)
	ctx := b.Context()
	st := env.store
	p := tenants.Poll{ID: "01BENCHPOLL", TenantID: acct.TenantID, Question: "Which day?", Options: []string{"Mon", "Tue", "Wed"},
		InstanceID: instanceID, Audience: tenants.Audience{All: true}, Status: tenants.PollSending, CreatedAt: time.Now()}
	if err := st.PutPoll(ctx, p); err != nil {
		b.Fatal(err)
	}
	phones := make([]string, 10_000)
	for i := range phones {
		phones[i] = fmt.Sprintf("55119%08d", i)
	}
	now := time.Now()
	plan := func(cur tenants.PaceCursor, n int) ([]time.Time, tenants.PaceCursor) {
		due := make([]time.Time, n)
		for i := range due {
			due[i] = now
		}
		return due, cur
	}
	if _, err := st.WriteMessages(ctx, acct.TenantID, p, phones, plan); err != nil {
		b.Fatal(err)
	}
	for i, ph := range phones[:3000] { // 30% voted, as a good campaign does
		if _, err := st.PutTextVote(ctx, acct.TenantID, p.ID, ph, []string{p.Options[i%3]}, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		r := env.do(b, c, "GET", "/app/polls/"+p.ID, "")
		if r.status != http.StatusOK {
			b.Fatalf("campaign page = %d", r.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
}
