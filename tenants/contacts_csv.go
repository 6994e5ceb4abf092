package tenants

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Reading the lead lists people export from spreadsheets, CRMs and phone
// contact apps: any of the usual delimiters, byte-order marks, UTF-16 and
// Latin-1 files, header names in English, Portuguese and Spanish, and files
// with no header row at all.

// MaxImportBytes is the largest file an import accepts: 20 MiB is about
// 400,000 rows, far more than a small business's lead list, and small
// enough to hold in memory while it is read.
const MaxImportBytes = 20 << 20

// PreviewRows is how many data rows a preview shows.
const PreviewRows = 5

// NoColumn marks a field that the file does not have.
const NoColumn = -1

// ColumnMapping says which column (counting from 0) holds each field.
type ColumnMapping struct {
	Phone, Name, Tags, OptIn int
}

// CSVPreview is what the import wizard shows before importing: the columns,
// the first rows and the mapping guessed from the header names.
type CSVPreview struct {
	Headers   []string // "Column 1"… when the file has no header row
	HasHeader bool
	Rows      [][]string // the first PreviewRows data rows
	Total     int        // data rows in the file
	Mapping   ColumnMapping
	Delimiter rune
}

// csvTable is an opened CSV file: its header (real or made up) and a reader
// positioned after the rows read to find it.
type csvTable struct {
	r         *csv.Reader
	headers   []string
	hasHeader bool
	ahead     [][]string // data rows already read, to be returned first
	delim     rune
	guess     ColumnMapping
}

// openCSV checks and decodes the bytes, sniffs the delimiter and reads the
// first row to decide whether it is a header.
func openCSV(data []byte) (*csvTable, error) {
	text, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	t := &csvTable{delim: sniffDelimiter(text)}
	t.r = csv.NewReader(strings.NewReader(text))
	t.r.Comma, t.r.FieldsPerRecord, t.r.LazyQuotes, t.r.TrimLeadingSpace = t.delim, -1, true, true
	first, err := t.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, Invalid("file", "The file is empty.")
	} else if err != nil {
		return nil, Invalid("file", "The file could not be read as CSV: %v", err)
	}
	t.guess = guessMapping(first)
	if t.guess.Phone == NoColumn {
		if col := phoneLikeColumn(first); col != NoColumn { // no header: the first row is data
			t.headers = make([]string, len(first))
			for i := range first {
				t.headers[i] = "Column " + strconv.Itoa(i+1)
			}
			t.ahead = [][]string{first}
			t.guess = ColumnMapping{Phone: col, Name: textColumn(first, col), Tags: NoColumn, OptIn: NoColumn}
			return t, nil
		}
	}
	t.headers, t.hasHeader = trimAll(first), true
	return t, nil
}

// next returns the next data row, io.EOF at the end.
func (t *csvTable) next() ([]string, error) {
	if len(t.ahead) > 0 {
		rec := t.ahead[0]
		t.ahead = t.ahead[1:]
		return rec, nil
	}
	return t.r.Read()
}

// firstRow is the row number (as a spreadsheet counts) of the first data row.
func (t *csvTable) firstRow() int {
	if t.hasHeader {
		return 2
	}
	return 1
}

// checkMapping refuses a mapping without a phone column or naming columns
// the file does not have.
func (t *csvTable) checkMapping(m ColumnMapping) error {
	if m.Phone == NoColumn {
		return Invalid("phone_col", "No phone number column: none of the columns (%s) is named like one. Say which column holds the numbers.", strings.Join(t.headers, ", "))
	}
	for _, f := range []struct {
		field string
		col   int
	}{{"phone_col", m.Phone}, {"name_col", m.Name}, {"tags_col", m.Tags}, {"optin_col", m.OptIn}} {
		if f.col < NoColumn || f.col >= len(t.headers) {
			return Invalid(f.field, "Column %d does not exist: the file has %d columns.", f.col+1, len(t.headers))
		}
	}
	return nil
}

// ResolveColumn reads a column reference for field (e.g. "phone_col"): a
// header name (case and accents ignored), a column number counting from 1,
// "none" or "-" for no column, or "" for the guessed column.
func (p CSVPreview) ResolveColumn(field, ref string, guessed int) (int, error) {
	ref = strings.TrimSpace(ref)
	switch strings.ToLower(ref) {
	case "":
		return guessed, nil
	case "none", "-":
		return NoColumn, nil
	}
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 1 {
			return 0, Invalid(field, "Columns are numbered from 1.")
		}
		if n > len(p.Headers) {
			return 0, Invalid(field, "Column %d does not exist: the file has %d columns.", n, len(p.Headers))
		}
		return n - 1, nil
	}
	for i, h := range p.Headers {
		if headerKey(h) == headerKey(ref) {
			return i, nil
		}
	}
	return 0, Invalid(field, "No column named %q; the columns are: %s.", ref, strings.Join(p.Headers, ", "))
}

// decodeText turns the file into UTF-8 text without a byte-order mark.
func decodeText(data []byte) (string, error) {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return "", Invalid("file", "The file is empty.")
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "", Invalid("file", "This is an Excel workbook, not a CSV file: in Excel choose File → Save As → CSV, then upload that file.")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], data[0] == 0xFE), nil // Excel's "Unicode text"
	case bytes.IndexByte(data, 0) >= 0:
		return "", Invalid("file", "This does not look like a CSV text file.")
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if utf8.Valid(data) {
		return string(data), nil
	}
	runes := make([]rune, len(data)) // Latin-1, what older Excel versions save
	for i, b := range data {
		runes[i] = rune(b)
	}
	return string(runes), nil
}

func decodeUTF16(b []byte, bigEndian bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return string(utf16.Decode(u))
}

// sniffDelimiter picks the most frequent of , ; and tab outside quotes on the
// first line: Excel uses ; where the decimal separator is a comma.
func sniffDelimiter(text string) rune {
	line, _, _ := strings.Cut(strings.TrimLeft(text, "\r\n"), "\n")
	counts := map[rune]int{}
	quoted := false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ',' || r == ';' || r == '\t'):
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

// Header names per field, as keys (see headerKey). Exact matches win over
// names that merely contain one of the words.
var (
	phoneHeaders = []string{"phone", "phone number", "telephone", "tel", "telefone", "telefono", "fone", "celular", "cel",
		"movil", "mobile", "mobile phone", "cell", "cellphone", "whatsapp", "wa", "numero", "number", "msisdn", "contact number"}
	nameHeaders = []string{"name", "full name", "nome", "nombre", "nome completo", "nombre completo", "contact", "contact name",
		"cliente", "client", "customer", "first name", "given name", "primeiro nome", "nom", "lead"}
	tagHeaders   = []string{"tags", "tag", "etiquetas", "etiqueta", "labels", "label", "grupo", "group", "groups", "segmento", "segment", "categoria", "category", "lista", "list"}
	optInHeaders = []string{"opt in", "optin", "opt in whatsapp", "consent", "consentimento", "consentimiento", "aceita", "acepta",
		"permission", "permissao", "permiso", "subscribed", "inscrito", "suscrito", "marketing"}
	// notPhoneWords exclude columns like Google Contacts' "Phone 1 - Type".
	notPhoneWords = []string{"type", "tipo", "label", "opt", "consent"}
)

// guessMapping maps header cells to fields: first exact names, then names
// containing a known word; a column serves one field.
func guessMapping(header []string) ColumnMapping {
	m := ColumnMapping{Phone: NoColumn, Name: NoColumn, Tags: NoColumn, OptIn: NoColumn}
	fields := []struct {
		col   *int
		names []string
	}{{&m.OptIn, optInHeaders}, {&m.Tags, tagHeaders}, {&m.Phone, phoneHeaders}, {&m.Name, nameHeaders}}
	used := map[int]bool{}
	for _, exact := range []bool{true, false} {
		for _, f := range fields {
			for i, h := range header {
				if *f.col != NoColumn || used[i] {
					continue
				}
				key := headerKey(h)
				if f.col == &m.Phone && !exact && containsWord(key, notPhoneWords) {
					continue
				}
				if (exact && listHas(f.names, key)) || (!exact && containsWord(key, f.names)) {
					*f.col, used[i] = i, true
				}
			}
		}
	}
	return m
}

// headerKey lower-cases a header, drops accents and keeps words of letters
// and digits: "Número de WhatsApp" → "numero de whatsapp".
func headerKey(h string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(h) {
		r = unaccent(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(r)
			space = false
		} else {
			space = true
		}
	}
	return b.String()
}

var accents = strings.NewReplacer("á", "a", "à", "a", "â", "a", "ã", "a", "ä", "a", "é", "e", "ê", "e", "è", "e", "í", "i", "î", "i",
	"ó", "o", "ô", "o", "õ", "o", "ö", "o", "ú", "u", "ü", "u", "ç", "c", "ñ", "n")

func unaccent(r rune) rune {
	if r < 0x80 {
		return r
	}
	s := accents.Replace(string(r))
	out, _ := utf8.DecodeRuneInString(s)
	return out
}

func listHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// containsWord reports whether key has one of names as a whole word run.
func containsWord(key string, names []string) bool {
	padded := " " + key + " "
	for _, n := range names {
		if strings.Contains(padded, " "+n+" ") {
			return true
		}
	}
	return false
}

// phoneLikeColumn finds a cell that is a phone number rather than a header.
func phoneLikeColumn(row []string) int {
	for i, cell := range row {
		digits := 0
		ok := true
		for _, r := range strings.TrimSpace(cell) {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case !strings.ContainsRune("+-() .", r):
				ok = false
			}
		}
		if ok && digits >= 7 {
			return i
		}
	}
	return NoColumn
}

// textColumn guesses the name column of a headerless file: the first other
// cell with letters in it.
func textColumn(row []string, skip int) int {
	for i, cell := range row {
		if i != skip && strings.IndexFunc(cell, unicode.IsLetter) >= 0 {
			return i
		}
	}
	return NoColumn
}

func trimAll(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = strings.TrimSpace(c)
		if out[i] == "" {
			out[i] = fmt.Sprintf("Column %d", i+1)
		}
	}
	return out
}
