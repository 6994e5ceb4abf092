package httpapi

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
)

// withContacts wires the contacts use case over the env's real store (the
// harness passes it as the credits port) with the real phone parser.
func withContacts() envOption {
	return func(cfg *Config, d *Deps) {
		d.Contacts = &tenants.Contacts{Store: d.Credits.(*store.Store), Phones: whatsapp.Phones{}, Now: cfg.Now, Logger: cfg.Logger}
	}
}

// setRegion sets a tenant's default phone region, as Settings would.
func setRegion(t *testing.T, env *testEnv, tenantID, region string) {
	t.Helper()
	tn, err := env.store.Tenant(t.Context(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	tn.Region = region
	if err := env.store.PutTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
}

// multipartBody builds a multipart form; a field named "file" is a file.
func multipartBody(t *testing.T, fields ...string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		var err error
		if fields[i] == "file" {
			var fw interface{ Write([]byte) (int, error) }
			if fw, err = w.CreateFormFile("file", "leads.csv"); err == nil {
				_, err = fw.Write([]byte(fields[i+1]))
			}
		} else {
			err = w.WriteField(fields[i], fields[i+1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func TestContactImportScenarios(t *testing.T) {
	env := newTestEnv(t, withContacts())
	multi, multiType := multipartBody(t, "file", "Telefone;Nome\n11 98765-4310;Multi\n", "tags", "Feira, 2026")
	tests := []struct {
		name, query, body, ctype string
		status                   int
		want                     tenants.ImportResult // checked when status is 200
		errField                 string               // checked otherwise, when set
	}{
		{name: "good file", body: "phone,name,tags,opt_in\n+5511987654301,Ana,vip,yes\n+14155552671,Joe,\"us, west\",no\n", status: 200,
			want: tenants.ImportResult{Rows: 2, Imported: 2}},
		{name: "semicolon, local numbers, Portuguese headers", body: "Nome;Telefone;Etiquetas\nBia;(11) 98765-4302;sp\nCaio;011 98765-4303;rj\n", status: 200,
			want: tenants.ImportResult{Rows: 2, Imported: 2}},
		{name: "byte-order mark", body: "\xEF\xBB\xBFphone\r\n5511987654304\r\n", status: 200, want: tenants.ImportResult{Rows: 1, Imported: 1}},
		{name: "quoted fields", body: "\"name\",\"phone\"\n\"Silva, Dora \"\"D\"\"\",\"+55 (11) 98765-4305\"\n", status: 200, want: tenants.ImportResult{Rows: 1, Imported: 1}},
		{name: "duplicates merge", body: "phone,name\n5511987654306,Eva\n+55 11 98765-4306,Eva Maria\n5511987654301,\n", status: 200,
			want: tenants.ImportResult{Rows: 3, Imported: 1, Updated: 1, Merged: 1}},
		{name: "bad numbers", body: "phone,name\n12345,Short\nhello,Word\n\n5511987654307,Good\n", status: 200,
			want: tenants.ImportResult{Rows: 3, Imported: 1, Invalid: []tenants.RowError{
				{Row: 2, Value: "12345", Reason: `"12345" is not a valid BR phone number; add the country code if it is from another country.`},
				{Row: 3, Value: "hello", Reason: `"hello" is not a phone number.`}}}},
		{name: "mapping by name and number", query: "?phone_col=Cel&name_col=1&tags_col=none", body: "Apelido,Cel,Grupo\nFafa,5511987654308,x\n", status: 200,
			want: tenants.ImportResult{Rows: 1, Imported: 1}},
		{name: "multipart with tags", body: multi, ctype: multiType, status: 200, want: tenants.ImportResult{Rows: 1, Imported: 1}},
		{name: "empty file", body: "", status: 400, errField: "file"},
		{name: "no phone column", body: "email,city\na@b.co,Rio\n", status: 400, errField: "phone_col"},
		{name: "unknown column", query: "?phone_col=Fax", body: "phone\n5511987654301\n", status: 400, errField: "phone_col"},
		{name: "multipart without file", body: strings.Replace(multi, `name="file"; filename="leads.csv"`, `name="other"; filename="x.csv"`, 1), ctype: multiType, status: 400, errField: "file"},
		{name: "wrong content type", body: `{"phone":"1"}`, ctype: "application/json", status: 415},
		{name: "oversized", body: "phone\n" + strings.Repeat("5511987654301\n", 22<<20/14), status: 413},
	}
	c, acct := env.signup(t, "importer@example.com")
	setRegion(t, env, acct.TenantID, "BR")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "text/csv"
			}
			r := env.do(t, c, "POST", "/api/v1/contacts/import"+tt.query, tt.body, "Content-Type", ctype)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.status, r.body)
			}
			if r.status == 200 {
				got := decode[tenants.ImportResult](t, r)
				if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b []tenants.RowError) bool { return len(a)+len(b) == 0 || cmp.Equal(a, b) })); d != "" {
					t.Fatalf("result (-want +got):\n%s", d)
				}
			} else if tt.errField != "" {
				if e := decode[errorBody](t, r); e.Error.Field != tt.errField || e.Error.Message == "" {
					t.Fatalf("error = %+v, want field %s", e.Error, tt.errField)
				}
			}
		})
	}
	// What the scenarios stored, read back through the API.
	for phone, want := range map[string]tenants.Contact{
		"5511987654301": {Name: "Ana", Tags: []string{"vip"}, OptIn: true}, // a later row without name or tags kept both
		"14155552671":   {Name: "Joe", Tags: []string{"us", "west"}},
		"5511987654302": {Name: "Bia", Tags: []string{"sp"}},
		"5511987654303": {Name: "Caio", Tags: []string{"rj"}},
		"5511987654305": {Name: `Silva, Dora "D"`, Tags: []string{}},
		"5511987654306": {Name: "Eva Maria", Tags: []string{}},
		"5511987654308": {Name: "Fafa", Tags: []string{}},
		"5511987654310": {Name: "Multi", Tags: []string{"feira", "2026"}},
	} {
		got := decode[contactDetail](t, env.do(t, c, "GET", "/api/v1/contacts/"+phone, ""))
		if got.Name != want.Name || !cmp.Equal(got.Tags, want.Tags) || got.OptIn != want.OptIn || got.Source != "import" || got.LeadStatus != tenants.LeadNew {
			t.Errorf("contact %s = %+v, want %+v", phone, got.Contact, want)
		}
	}
	ana := decode[contactDetail](t, env.do(t, c, "GET", "/api/v1/contacts/+5511987654301", ""))
	if ana.Phone != "5511987654301" || len(ana.ConsentLog) != 1 || ana.ConsentLog[0].OptOut || ana.ConsentLog[0].Source != "import" {
		t.Errorf("Ana by +E.164, with the import's opt-in logged: %+v", ana)
	}
}

// importCSV imports a small file through the API and checks it worked.
func importCSV(t *testing.T, env *testEnv, c *http.Client, file string) tenants.ImportResult {
	t.Helper()
	r := env.do(t, c, "POST", "/api/v1/contacts/import", file, "Content-Type", "text/csv")
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	return decode[tenants.ImportResult](t, r)
}

func TestContactListSearchAndPages(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, _ := env.signup(t, "lister@example.com")
	importCSV(t, env, c, "phone,name,tags\n"+
		"+5511987650001,Ana Souza,vip\n+5511987650002,Bruno,\n+5511987650003,ana lima,\"vip,sp\"\n"+
		"+14155552671,Zed,sp\n+447911123456,Olga,\n+34612345678,Pepe,vip\n+525512345678,Ximena,\n")
	if r := env.do(t, c, "POST", "/api/v1/contacts", `{"phone":"+55 11 98765-0004","name":"Api Person","tags":["Manual"]}`); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "POST", "/api/v1/contacts", `{"phone":"5511987650004","tags":["again"]}`); r.status != 200 || !strings.Contains(r.body, `"tags":["manual","again"]`) {
		t.Fatalf("create again (merge): %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "POST", "/api/v1/contacts", `{"phone":"123","name":"x"}`); r.status != 400 || !strings.Contains(r.body, `"field":"phone"`) {
		t.Fatalf("create with a bad number: %d %s", r.status, r.body)
	}
	list := func(query string) contactListResponse {
		t.Helper()
		r := env.do(t, c, "GET", "/api/v1/contacts"+query, "")
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		return decode[contactListResponse](t, r)
	}
	phones := func(l contactListResponse) (out []string) {
		for _, ct := range l.Contacts {
			out = append(out, ct.Phone)
		}
		return out
	}
	// Cursor pagination walks every contact once, in phone order.
	var all []string
	for cursor, pages := "", 0; ; pages++ {
		l := list("?limit=3&cursor=" + cursor)
		all = append(all, phones(l)...)
		if l.NextCursor == "" {
			if pages != 2 {
				t.Errorf("%d pages of 3 for 8 contacts", pages+1)
			}
			break
		}
		cursor = l.NextCursor
	}
	want := []string{"14155552671", "34612345678", "447911123456", "525512345678", "5511987650001", "5511987650002", "5511987650003", "5511987650004"}
	if d := cmp.Diff(want, all); d != "" {
		t.Fatalf("paged phones (-want +got):\n%s", d)
	}
	for query, want := range map[string][]string{
		"?search=ANA":                        {"5511987650001", "5511987650003"},
		"?search=%2B44%207911":               {"447911123456"},
		"?search=98765-0002":                 {"5511987650002"},
		"?tag=VIP":                           {"34612345678", "5511987650001", "5511987650003"},
		"?tag=vip&search=lima":               {"5511987650003"},
		"?tag=sp&limit=1&cursor=14155552671": {"5511987650003"},
		"?search=nobody":                     nil,
	} {
		if got := phones(list(query)); !cmp.Equal(got, want) {
			t.Errorf("list%s = %v, want %v", query, got, want)
		}
	}
	for _, bad := range []string{"?limit=0", "?limit=500", "?cursor=abc", "?tag=a/b"} {
		if r := env.do(t, c, "GET", "/api/v1/contacts"+bad, ""); r.status != 400 {
			t.Errorf("list%s: %d, want 400", bad, r.status)
		}
	}
}

func TestContactOptOutAndErase(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, acct := env.signup(t, "optout@example.com")
	importCSV(t, env, c, "phone,name,tags\n+5511987650001,Ana,\"vip,sp\"\n+5511987650002,Bia,vip\n")

	r := env.do(t, c, "POST", "/api/v1/contacts/5511987650001/opt-out", "")
	if got := decode[tenants.Contact](t, r); r.status != 200 || !got.OptedOut || got.OptedOutAt.IsZero() || got.LeadStatus != tenants.LeadOptedOut {
		t.Fatalf("opt-out: %d %s", r.status, r.body)
	}
	env.clock.Add(time.Minute)
	if r := env.do(t, c, "POST", "/api/v1/contacts/5511987650001/opt-in", ""); r.status != 200 || strings.Contains(r.body, `"opted_out":true`) {
		t.Fatalf("opt-in: %d %s", r.status, r.body)
	}
	env.do(t, c, "POST", "/api/v1/contacts/5511987650001/opt-out", "")
	// A later import never undoes an opt-out.
	importCSV(t, env, c, "phone,name\n+5511987650001,Ana Again\n")
	d := decode[contactDetail](t, env.do(t, c, "GET", "/api/v1/contacts/5511987650001", ""))
	var log []bool
	for _, ev := range d.ConsentLog {
		log = append(log, ev.OptOut)
		if ev.Source != tenants.SourceAPI || ev.At.IsZero() {
			t.Errorf("consent event %+v", ev)
		}
	}
	if !d.OptedOut || d.Name != "Ana Again" || !cmp.Equal(log, []bool{true, false, true}) {
		t.Fatalf("after opt-out, opt-in, opt-out and an import: opted_out=%v name=%q log=%v", d.OptedOut, d.Name, log)
	}

	if r := env.do(t, c, "DELETE", "/api/v1/contacts/5511987650001", ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/v1/contacts/5511987650001", "/api/v1/contacts/5511987650001/opt-out"} {
		method := map[bool]string{true: "GET", false: "POST"}[strings.HasSuffix(path, "01")]
		if r := env.do(t, c, method, path, ""); r.status != 404 {
			t.Errorf("%s %s after erase: %d", method, path, r.status)
		}
	}
	if r := env.do(t, c, "DELETE", "/api/v1/contacts/5511987650001", ""); r.status != 404 {
		t.Errorf("second delete: %d", r.status)
	}
	tags, err := env.store.ContactTags(t.Context(), acct.TenantID)
	if err != nil || !cmp.Equal(tags, []tenants.TagCount{{Tag: "vip", Contacts: 1}}) {
		t.Fatalf("tag index after erase = %+v, %v; want only Bia's vip", tags, err)
	}
	if log, err := env.store.ConsentLog(t.Context(), acct.TenantID, "5511987650001"); err != nil || len(log) != 0 {
		t.Fatalf("consent log after erase = %+v, %v", log, err)
	}
	if l := decode[contactListResponse](t, env.do(t, c, "GET", "/api/v1/contacts?tag=sp", "")); len(l.Contacts) != 0 {
		t.Fatalf("tag filter still finds the erased contact: %+v", l.Contacts)
	}
}

func TestContactExportRoundTrip(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, _ := env.signup(t, "export@example.com")
	importCSV(t, env, c, "phone,name,tags,opt_in\n+5511987650001,\"Silva, Ana\",\"vip,sp\",yes\n+14155552671,\"=HYPERLINK(\"\"x\"\")\",,no\n")
	env.do(t, c, "POST", "/api/v1/contacts/14155552671/opt-out", "")

	r := env.do(t, c, "GET", "/api/v1/contacts/export.csv", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 3 || !cmp.Equal(rows[0], tenants.ExportColumns) {
		t.Fatalf("export rows = %q, %v", rows, err)
	}
	if got := rows[1][:7]; !cmp.Equal(got, []string{"+14155552671", `'=HYPERLINK("x")`, "", "false", "true", rows[1][5], "opted_out"}) || rows[1][5] == "" {
		t.Errorf("opted-out row = %q (a formula must be defused)", rows[1])
	}
	if got := rows[2][:5]; !cmp.Equal(got, []string{"+5511987650001", "Silva, Ana", "vip, sp", "true", "false"}) {
		t.Errorf("row = %q", rows[2])
	}

	// The export imports back as the same contacts in another account.
	c2, _ := env.signup(t, "export2@example.com")
	if res := importCSV(t, env, c2, r.body); res.Imported != 2 || len(res.Invalid) != 0 {
		t.Fatalf("re-import of the export: %+v", res)
	}
	a := decode[contactListResponse](t, env.do(t, c, "GET", "/api/v1/contacts", ""))
	b := decode[contactListResponse](t, env.do(t, c2, "GET", "/api/v1/contacts", ""))
	strip := cmp.Transformer("basics", func(ct tenants.Contact) [4]string {
		return [4]string{ct.Phone, strings.TrimPrefix(ct.Name, "'"), strings.Join(ct.Tags, ","), fmt.Sprint(ct.OptIn)}
	})
	if d := cmp.Diff(a.Contacts, b.Contacts, strip); d != "" {
		t.Fatalf("round trip (-original +re-imported):\n%s", d)
	}
}

func TestContactAccessControl(t *testing.T) {
	env := newTestEnv(t, withContacts())
	a, _ := env.signup(t, "owner-a@example.com")
	b, _ := env.signup(t, "owner-b@example.com")
	importCSV(t, env, a, "phone\n+5511987650001\n")
	for _, tt := range []struct{ method, path string }{
		{"GET", "/api/v1/contacts/5511987650001"}, {"DELETE", "/api/v1/contacts/5511987650001"},
		{"POST", "/api/v1/contacts/5511987650001/opt-out"}, {"POST", "/api/v1/contacts/5511987650001/opt-in"},
	} {
		if r := env.do(t, b, tt.method, tt.path, ""); r.status != 404 {
			t.Errorf("another tenant %s %s: %d, want 404", tt.method, tt.path, r.status)
		}
	}
	if l := decode[contactListResponse](t, env.do(t, b, "GET", "/api/v1/contacts", "")); len(l.Contacts) != 0 {
		t.Errorf("another tenant lists %+v", l.Contacts)
	}
	anon := env.client()
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/api/v1/contacts", ""}, {"POST", "/api/v1/contacts", `{"phone":"5511987650009"}`},
		{"POST", "/api/v1/contacts/import", "phone\n5511987650009\n"}, {"GET", "/api/v1/contacts/export.csv", ""},
		{"GET", "/api/v1/contacts/5511987650001", ""}, {"DELETE", "/api/v1/contacts/5511987650001", ""},
		{"POST", "/api/v1/contacts/5511987650001/opt-out", ""},
	} {
		if r := env.do(t, anon, tt.method, tt.path, tt.body, "Content-Type", "text/csv"); r.status != 401 || !strings.Contains(r.body, `"unauthorized"`) {
			t.Errorf("anonymous %s %s: %d %s", tt.method, tt.path, r.status, r.body)
		}
	}
	if r := env.do(t, anon, "GET", "/app/contacts", ""); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("anonymous contacts page: %d %v", r.status, r.header.Get("Location"))
	}
}

// TestContactImportAboveServerBodyLimit serves the contact routes behind
// serverBodyLimit, the server-wide limit middleware, set to 4 KiB: files
// far above it import through the API and the wizard, while an ordinary
// route keeps the small limit.
func TestContactImportAboveServerBodyLimit(t *testing.T) {
	env := newTestEnv(t, withContacts())
	c, _ := env.signup(t, "bigfile@example.com")
	e := echo.New()
	e.HTTPErrorHandler = env.api.handleError
	e.Use(serverBodyLimit("4K"))
	env.api.registerContactRoutes(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	direct := &testEnv{srv: srv, store: env.store, clock: env.clock, api: env.api}
	c.Jar.SetCookies(mustURL(t, srv.URL), c.Jar.Cookies(mustURL(t, env.srv.URL)))

	var file strings.Builder
	file.WriteString("phone,name\n")
	for i := range 3000 {
		fmt.Fprintf(&file, "+1415555%04d,Lead number %d\n", i, i)
	}
	if r := direct.do(t, c, "POST", "/api/v1/contacts/import", file.String(), "Content-Type", "text/csv"); r.status != 200 || !strings.Contains(r.body, `"imported":3000`) {
		t.Fatalf("API import of %d bytes: %d %.200s", file.Len(), r.status, r.body)
	}
	body, ctype := multipartBody(t, "file", strings.ReplaceAll(file.String(), "+1415", "+1212"))
	r := direct.do(t, c, "POST", "/app/contacts/import", body, "Content-Type", ctype)
	if r.status != 200 {
		t.Fatalf("wizard upload: %d", r.status)
	}
	body, ctype = multipartBody(t, "upload", hiddenValue(t, r.body, "upload"), "phone_col", "1", "name_col", "2")
	if r := direct.do(t, c, "POST", "/app/contacts/import/run", body, "Content-Type", ctype); r.status != 200 || !strings.Contains(r.body, `id="import-imported">3,000<`) {
		t.Fatalf("wizard run: %d", r.status)
	}
	if r := direct.do(t, c, "POST", "/api/v1/contacts", `{"phone":"+14155550000","name":"`+strings.Repeat("x", 5000)+`"}`); r.status != 413 {
		t.Fatalf("ordinary route above the server limit: %d", r.status)
	}
}
