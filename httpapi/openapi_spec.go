package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
)

// apiOperations is the documentation of every /api/v1 route, grouped by
// tag in the order the docs page shows them. A route added without a line
// here (or a line left after its route is gone) fails openapi_test.go.

// operatorOnlyPrefixes are /api/v1 routes kept out of the public document
// on purpose: the operator console answers 404 to everyone else, as if it
// did not exist, and publishing its API would undo that.
var operatorOnlyPrefixes = []string{"/api/v1/admin/", "/api/v1/operator/"}

func operatorOnly(path string) bool {
	for _, p := range operatorOnlyPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// apiTags are the groups of the document, in order, with what they cover.
var apiTags = []struct{ Name, Description string }{
	{"Account", "Sign up, log in and who you are."},
	{"API keys", "Keys for systems that call the API; created and revoked by a signed-in person only."},
	{"Numbers", "The WhatsApp numbers polls are sent from, and linking them by QR or pairing code."},
	{"Contacts", "The people polls go to, their tags and their consent."},
	{"Polls", "Poll campaigns: write, price, send, follow and cancel."},
	{"Replies", "What contacts wrote back and what Aibud made of it."},
	{"Credits and billing", "The credit balance, its ledger, the plan and payments."},
	{"Usage", "Daily counts of sends, replies and credits."},
	{"Webhooks", "Signed HTTP calls to your own systems when leads vote, reply or opt out."},
}

func tagList() []any {
	out := make([]any, len(apiTags))
	for i, t := range apiTags {
		out[i] = map[string]any{"name": t.Name, "description": t.Description}
	}
	return out
}

// Response shapes the handlers build as maps.
type (
	pollList = struct {
		Polls []pollJSON `json:"polls"`
	}
	instanceList = struct {
		Instances []instanceJSON `json:"instances"`
	}
	recipientList = struct {
		Recipients []recipientJSON `json:"recipients"`
	}
	replyList = struct {
		Replies []tenants.Reply `json:"replies"`
	}
	apiKeyList = struct {
		APIKeys []apiKeyJSON `json:"api_keys"`
	}
	cancelResponse = struct {
		Refunded int `json:"refunded"`
	}
)

var (
	exampleTime = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	limitParam  = apiParam{Name: "limit", Type: "integer", Description: "Page size."}
	cursorParam = apiParam{Name: "cursor", Description: "The next_cursor of the previous page."}
)

func apiOperations() []apiOp {
	const (
		get, post, del = http.MethodGet, http.MethodPost, http.MethodDelete
		bad, notFound  = http.StatusBadRequest, http.StatusNotFound
	)
	return []apiOp{
		// Account
		{Method: post, Path: "/api/v1/signup", Tag: "Account", Summary: "Create an account", Public: true,
			Description: "Creates a tenant on the Starter plan with its welcome credits, and signs in (sets the session cookie).",
			Body:        signupRequest{}, BodyExample: signupRequest{Email: "owner@example.com", Password: "correct horse battery", Company: "Acme"},
			Status: http.StatusCreated, Resp: signupResponse{}, Errors: []int{bad, http.StatusConflict}},
		{Method: post, Path: "/api/v1/login", Tag: "Account", Summary: "Log in", Public: true,
			Description: "Checks an email and password and sets the session cookie. Repeated failures are throttled (429 with Retry-After).",
			Body:        loginRequest{}, BodyExample: loginRequest{Email: "owner@example.com", Password: "correct horse battery"},
			Status: http.StatusOK, Resp: meResponse{}, Errors: []int{bad, http.StatusUnauthorized, http.StatusTooManyRequests}},
		{Method: post, Path: "/api/v1/logout", Tag: "Account", Summary: "Log out", Public: true,
			Description: "Ends the session of the cookie sent, if any.", Status: http.StatusNoContent},
		{Method: get, Path: "/api/v1/me", Tag: "Account", Summary: "The signed-in user, tenant and credit balance",
			Status: http.StatusOK, Resp: meResponse{}},
		{Method: get, Path: "/api/v1/audit", Tag: "Account", Summary: "What the platform's operators did to this account, newest first",
			Query: []apiParam{cursorParam}, Status: http.StatusOK, Resp: auditPageJSON{}, Errors: []int{bad}},
		{Method: post, Path: "/api/v1/account/delete", Tag: "Account", Summary: "Delete the account and all its data",
			Description: "The owner, signed in (not with an API key), confirms with their password. The WhatsApp numbers are removed, the subscription is cancelled, every record is erased and the session ends. It cannot be undone. Wrong passwords are throttled like log-ins.",
			Body:        accountDeleteRequest{}, BodyExample: accountDeleteRequest{Password: "correct horse battery"},
			Status: http.StatusNoContent, Errors: []int{bad, http.StatusForbidden, http.StatusTooManyRequests}},

		// Outgoing webhooks
		{Method: post, Path: "/api/v1/webhooks", Tag: "Webhooks", Summary: "Add an outgoing webhook endpoint",
			Description: `Body {"url","events":[...]}: events among poll.voted, reply.classified, contact.opted_out, campaign.completed, credits.low. Answers the endpoint with its signing secret, once. Every delivery is signed: header Aibud-Signature "t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">". Only public http(s) addresses are accepted.`,
			Status:      http.StatusCreated, Errors: []int{bad}},
		{Method: get, Path: "/api/v1/webhooks", Tag: "Webhooks", Summary: "List outgoing webhook endpoints",
			Description: "Secrets are not shown again.", Status: http.StatusOK},
		{Method: del, Path: "/api/v1/webhooks/{id}", Tag: "Webhooks", Summary: "Remove an endpoint",
			Status: http.StatusNoContent, Errors: []int{notFound}},
		{Method: get, Path: "/api/v1/webhooks/{id}/deliveries", Tag: "Webhooks", Summary: "An endpoint's delivery log",
			Description: "Newest first: event, status, attempts, the last response code.", Status: http.StatusOK, Errors: []int{notFound}},
		{Method: post, Path: "/api/v1/webhooks/deliveries/{id}/replay", Tag: "Webhooks", Summary: "Send a delivery again",
			Description: "A new delivery with the same event id, so receivers can tell a replay.", Status: http.StatusAccepted, Errors: []int{notFound}},

		// API keys
		{Method: post, Path: "/api/v1/api-keys", Tag: "API keys", Summary: "Create an API key",
			Description: "Answers the key itself, once: store it, it is never shown again. Not allowed when the request itself uses an API key (403).",
			Body:        apiKeyRequest{}, BodyExample: apiKeyRequest{Name: "HubSpot sync"},
			Status: http.StatusCreated, Resp: apiKeyCreated{}, RespExample: apiKeyCreated{ID: "01JCM5Z7Q8R3V6W2X4Y9A0B1C2", Name: "HubSpot sync",
				Key: "ak_Xy3kP9qL2vN8mR4tW6zB1cD5fG7hJ0kL3nP5rS8uV0w", Prefix: "ak_Xy3kP9qL", CreatedAt: exampleTime},
			Errors: []int{bad, http.StatusForbidden, http.StatusConflict}},
		{Method: get, Path: "/api/v1/api-keys", Tag: "API keys", Summary: "List API keys",
			Description: "Newest first, revoked keys included. Only the first characters of each key are shown.",
			Status:      http.StatusOK, Resp: apiKeyList{}},
		{Method: del, Path: "/api/v1/api-keys/{id}", Tag: "API keys", Summary: "Revoke an API key",
			Description: "The key stops working at once. Not allowed when the request itself uses an API key (403).",
			Status:      http.StatusNoContent, Errors: []int{http.StatusForbidden, notFound}},

		// Numbers
		{Method: post, Path: "/api/v1/instances", Tag: "Numbers", Summary: "Add a WhatsApp number",
			Description: "Creates the number on a gateway; link it with the QR code (or a pairing code when number is given).",
			Body:        instanceCreateRequest{}, BodyExample: instanceCreateRequest{Name: "Sales line"},
			Status: http.StatusCreated, Resp: instanceJSON{}, Errors: []int{bad, http.StatusForbidden, http.StatusServiceUnavailable}},
		{Method: get, Path: "/api/v1/instances", Tag: "Numbers", Summary: "List WhatsApp numbers", Status: http.StatusOK, Resp: instanceList{}},
		{Method: get, Path: "/api/v1/instances/{id}", Tag: "Numbers", Summary: "Get a WhatsApp number", Status: http.StatusOK, Resp: instanceJSON{}, Errors: []int{notFound}},
		{Method: get, Path: "/api/v1/instances/{id}/qr", Tag: "Numbers", Summary: "The QR code (or pairing code) that links the number",
			Query:  []apiParam{{Name: "number", Description: "Ask for a pairing code for this phone number instead of a QR code."}},
			Status: http.StatusOK, Resp: qrJSON{}, Errors: []int{bad, notFound}},
		{Method: post, Path: "/api/v1/instances/{id}/logout", Tag: "Numbers", Summary: "Unlink the phone", Status: http.StatusOK, Resp: instanceJSON{}, Errors: []int{notFound}},
		{Method: del, Path: "/api/v1/instances/{id}", Tag: "Numbers", Summary: "Remove a WhatsApp number", Status: http.StatusNoContent, Errors: []int{notFound}},

		// Contacts
		{Method: post, Path: "/api/v1/contacts", Tag: "Contacts", Summary: "Add a contact",
			Description: "201 when the number is new; 200 when it was already a contact (the name and tags are merged in).",
			Body:        contactCreateRequest{}, BodyExample: contactCreateRequest{Phone: "+55 11 98765-4321", Name: "Maria Silva", Tags: []string{"lead", "sp"}},
			Status: http.StatusCreated, Resp: tenants.Contact{}, Errors: []int{bad}},
		{Method: get, Path: "/api/v1/contacts", Tag: "Contacts", Summary: "List contacts",
			Query:  []apiParam{{Name: "search", Description: "Part of the number or name."}, {Name: "tag", Description: "Only contacts with this tag."}, cursorParam, limitParam},
			Status: http.StatusOK, Resp: contactListResponse{}, Errors: []int{bad}},
		{Method: post, Path: "/api/v1/contacts/import", Tag: "Contacts", Summary: "Import contacts from a CSV file",
			Description: "Send the file as a text/csv body, or as the field \"file\" of a multipart/form-data upload (at most 20 MiB). " +
				"Columns are found by their header names unless the *_col parameters say (a header name, a column number from 1, or none).",
			Query: []apiParam{{Name: "phone_col"}, {Name: "name_col"}, {Name: "tags_col"}, {Name: "optin_col"},
				{Name: "tags", Description: "Comma-separated tags added to every imported contact."}},
			Body: "", BodyMedia: "text/csv", BodyExample: "phone,name,tags\n+5511987654321,Maria Silva,lead\n",
			Status: http.StatusOK, Resp: tenants.ImportResult{}, Errors: []int{bad, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}},
		{Method: get, Path: "/api/v1/contacts/export.csv", Tag: "Contacts", Summary: "Export every contact as CSV",
			Status: http.StatusOK, Resp: "", RespMedia: "text/csv", RespExample: strings.Join(tenants.ExportColumns, ",") + "\n"},
		{Method: get, Path: "/api/v1/contacts/{phone}", Tag: "Contacts", Summary: "Get a contact with its consent log", Status: http.StatusOK, Resp: contactDetail{}, Errors: []int{notFound}},
		{Method: del, Path: "/api/v1/contacts/{phone}", Tag: "Contacts", Summary: "Erase a contact",
			Description: "Erases the contact with their messages, votes and replies.", Status: http.StatusNoContent, Errors: []int{notFound}},
		{Method: post, Path: "/api/v1/contacts/{phone}/opt-out", Tag: "Contacts", Summary: "Opt a contact out", Status: http.StatusOK, Resp: tenants.Contact{}, Errors: []int{notFound}},
		{Method: post, Path: "/api/v1/contacts/{phone}/opt-in", Tag: "Contacts", Summary: "Opt a contact back in", Status: http.StatusOK, Resp: tenants.Contact{}, Errors: []int{notFound}},
		{Method: get, Path: "/api/v1/contacts/{phone}/export", Tag: "Contacts", Summary: "Export everything stored about a contact",
			Description: "The contact, their consent log, the polls sent to them with the question asked, their votes and their replies, as a JSON download: for a data subject's request.",
			Status:      http.StatusOK, Resp: tenants.ContactData{}, Errors: []int{notFound}},

		// Polls
		{Method: post, Path: "/api/v1/polls", Tag: "Polls", Summary: "Write a poll (draft)",
			Description: "The audience is every contact (all), a tag, or a list of phones; opted-out, invalid and duplicate numbers are excluded.",
			Body:        pollRequest{}, BodyExample: pollRequest{Question: "Which day suits you for a demo?", Options: []string{"Tuesday", "Thursday"},
				InstanceID: "01JCM5ZZ1X2W3V4U5T6S7R8Q9P", Audience: tenants.Audience{Tag: "lead"}},
			Status: http.StatusCreated, Resp: pollCreated{}, Errors: []int{bad, notFound}},
		{Method: post, Path: "/api/v1/polls/preview", Tag: "Polls", Summary: "Count and price a poll's audience", Body: pollRequest{},
			Status: http.StatusOK, Resp: tenants.Preview{}, Errors: []int{bad}},
		{Method: get, Path: "/api/v1/polls", Tag: "Polls", Summary: "List polls", Status: http.StatusOK, Resp: pollList{}},
		{Method: get, Path: "/api/v1/polls/{id}", Tag: "Polls", Summary: "Get a poll with its counts and results", Status: http.StatusOK, Resp: pollJSON{}, Errors: []int{notFound}},
		{Method: post, Path: "/api/v1/polls/{id}/send", Tag: "Polls", Summary: "Send a poll now or at a time",
			Description: "Reserves one credit per recipient (402 when the balance is short) and queues paced sends. The body is optional.",
			Body:        sendRequest{}, BodyOptional: true, Status: http.StatusAccepted, Resp: tenants.SendResult{},
			Errors: []int{bad, http.StatusPaymentRequired, http.StatusForbidden, notFound, http.StatusConflict}},
		{Method: post, Path: "/api/v1/polls/{id}/cancel", Tag: "Polls", Summary: "Cancel a poll; unsent messages are refunded",
			Status: http.StatusOK, Resp: cancelResponse{}, Errors: []int{notFound, http.StatusConflict}},
		{Method: get, Path: "/api/v1/polls/{id}/recipients", Tag: "Polls", Summary: "Every recipient with their status, vote and latest reply",
			Status: http.StatusOK, Resp: recipientList{}, Errors: []int{notFound}},

		// Replies
		{Method: get, Path: "/api/v1/replies", Tag: "Replies", Summary: "Replies, newest first (at most 500)",
			Query:  []apiParam{{Name: "poll_id", Description: "Only replies to this poll."}},
			Status: http.StatusOK, Resp: replyList{}, Errors: []int{notFound}},
		{Method: post, Path: "/api/v1/replies/{id}/label", Tag: "Replies", Summary: "Correct a reply's label",
			Description: "A person's label wins over the classifier's and moves the contact's lead status.",
			Body:        labelRequest{}, BodyExample: labelRequest{Intent: tenants.IntentInterested},
			Status: http.StatusOK, Resp: tenants.Reply{}, Errors: []int{bad, notFound}},

		// Credits and billing
		{Method: get, Path: "/api/v1/credits", Tag: "Credits and billing", Summary: "Balance and ledger, newest first",
			Query: []apiParam{cursorParam, limitParam}, Status: http.StatusOK, Resp: creditsResponse{}, Errors: []int{bad}},
		{Method: get, Path: "/api/v1/billing", Tag: "Credits and billing", Summary: "Plan, billing status and balance", Status: http.StatusOK, Resp: billingResponse{}},
		{Method: post, Path: "/api/v1/billing/checkout", Tag: "Credits and billing", Summary: "Start a Stripe Checkout for a plan or a credit pack",
			Description: `Send {"plan":"growth"} or {"pack":"1000"}; open the answered URL in a browser.`,
			Body:        checkoutRequest{}, BodyExample: map[string]string{"plan": "growth"},
			Status: http.StatusOK, Resp: urlResponse{}, Errors: []int{bad, http.StatusServiceUnavailable}},
		{Method: post, Path: "/api/v1/billing/portal", Tag: "Credits and billing", Summary: "Open the Stripe customer portal",
			Status: http.StatusOK, Resp: urlResponse{}, Errors: []int{http.StatusConflict, http.StatusServiceUnavailable}},

		// Usage
		{Method: get, Path: "/api/v1/usage", Tag: "Usage", Summary: "Daily usage, oldest first",
			Query:  []apiParam{{Name: "days", Type: "integer", Description: "How many days, 1 to 366 (default 30)."}},
			Status: http.StatusOK, Resp: []tenants.DailyUsage{}, Errors: []int{bad}},
	}
}
