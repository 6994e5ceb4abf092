package tenants

// PlanID names a plan in the catalogue.
type PlanID string

// The plans. Prices live with the billing integration; what a plan allows
// lives here, in one place.
const (
	PlanStarter PlanID = "starter"
	PlanGrowth  PlanID = "growth"
	PlanPro     PlanID = "pro"
)

// Plan is what a tenant's subscription allows.
type Plan struct {
	ID             PlanID
	Name           string
	SignupCredits  int64 // granted once, when the tenant is created on this plan
	MonthlyCredits int64 // granted each paid month
	Numbers        int   // WhatsApp numbers the tenant may connect
}

// StarterCredits is the free allowance every new tenant receives.
const StarterCredits = 400

var plans = []Plan{
	{ID: PlanStarter, Name: "Starter", SignupCredits: StarterCredits, Numbers: 1},
	{ID: PlanGrowth, Name: "Growth", MonthlyCredits: 2000, Numbers: 3},
	{ID: PlanPro, Name: "Pro", MonthlyCredits: 10000, Numbers: 10},
}

// Plans returns the plan catalogue, cheapest first.
func Plans() []Plan { return append([]Plan(nil), plans...) }

// LookupPlan returns the plan with the given id.
func LookupPlan(id PlanID) (Plan, bool) {
	for _, p := range plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}
