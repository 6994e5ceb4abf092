package httpapi

import (
	"net/http"
	"sort"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The public pages (landing, sign-up, log-in) and the overview.

func (s *Server) handleLanding(c echo.Context) error {
	return s.render(c, "landing", pageData{Title: "WhatsApp polls that read the replies for you", Plan: starterPlan()})
}

func starterPlan() tenants.Plan {
	p, _ := tenants.LookupPlan(tenants.PlanStarter)
	return p
}

func (s *Server) handleSignupPage(c echo.Context) error {
	if accountOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/app")
	}
	return s.render(c, "signup", pageData{Title: "Create your account", Plan: starterPlan(), Form: map[string]string{}})
}

func (s *Server) handleSignupForm(c echo.Context) error {
	in := tenants.SignupInput{Email: c.FormValue("email"), Password: c.FormValue("password"), Company: c.FormValue("company")}
	acc, err := s.deps.Accounts.Signup(c.Request().Context(), in)
	if err == nil {
		err = s.startSession(c, acc)
	}
	if err != nil {
		return s.formError(c, "signup", "Create your account", err, map[string]string{"email": in.Email, "company": in.Company})
	}
	return c.Redirect(http.StatusSeeOther, "/app")
}

func (s *Server) handleLoginPage(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if accountOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return s.render(c, "login", pageData{Title: "Log in", Next: next, Form: map[string]string{}})
}

func (s *Server) handleLoginForm(c echo.Context) error {
	email := c.FormValue("email")
	next := safeNext(c.FormValue("next"))
	if _, err := s.login(c, email, c.FormValue("password")); err != nil {
		if t, ok := retryAfterOf(err); ok {
			c.Response().Header().Set("Retry-After", itoa(t))
		}
		return s.formError(c, "login", "Log in", err, map[string]string{"email": email, "next": next})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// formError re-shows a form with the problem explained and the user's input
// kept (never the password). Internal errors go to the error handler.
func (s *Server) formError(c echo.Context, page, title string, err error, form map[string]string) error {
	d, status := s.describe(err, c)
	if status >= 500 {
		return err
	}
	return s.renderStatus(c, status, page, pageData{
		Title: title, Error: d.Message, Field: d.Field, Form: form, Next: form["next"], Plan: starterPlan(),
	})
}

func (s *Server) handleLogoutForm(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// overviewData is the dashboard's first page: where the account stands,
// what to do next, and who to call.
type overviewData struct {
	Numbers   int
	Connected int
	Contacts  bool
	Polls     int
	LastPoll  *tenants.Poll
	HotLeads  []tenants.Contact
}

// hotLeadsShown is how many hot leads the overview lists.
const hotLeadsShown = 5

func (s *Server) handleOverview(c echo.Context) error {
	acc := accountOf(c)
	ctx := c.Request().Context()
	tid := acc.Tenant.ID
	bal, err := s.deps.Credits.Balance(ctx, tid)
	if err != nil {
		return err
	}
	page, err := s.deps.Credits.Ledger(ctx, tid, "", 5)
	if err != nil {
		return err
	}
	var d overviewData
	numbers, err := s.deps.Numbers.List(ctx, tid)
	if err != nil {
		return err
	}
	for _, in := range numbers {
		d.Numbers++
		if in.State == tenants.StateOpen {
			d.Connected++
		}
	}
	polls, err := s.deps.Campaigns.Polls.Polls(ctx, tid)
	if err != nil {
		return err
	}
	if d.Polls = len(polls); d.Polls > 0 {
		d.LastPoll = &polls[0]
	}
	err = s.deps.Campaigns.Contacts.ForEachContact(ctx, tid, "", func(ct tenants.Contact) error {
		d.Contacts = true
		if ct.LeadStatus == tenants.LeadHot && !ct.OptedOut {
			d.HotLeads = append(d.HotLeads, ct)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(d.HotLeads, func(i, j int) bool { return d.HotLeads[i].Score > d.HotLeads[j].Score })
	d.HotLeads = d.HotLeads[:min(len(d.HotLeads), hotLeadsShown)]
	plan, _ := tenants.LookupPlan(acc.Tenant.Plan)
	return s.render(c, "overview", pageData{
		Title: "Overview", Nav: "overview", Credits: bal, Plan: plan, Ledger: page.Entries, Data: d,
	})
}
