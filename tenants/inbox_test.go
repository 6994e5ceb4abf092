package tenants_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/google/go-cmp/cmp"
)

// recordingClassifier is a classifier that reads the conversation, as
// Gemini does: it keeps the history it was given.
type recordingClassifier struct{ history [][]string }

func (r *recordingClassifier) Classify(_ context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	r.history = append(r.history, in.History)
	return tenants.Classification{Intent: tenants.IntentOther, Classifier: "recording"}, nil
}

// blindClassifier is the offline rules, counting what it is given.
type blindClassifier struct {
	*rules.Classifier
	withHistory int
}

func (b *blindClassifier) Classify(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	if len(in.History) > 0 {
		b.withHistory++
	}
	return b.Classifier.Classify(ctx, in)
}

// TestClassifyReadsHistoryOnlyForThoseWhoUseIt: a classifier that reads
// the conversation gets the contact's last six earlier replies, oldest
// first; the offline rules, which read each reply alone, get none and the
// store is not asked for them.
func TestClassifyReadsHistoryOnlyForThoseWhoUseIt(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tid := store.NewID()
	noErr(t, st.CreateTenantDB(ctx, tid))
	noErr(t, st.PutInstance(ctx, tenants.Instance{ID: "in-1", TenantID: tid, State: tenants.StateOpen}))
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 9 {
		ev := tenants.GatewayEvent{Kind: tenants.EventInboundText, DedupeKey: fmt.Sprintf("messages.upsert:%d", i),
			Text: &tenants.InboundText{MessageID: fmt.Sprintf("3A%d", i), From: "5511911111111", Text: fmt.Sprintf("text %d", i),
				At: start.Add(time.Duration(i) * time.Minute)}}
		applied, err := st.ApplyEvents(ctx, tid, "in-1", []tenants.GatewayEvent{ev}, start)
		noErr(t, err)
		ids = append(ids, applied.Replies[0].ID)
	}
	inbox := func(c tenants.Classifier) *tenants.Inbox {
		return &tenants.Inbox{Replies: st, Polls: st, Classifier: c, Fast: rules.New(),
			Contacts: &tenants.Contacts{Store: st, Phones: whatsapp.Phones{}, Now: time.Now, Logger: logger},
			Now:      time.Now, Logger: logger}
	}

	reading := &recordingClassifier{}
	noErr(t, inbox(reading).Classify(ctx, tid, ids[8]))
	want := []string{"them: text 2", "them: text 3", "them: text 4", "them: text 5", "them: text 6", "them: text 7"}
	if diff := cmp.Diff([][]string{want}, reading.history); diff != "" {
		t.Errorf("history given to a classifier that reads it (-want +got):\n%s", diff)
	}

	blind := &blindClassifier{Classifier: rules.New()}
	noErr(t, inbox(blind).Classify(ctx, tid, ids[7]))
	if blind.withHistory != 0 {
		t.Errorf("the offline rules were given a history %d times", blind.withHistory)
	}
	r, err := st.Reply(ctx, tid, ids[7])
	noErr(t, err)
	if r.Classification == nil {
		t.Error("reply not classified by the offline rules")
	}
}
