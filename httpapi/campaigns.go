package httpapi

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// Poll campaign pages: list, composer with live cost, campaign page with
// live progress and results, recipients CSV, and the conversation view.

func (s *Server) registerCampaignPages(e *echo.Echo) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	g := e.Group("/app")
	g.GET("/polls", s.handlePollsPage, s.requirePage)
	g.GET("/polls/new", s.handleComposerPage, s.requirePage)
	g.POST("/polls/preview", s.handleComposerPreview, s.requirePage)
	g.POST("/polls", s.handleComposerSubmit, s.requirePage)
	g.GET("/polls/:id", s.handleCampaignPage, s.requirePage)
	g.GET("/polls/:id/live", s.handleCampaignLive, s.requirePage)
	g.POST("/polls/:id/send", s.handleCampaignSendForm, s.requirePage)
	g.GET("/polls/:id/cancel", s.handleCampaignCancelConfirm, s.requirePage)
	g.POST("/polls/:id/cancel", s.handleCampaignCancelForm, s.requirePage)
	g.GET("/polls/:id/recipients.csv", s.handleRecipientsCSV, s.requirePage)
	g.POST("/polls/:id/simulate", s.handleSimulate, s.requirePage)
	g.GET("/conversations/:phone", s.handleConversationPage, s.requirePage)
}

type pollRow struct {
	tenants.Poll
	Number string
}

func (s *Server) handlePollsPage(c echo.Context) error {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	polls, err := s.deps.Campaigns.Polls.Polls(ctx, tid)
	if err != nil {
		return err
	}
	names := s.instanceNames(c)
	rows := make([]pollRow, len(polls))
	for i, p := range polls {
		rows[i] = pollRow{Poll: p, Number: names[p.InstanceID]}
	}
	return s.render(c, "polls", pageData{Title: "Polls", Nav: "polls", Data: rows})
}

func (s *Server) instanceNames(c echo.Context) map[string]string {
	list, _ := s.deps.Numbers.List(c.Request().Context(), accountOf(c).Tenant.ID)
	out := map[string]string{}
	for _, in := range list {
		out[in.ID] = in.Name
	}
	return out
}

// composerData is what the composer form shows.
type composerData struct {
	Numbers  []tenants.Instance
	Tags     []tenants.TagCount
	Form     composerForm
	Preview  *tenants.Preview
	Balance  int64
	TimeZone string
}

type composerForm struct {
	Question, Options, InstanceID, AudienceKind, Tag, Phones, At string
	Multiple                                                     bool
}

func readComposer(c echo.Context) composerForm {
	return composerForm{
		Question: c.FormValue("question"), Options: c.FormValue("options"), InstanceID: c.FormValue("instance_id"),
		AudienceKind: c.FormValue("audience"), Tag: c.FormValue("tag"), Phones: c.FormValue("phones"),
		At: c.FormValue("at"), Multiple: c.FormValue("multiple") == "on",
	}
}

func (f composerForm) input() tenants.PollInput {
	in := tenants.PollInput{Question: f.Question, Options: splitLines(f.Options), Multiple: f.Multiple, InstanceID: f.InstanceID}
	switch f.AudienceKind {
	case "tag":
		in.Audience.Tag = f.Tag
	case "phones":
		in.Audience.Phones = splitPhones(f.Phones)
	default:
		in.Audience.All = true
	}
	return in
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func splitPhones(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == ';' })
}

func (s *Server) composerData(c echo.Context, f composerForm) (composerData, error) {
	ctx := c.Request().Context()
	acc := accountOf(c)
	numbers, err := s.deps.Numbers.List(ctx, acc.Tenant.ID)
	if err != nil {
		return composerData{}, err
	}
	tags, err := s.deps.Contacts.Tags(ctx, acc.Tenant.ID)
	if err != nil {
		return composerData{}, err
	}
	bal, err := s.deps.Credits.Balance(ctx, acc.Tenant.ID)
	if err != nil {
		return composerData{}, err
	}
	if f.InstanceID == "" && len(numbers) > 0 {
		f.InstanceID = numbers[0].ID
	}
	if f.AudienceKind == "" {
		f.AudienceKind = "all"
	}
	return composerData{Numbers: numbers, Tags: tags, Form: f, Balance: bal, TimeZone: acc.Tenant.Location().String()}, nil
}

func (s *Server) handleComposerPage(c echo.Context) error {
	d, err := s.composerData(c, composerForm{})
	if err != nil {
		return err
	}
	return s.render(c, "composer", pageData{Title: "New poll", Nav: "polls", Data: d})
}

// handleComposerPreview answers the composer's live cost line.
func (s *Server) handleComposerPreview(c echo.Context) error {
	d, err := s.composerData(c, readComposer(c))
	if err != nil {
		return err
	}
	pd := pageData{Data: d}
	pv, err := s.deps.Campaigns.Preview(c.Request().Context(), accountOf(c).Tenant, d.Form.input())
	if err != nil {
		detail, status := s.describe(err, c)
		if status >= 500 {
			return err
		}
		pd.Error, pd.Field = detail.Message, detail.Field
	} else {
		d.Preview = &pv
		pd.Data = d
	}
	return s.renderFragment(c, "composer", "cost", pd)
}

func (s *Server) handleComposerSubmit(c echo.Context) error {
	f := readComposer(c)
	acc := accountOf(c)
	at, err := parseLocalTime(f.At, acc.Tenant.Location())
	if err == nil {
		var p tenants.Poll
		p, _, err = s.deps.Campaigns.Create(c.Request().Context(), acc.Tenant, f.input())
		if err == nil {
			if _, err = s.deps.Campaigns.Send(c.Request().Context(), acc.Tenant, p.ID, at); err != nil {
				return s.campaignWithError(c, p.ID, err)
			}
			return c.Redirect(http.StatusSeeOther, "/app/polls/"+p.ID)
		}
	}
	detail, status := s.describe(err, c)
	if status >= 500 {
		return err
	}
	d, derr := s.composerData(c, f)
	if derr != nil {
		return derr
	}
	return s.renderStatus(c, status, "composer", pageData{Title: "New poll", Nav: "polls", Data: d, Error: detail.Message, Field: detail.Field})
}

// parseLocalTime reads a datetime-local value in the tenant's zone; empty
// means now.
func parseLocalTime(v string, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", v, loc)
	if err != nil {
		return time.Time{}, tenants.Invalid("at", "Send time %q is not a date and time.", v)
	}
	return t, nil
}

// campaignData is what the campaign page shows.
type campaignData struct {
	Report     tenants.Report
	Number     tenants.Instance
	Sandbox    bool
	Recipients []tenants.Recipient
	More       int // recipients beyond the ones shown
	Chart      chart
	Progress   int // percent of messages no longer queued
	Balance    int64
}

// recipientsShown bounds the table on the page; the CSV has everyone.
const recipientsShown = 200

func (s *Server) campaignData(c echo.Context, withRecipients bool) (campaignData, error) {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	limit := 0
	if withRecipients {
		limit = recipientsShown
	}
	r, rows, err := s.deps.Campaigns.ReportWithRecipients(ctx, tid, c.Param("id"), limit)
	if err != nil {
		return campaignData{}, err
	}
	d := campaignData{Report: r, Chart: newChart(r.Results), Recipients: rows}
	if n := r.Counts.Total; n > 0 {
		d.Progress = 100 * (n - r.Counts.Queued) / n
	}
	if in, err := s.deps.Numbers.Get(ctx, tid, r.Poll.InstanceID); err == nil {
		d.Number, d.Sandbox = in, s.isSandbox(in)
	}
	if withRecipients {
		d.More = max(0, r.Counts.Total-len(rows))
	}
	if r.Poll.Status == tenants.PollDraft {
		d.Balance, _ = s.deps.Credits.Balance(ctx, tid)
	}
	return d, nil
}

func (s *Server) handleCampaignPage(c echo.Context) error {
	d, err := s.campaignData(c, true)
	if err != nil {
		return err
	}
	return s.render(c, "campaign", pageData{Title: d.Report.Poll.Question, Nav: "polls", Data: d, Error: c.QueryParam("error")})
}

// handleCampaignLive re-renders the progress and results; the page polls it.
func (s *Server) handleCampaignLive(c echo.Context) error {
	part := c.QueryParam("part")
	d, err := s.campaignData(c, part == "recipients")
	if err != nil {
		return err
	}
	if part == "recipients" {
		return s.renderFragment(c, "campaign", "recipients", pageData{Data: d})
	}
	return s.renderFragment(c, "campaign", "live", pageData{Data: d})
}

func (s *Server) campaignWithError(c echo.Context, pollID string, cause error) error {
	detail, status := s.describe(cause, c)
	if status >= 500 {
		return cause
	}
	c.SetParamNames("id")
	c.SetParamValues(pollID)
	d, err := s.campaignData(c, true)
	if err != nil {
		return err
	}
	return s.renderStatus(c, status, "campaign", pageData{Title: d.Report.Poll.Question, Nav: "polls", Data: d, Error: detail.Message})
}

func (s *Server) handleCampaignSendForm(c echo.Context) error {
	acc := accountOf(c)
	at, err := parseLocalTime(c.FormValue("at"), acc.Tenant.Location())
	if err == nil {
		_, err = s.deps.Campaigns.Send(c.Request().Context(), acc.Tenant, c.Param("id"), at)
	}
	if err != nil {
		return s.campaignWithError(c, c.Param("id"), err)
	}
	return c.Redirect(http.StatusSeeOther, "/app/polls/"+c.Param("id"))
}

func (s *Server) handleCampaignCancelConfirm(c echo.Context) error {
	d, err := s.campaignData(c, false)
	if err != nil {
		return err
	}
	return s.render(c, "campaign_cancel", pageData{Title: "Cancel poll", Nav: "polls", Data: d})
}

func (s *Server) handleCampaignCancelForm(c echo.Context) error {
	if _, err := s.deps.Campaigns.Cancel(c.Request().Context(), accountOf(c).Tenant, c.Param("id")); err != nil {
		return s.campaignWithError(c, c.Param("id"), err)
	}
	return c.Redirect(http.StatusSeeOther, "/app/polls/"+c.Param("id"))
}

func (s *Server) handleRecipientsCSV(c echo.Context) error {
	ctx := c.Request().Context()
	tid := accountOf(c).Tenant.ID
	rs, err := s.deps.Campaigns.Recipients(ctx, tid, c.Param("id"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="poll-%s-recipients.csv"`, c.Param("id")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	w.Write([]string{"phone", "status", "error", "sent_at", "vote", "vote_at", "reply", "reply_at"})
	for _, r := range rs {
		row := []string{r.Message.Phone, string(r.Message.Status), r.Message.Error, csvTime(r.Message.SentAt), "", "", "", ""}
		if r.Vote != nil {
			row[4], row[5] = voteLabel(*r.Vote), csvTime(r.Vote.At)
		}
		if r.Reply != nil {
			row[6], row[7] = r.Reply.Text, csvTime(r.Reply.At)
		}
		w.Write(row)
	}
	w.Flush()
	return w.Error()
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// voteLabel is how a vote reads in tables and exports.
func voteLabel(v tenants.Vote) string {
	switch {
	case v.Unreadable:
		return "(unreadable)"
	case v.Withdrawn():
		return "(withdrawn)"
	}
	return strings.Join(v.Options, " + ")
}
