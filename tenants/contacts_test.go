package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGuessMapping(t *testing.T) {
	tests := []struct {
		header string
		want   ColumnMapping // Phone, Name, Tags, OptIn
	}{
		{"phone,name,tags,opt-in", ColumnMapping{0, 1, 2, 3}},
		{"Nome;Telefone;Etiquetas;Aceita receber", ColumnMapping{1, 0, 2, 3}},
		{"Nombre,Teléfono,Etiqueta,Consentimiento", ColumnMapping{1, 0, 2, 3}},
		{"Número de WhatsApp,Nome completo", ColumnMapping{0, 1, NoColumn, NoColumn}},
		{"First Name,Last Name,Phone 1 - Type,Phone 1 - Value", ColumnMapping{3, 0, NoColumn, NoColumn}},
		{"Mobile,Customer,Group,WhatsApp opt-in", ColumnMapping{0, 1, 2, 3}},
		{"celular,cliente,segmento,consent", ColumnMapping{0, 1, 2, 3}},
		{"email,city", ColumnMapping{NoColumn, NoColumn, NoColumn, NoColumn}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			sep := ","
			if strings.Contains(tt.header, ";") {
				sep = ";"
			}
			if got := guessMapping(strings.Split(tt.header, sep)); got != tt.want {
				t.Fatalf("guessMapping = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPreviewFileShapes(t *testing.T) {
	c, _ := newTestContacts()
	tests := []struct {
		name, file string
		headers    []string
		delim      rune
		phone      int
		total      int
		err        string // substring of an invalid-file message
	}{
		{"comma", "phone,name\n5511987654321,Ana\n", []string{"phone", "name"}, ',', 0, 1, ""},
		{"semicolon with BOM", "\xEF\xBB\xBFNome;Telefone\r\nAna;5511987654321\r\n", []string{"Nome", "Telefone"}, ';', 1, 1, ""},
		{"tab", "name\tphone\nAna\t5511987654321\n\n\n", []string{"name", "phone"}, '\t', 1, 1, ""},
		{"quoted delimiters", "\"name, full\";\"phone\"\n\"Silva; Ana\";\"5511987654321\"\n", []string{"name, full", "phone"}, ';', 1, 1, ""},
		{"no header", "Ana,+55 11 98765-4321\nBia,+55 11 98765-4322\n", []string{"Column 1", "Column 2"}, ',', 1, 2, ""},
		{"latin-1", "Nome;Telefone\nJo\xe3o;5511987654321\n", []string{"Nome", "Telefone"}, ';', 1, 1, ""},
		{"utf-16", "\xFF\xFEp\x00h\x00o\x00n\x00e\x00\n\x001\x002\x003\x004\x005\x006\x007\x008\x009\x000\x00", []string{"phone"}, ',', 0, 1, ""},
		{"empty", " \n\r\n", nil, 0, 0, 0, "empty"},
		{"xlsx", "PK\x03\x04\x14\x00", nil, 0, 0, 0, "Excel"},
		{"binary", "ab\x00cd", nil, 0, 0, 0, "CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Preview([]byte(tt.file))
			if tt.err != "" {
				if ErrorCode(err) != EINVALID || ErrorField(err) != "file" || !strings.Contains(ErrorMessage(err), tt.err) {
					t.Fatalf("err = %v, want invalid file %q", err, tt.err)
				}
				return
			}
			if err != nil || !cmp.Equal(p.Headers, tt.headers) || p.Delimiter != tt.delim || p.Mapping.Phone != tt.phone || p.Total != tt.total {
				t.Fatalf("preview = %+v, %v", p, err)
			}
		})
	}
	if p, _ := c.Preview([]byte("João;5511987654321\n")); len(p.Rows) != 1 || p.Rows[0][0] != "João" {
		t.Fatalf("latin-1 decoding: %+v", p.Rows)
	}
}

func TestImportRowsAndDuplicates(t *testing.T) {
	c, st := newTestContacts()
	file := "Telefone;Nome;Tags;Opt-in\n" + // row 1
		"+55 11 98765-4321;Ana;Cliente, VIP;sim\n" + // 2
		"12345;Bad;;\n" + // 3: bad number
		";No phone;;\n" + // 4
		";;;\n" + // 5: blank, skipped
		"5511987654321;Ana Maria;sp|#Feira 2026;\n" + // 6: repeats row 2
		"5511987654322;Bia;bad/tag;\n" + // 7
		"5511987654323;;;x\n" // 8
	res, err := c.Import(context.Background(), Tenant{ID: "t"}, []byte(file), ColumnMapping{0, 1, 2, 3}, []string{"Import 1"})
	if err != nil {
		t.Fatal(err)
	}
	want := ImportResult{Rows: 6, Imported: 2, Merged: 1, Invalid: []RowError{
		{Row: 3, Value: "12345", Reason: `"12345" is not a valid phone number.`},
		{Row: 4, Reason: "No phone number in this row."},
		{Row: 7, Value: "bad/tag", Reason: `Tag "bad/tag" may only hold letters, digits, spaces, '_' and '-'.`},
	}}
	if d := cmp.Diff(want, res); d != "" {
		t.Fatalf("result (-want +got):\n%s", d)
	}
	ana := st.m["5511987654321"]
	if ana.Name != "Ana Maria" || !ana.OptIn || !cmp.Equal(ana.Tags, []string{"cliente", "vip", "import 1", "sp", "feira 2026"}) {
		t.Fatalf("merged row = %+v", ana)
	}
	if !st.m["5511987654323"].OptIn {
		t.Fatal("opt-in x not read as yes")
	}
}

// TestImportDuplicatesAcrossChunks checks the accounting when a repeat
// falls in a later chunk than the number's first row.
func TestImportDuplicatesAcrossChunks(t *testing.T) {
	c, st := newTestContacts()
	var b strings.Builder
	b.WriteString("phone,name\n")
	for i := range 2500 {
		fmt.Fprintf(&b, "55119%08d,n%d\n", i%2000, i)
	}
	if _, _, err := st.UpsertContacts(context.Background(), "t", []Contact{{Phone: "5511900000007"}}, c.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := c.Import(context.Background(), Tenant{ID: "t"}, []byte(b.String()), ColumnMapping{0, 1, NoColumn, NoColumn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2500 || res.Imported != 1999 || res.Updated != 1 || res.Merged != 500 || len(res.Invalid) != 0 || st.calls < 3 {
		t.Fatalf("result = %+v after %d store calls", res, st.calls)
	}
	if got := st.m["5511900000010"].Name; got != "n2010" {
		t.Fatalf("name of a repeated number = %q, want the later row's", got)
	}
}

func TestImportRefusals(t *testing.T) {
	c, _ := newTestContacts()
	ctx := context.Background()
	_, err := c.Import(ctx, Tenant{ID: "t"}, []byte("email,city\na@b.c,Rio\n"), ColumnMapping{NoColumn, NoColumn, NoColumn, NoColumn}, nil)
	if ErrorField(err) != "phone_col" || !strings.Contains(ErrorMessage(err), "email, city") {
		t.Fatalf("no phone column: %v", err)
	}
	_, err = c.Import(ctx, Tenant{ID: "t"}, []byte("phone\n5511987654321\n"), ColumnMapping{0, 3, NoColumn, NoColumn}, nil)
	if ErrorField(err) != "name_col" {
		t.Fatalf("mapping beyond the columns: %v", err)
	}
	_, err = c.Import(ctx, Tenant{ID: "t"}, []byte("phone\n5511987654321\n"), ColumnMapping{0, NoColumn, NoColumn, NoColumn}, []string{strings.Repeat("x", 41)})
	if ErrorField(err) != "tags" {
		t.Fatalf("long extra tag: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Import(cancelled, Tenant{ID: "t"}, []byte("phone\n5511987654321\n"), ColumnMapping{0, NoColumn, NoColumn, NoColumn}, nil); err == nil {
		t.Fatal("import with a cancelled context succeeded")
	}
}

func TestParsePasted(t *testing.T) {
	got := parsePasted("+55 11 98765-4321\r\n\n5511987654322, Maria Silva\nJoão;5511987654323\n5511987654324; 5511987654325 ,5511987654326\n5511987654327\tAna\n")
	want := []pastedEntry{{1, "+55 11 98765-4321", ""}, {3, "5511987654322", "Maria Silva"}, {4, "5511987654323", "João"},
		{5, "5511987654324", ""}, {5, "5511987654325", ""}, {5, "5511987654326", ""}, {6, "5511987654327", "Ana"}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(pastedEntry{})); d != "" {
		t.Fatalf("parsePasted (-want +got):\n%s", d)
	}
	c, st := newTestContacts()
	res, err := c.ImportPasted(context.Background(), Tenant{ID: "t"}, "5511987654322, Maria\nnope\n5511987654322", []string{"feira"})
	if err != nil || res.Imported != 1 || res.Merged != 1 || len(res.Invalid) != 1 || res.Invalid[0].Row != 2 {
		t.Fatalf("ImportPasted = %+v, %v", res, err)
	}
	if m := st.m["5511987654322"]; m.Name != "Maria" || m.Source != SourcePaste || !cmp.Equal(m.Tags, []string{"feira"}) {
		t.Fatalf("pasted contact = %+v", m)
	}
	if _, err := c.ImportPasted(context.Background(), Tenant{ID: "t"}, " \n ,; ", nil); ErrorField(err) != "numbers" {
		t.Fatalf("nothing pasted: %v", err)
	}
}

func TestTagsAndValues(t *testing.T) {
	for raw, want := range map[string]string{" VIP ": "vip", "#Feira  2026": "feira 2026", "São Paulo": "são paulo", "a_b-c": "a_b-c", "-x-": "x"} {
		if got, err := NormalizeTag(raw); err != nil || got != want {
			t.Errorf("NormalizeTag(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "#", "a/b", "a.b", strings.Repeat("é", 41)} {
		if _, err := NormalizeTag(bad); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeTag(%q) err = %v, want invalid", bad, err)
		}
	}
	if got := SplitTags("a, b;c|d,,"); !cmp.Equal(got, []string{"a", " b", "c", "d"}) {
		t.Errorf("SplitTags = %q", got)
	}
	for v, want := range map[string]bool{"yes": true, "Sí": true, "SIM": true, "true": true, "1": true, "x": true, "no": false, "não": false, "": false, "0": false} {
		if csvTruthy(v) != want {
			t.Errorf("csvTruthy(%q) != %v", v, want)
		}
	}
	p := CSVPreview{Headers: []string{"Telefone", "Nome"}}
	for ref, want := range map[string]int{"": 5, "telefone": 0, " NOME ": 1, "2": 1, "none": NoColumn} {
		if got, err := p.ResolveColumn("name_col", ref, 5); err != nil || got != want {
			t.Errorf("ResolveColumn(%q) = %d, %v; want %d", ref, got, err, want)
		}
	}
	for _, bad := range []string{"0", "3", "email"} {
		if _, err := p.ResolveColumn("name_col", bad, 0); ErrorField(err) != "name_col" {
			t.Errorf("ResolveColumn(%q) err = %v", bad, err)
		}
	}
}

func TestListValidates(t *testing.T) {
	c, _ := newTestContacts()
	for _, q := range []ContactQuery{{Limit: 201}, {Limit: -1}, {Cursor: "abc"}, {Tag: "a/b"}, {Search: strings.Repeat("x", 101)}} {
		if _, err := c.List(context.Background(), "t", q); ErrorCode(err) != EINVALID {
			t.Errorf("List(%+v) err = %v, want invalid", q, err)
		}
	}
}

// failingContacts fails every upsert after the first.
type failingContacts struct{ *memContacts }

func (s failingContacts) UpsertContacts(ctx context.Context, tenantID string, cs []Contact, now time.Time) (int, int, error) {
	if s.calls > 0 {
		return 0, 0, errors.New("disk full")
	}
	return s.memContacts.UpsertContacts(ctx, tenantID, cs, now)
}

// TestImportStoreFailure checks that a store failure part-way ends the
// import with that error, and that the reading goroutine stops.
func TestImportStoreFailure(t *testing.T) {
	c, st := newTestContacts()
	c.Store = failingContacts{st}
	var b strings.Builder
	b.WriteString("phone\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "55119%08d\n", i)
	}
	_, err := c.Import(context.Background(), Tenant{ID: "t"}, []byte(b.String()), ColumnMapping{0, NoColumn, NoColumn, NoColumn}, nil)
	if err == nil || err.Error() != "disk full" || len(st.m) != importChunk {
		t.Fatalf("err = %v with %d saved; want the store's error after one chunk", err, len(st.m))
	}
}
