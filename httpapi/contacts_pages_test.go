package httpapi

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// hiddenValue reads a hidden input's value from a page.
func hiddenValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no hidden field %q in the page", name)
	}
	return html.UnescapeString(m[1])
}

func mustContain(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}

func TestContactImportWizard(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, acct := env.signup(t, "wizard@example.com")
	setRegion(t, env, acct.TenantID, "BR")
	multi := func(fields ...string) (string, string) { return multipartBody(t, fields...) }
	post := func(path string, fields ...string) result {
		body, ctype := multi(fields...)
		return env.do(t, c, "POST", path, body, "Content-Type", ctype)
	}

	r := env.do(t, c, "GET", "/app/contacts/import", "")
	mustContain(t, "step 1", r.body, `id="import-form"`, `enctype="multipart/form-data"`, `name="file"`, `name="numbers"`, `name="tags"`, ", BR (change it")
	if r := post("/app/contacts/import", "tags", "x"); r.status != 400 {
		t.Errorf("step 1 with nothing: %d", r.status)
	} else {
		mustContain(t, "step 1 error", r.body, "Choose a CSV file or paste some numbers.", `id="import-form"`, `value="x"`)
	}
	if r := post("/app/contacts/import", "file", "PK\x03\x04xlsx"); r.status != 400 {
		t.Errorf("step 1 with a workbook: %d", r.status)
	} else {
		mustContain(t, "workbook error", r.body, "Excel workbook", `aria-invalid="true"`)
	}

	// Step 2: preview and mapping, the file carried in a hidden field.
	file := "Nome;Telefone;Grupo\nAna;(11) 98765-0001;vip\nBia;123;\nCaio;11 98765-0003;sp\n"
	r = post("/app/contacts/import", "file", file, "tags", "Feira")
	if r.status != 200 {
		t.Fatalf("step 2: %d %s", r.status, r.body)
	}
	mustContain(t, "step 2", r.body, `id="import-preview"`, "<th scope=\"col\">Telefone</th>", "<td>(11) 98765-0001</td>",
		`id="import-total">3 rows`, `<option value="2" selected>Telefone</option>`, `<option value="1" selected>Nome</option>`,
		`<option value="3" selected>Grupo</option>`, `name="tags" value="Feira"`, "Import 3 rows")
	upload := hiddenValue(t, r.body, "upload")

	r = post("/app/contacts/import/run", "upload", upload, "tags", "Feira", "phone_col", "none", "name_col", "1")
	if r.status != 400 {
		t.Fatalf("step 2 without a phone column: %d", r.status)
	}
	mustContain(t, "step 2 error", r.body, "No phone number column", `id="mapping-form"`, `id="map-phone_col" name="phone_col" aria-invalid="true"`)
	if r := post("/app/contacts/import/run", "upload", "bm90IGd6aXA", "phone_col", "2"); r.status != 400 || !strings.Contains(r.body, "choose it again") {
		t.Errorf("tampered upload: %d", r.status)
	}

	// Step 3: the result, with the row that failed.
	r = post("/app/contacts/import/run", "upload", upload, "tags", "Feira", "phone_col", "2", "name_col", "1", "tags_col", "3", "optin_col", "none")
	if r.status != 200 {
		t.Fatalf("step 3: %d %s", r.status, r.body)
	}
	mustContain(t, "step 3", r.body, `id="import-imported">2<`, `id="import-updated">0<`, `id="import-invalid">1<`,
		`<td class="num">3</td><td class="mono">123</td>`, "not a valid BR phone number")
	ct := decode[contactDetail](t, env.do(t, c, "GET", "/api/v1/contacts/5511987650001", ""))
	if ct.Name != "Ana" || strings.Join(ct.Tags, ",") != "vip,feira" {
		t.Errorf("imported through the wizard: %+v", ct.Contact)
	}

	// Pasted numbers skip the preview.
	r = post("/app/contacts/import", "numbers", "11 98765-0001, Ana Paula\n+1 415 555 2671\nnope", "tags", "")
	if r.status != 200 {
		t.Fatalf("paste: %d %s", r.status, r.body)
	}
	mustContain(t, "paste result", r.body, `id="import-imported">1<`, `id="import-updated">1<`, `id="import-invalid">1<`, "&#34;nope&#34; is not a phone number.")
}

func TestContactsListPage(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, _ := env.signup(t, "pages@example.com")

	r := env.do(t, c, "GET", "/app/contacts", "")
	mustContain(t, "empty list", r.body, `id="contacts-empty"`, "No contacts yet", `href="/app/contacts/import"`, `id="export-contacts"`)

	var numbers strings.Builder
	for i := range 55 {
		fmt.Fprintf(&numbers, "+55119876500%02d, Lead %02d\n", i, i)
	}
	importCSV(t, env, c, "phone,name,tags\n+14155552671,Maria <b>Bold</b>,vip\n")
	body, ctype := multipartBody(t, "numbers", numbers.String())
	if r := env.do(t, c, "POST", "/app/contacts/import", body, "Content-Type", ctype); r.status != 200 {
		t.Fatalf("paste: %d", r.status)
	}
	if r := env.do(t, c, "POST", "/app/contacts/14155552671/opt-out", ""); r.status != http.StatusSeeOther {
		t.Fatalf("opt-out form: %d", r.status)
	}

	r = env.do(t, c, "GET", "/app/contacts", "")
	mustContain(t, "list", r.body, `<tr data-phone="14155552671">`, "&#43;14155552671", "Maria &lt;b&gt;Bold&lt;/b&gt;",
		`<span class="chip chip-danger"`, "opted out", `<span class="chip chip-muted">new</span>`, `<span class="chip chip-muted">vip</span>`,
		`<option value="vip" >vip (1)</option>`, `hx-trigger="keyup changed delay:300ms`, `action="/app/contacts/14155552671/opt-in"`,
		`href="/app/contacts/14155552671/delete"`, `id="more-row"`, "Show more")
	if n := strings.Count(r.body, "<tr data-phone="); n != 50 {
		t.Errorf("first page has %d rows, want 50", n)
	}
	cursor := regexp.MustCompile(`cursor=(\d+)`).FindStringSubmatch(r.body)
	if cursor == nil {
		t.Fatal("no cursor in Show more")
	}
	more := env.do(t, c, "GET", "/app/contacts?cursor="+cursor[1], "", "HX-Request", "true")
	if strings.Contains(more.body, "<html") || strings.Count(more.body, "<tr data-phone=") != 6 || strings.Contains(more.body, `id="more-row"`) {
		t.Errorf("Show more fragment: %d rows, html=%v", strings.Count(more.body, "<tr data-phone="), strings.Contains(more.body, "<html"))
	}

	search := env.do(t, c, "GET", "/app/contacts?search=maria", "", "HX-Request", "true", "HX-Target", "contacts-table")
	if !strings.HasPrefix(strings.TrimSpace(search.body), `<div id="contacts-table">`) || strings.Count(search.body, "<tr data-phone=") != 1 {
		t.Errorf("search fragment: %.200s", search.body)
	}
	none := env.do(t, c, "GET", "/app/contacts?search=zzz&tag=vip", "")
	mustContain(t, "no match", none.body, "No contacts match.", `value="zzz"`, `<option value="vip" selected>`)

	confirm := env.do(t, c, "GET", "/app/contacts/+14155552671/delete", "")
	mustContain(t, "delete confirmation", confirm.body, "Delete this contact?", `action="/app/contacts/14155552671/delete"`, "cannot be undone")
	if r := env.do(t, c, "POST", "/app/contacts/14155552671/delete", ""); r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/contacts" {
		t.Fatalf("delete form: %d %v", r.status, r.header)
	}
	if r := env.do(t, c, "GET", "/app/contacts/14155552671/delete", ""); r.status != 404 {
		t.Errorf("confirmation for an erased contact: %d", r.status)
	}
}
