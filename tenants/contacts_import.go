package tenants

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ImportResult is what an import did. Every non-blank data row ends up in
// exactly one of Imported (a new contact), Updated (merged into a contact
// already on the list), Merged (repeated a number seen earlier in the same
// file, whose row it was merged into) or Invalid.
type ImportResult struct {
	Rows     int        `json:"rows"`
	Imported int        `json:"imported"`
	Updated  int        `json:"updated"`
	Merged   int        `json:"merged"`
	Invalid  []RowError `json:"invalid"`
}

// RowError is one row that was not imported, numbered as a spreadsheet
// numbers rows (the header is row 1), with the offending value and why.
type RowError struct {
	Row    int    `json:"row"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// importChunk is how many contacts go to the store per call; the store splits
// further to fit its transaction limits. One commit (one fsync) per few
// hundred rows instead of per row is what makes 50,000 rows take seconds.
const importChunk = 1000

// Preview reads a CSV file for the import wizard: columns, first rows, row
// count and the guessed mapping.
func (c *Contacts) Preview(data []byte) (CSVPreview, error) {
	t, err := openCSV(data)
	if err != nil {
		return CSVPreview{}, err
	}
	p := CSVPreview{Headers: t.headers, HasHeader: t.hasHeader, Mapping: t.guess, Delimiter: t.delim}
	for {
		rec, err := t.next()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) { // a row Import will report
			p.Total++
			continue
		} else if err != nil {
			return CSVPreview{}, err
		}
		if csvBlank(rec) {
			continue
		}
		p.Total++
		if len(p.Rows) < PreviewRows {
			p.Rows = append(p.Rows, append([]string(nil), rec...))
		}
	}
}

// Import adds the contacts of a CSV file to the tenant's list, reading
// numbers without a country code as numbers of the tenant's region. Rows
// repeating a number merge into one contact (later rows win for the name,
// tags add up); bad rows are reported, not fatal. extraTags go on every
// imported contact.
func (c *Contacts) Import(ctx context.Context, t Tenant, data []byte, m ColumnMapping, extraTags []string) (ImportResult, error) {
	started := time.Now()
	extra, err := normalizeTags(extraTags, "tags")
	if err != nil {
		return ImportResult{}, err
	}
	tbl, err := openCSV(data)
	if err != nil {
		return ImportResult{}, err
	}
	if err := tbl.checkMapping(m); err != nil {
		return ImportResult{}, err
	}
	region := t.RegionOrDefault()
	return c.run(ctx, t.ID, SourceImport, extra, started, func(b *importBatch) error {
		for row := tbl.firstRow(); ; row++ {
			if row%1024 == 0 && b.abandoned() {
				return errAbandoned
			}
			rec, err := tbl.next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				b.invalid(row, "", "This row could not be read: "+pe.Err.Error())
				continue
			} else if err != nil {
				return err
			}
			if !csvBlank(rec) {
				if err := b.add(row, c.rowContact(rec, m, region)); err != nil {
					return err
				}
			}
		}
	})
}

// ImportPasted adds numbers pasted into a text box: one per line, or several
// on a line separated by commas or semicolons; a line may be "number, name"
// (or a tab between them, as pasted from a spreadsheet).
func (c *Contacts) ImportPasted(ctx context.Context, t Tenant, text string, extraTags []string) (ImportResult, error) {
	started := time.Now()
	extra, err := normalizeTags(extraTags, "tags")
	if err != nil {
		return ImportResult{}, err
	}
	if len(text) > MaxImportBytes {
		return ImportResult{}, Invalid("numbers", "Paste at most 20 MiB of numbers; upload a CSV file for more.")
	}
	entries := parsePasted(text)
	if len(entries) == 0 {
		return ImportResult{}, Invalid("numbers", "Paste at least one phone number.")
	}
	pasted := ColumnMapping{Phone: 0, Name: 1, Tags: NoColumn, OptIn: NoColumn}
	return c.run(ctx, t.ID, SourcePaste, extra, started, func(b *importBatch) error {
		for _, e := range entries {
			if err := b.add(e.row, c.rowContact([]string{e.phone, e.name}, pasted, t.RegionOrDefault())); err != nil {
				return err
			}
		}
		return nil
	})
}

// parsedRow is a row turned into a contact, or the reason it could not be.
type parsedRow struct {
	contact Contact
	value   string // the offending cell when err is set
	err     error
}

// rowContact reads one data row through the mapping.
func (c *Contacts) rowContact(rec []string, m ColumnMapping, region string) parsedRow {
	raw := csvCell(rec, m.Phone)
	if raw == "" {
		return parsedRow{err: Invalid("phone", "No phone number in this row.")}
	}
	phone, err := c.Phones.Normalize(raw, region)
	if err != nil {
		return parsedRow{value: raw, err: err}
	}
	tags, err := normalizeTags(SplitTags(csvCell(rec, m.Tags)), "tags")
	if err != nil {
		return parsedRow{value: csvCell(rec, m.Tags), err: err}
	}
	return parsedRow{contact: Contact{Phone: phone, Name: cleanName(csvCell(rec, m.Name)), Tags: tags, OptIn: csvTruthy(csvCell(rec, m.OptIn))}}
}

// importBatch gathers the contacts of one import into chunks for the store,
// merging repeated numbers: within the chunk being filled directly, and
// into earlier chunks by sending the number again (the store merges it the
// same way) while counting it as merged, not as updated.
type importBatch struct {
	res     ImportResult // rows, merged within a chunk, invalid
	source  string
	extra   []string
	chunk   []Contact
	index   map[string]int  // phone → position in chunk
	flushed map[string]bool // phones sent in earlier chunks
	repeats int             // contacts in chunk whose phone is in flushed
	out     chan<- importChunkMsg
	done    <-chan struct{}
}

type importChunkMsg struct {
	contacts []Contact
	repeats  int
}

func (b *importBatch) invalid(row int, value, reason string) {
	b.res.Rows++
	b.res.Invalid = append(b.res.Invalid, RowError{Row: row, Value: value, Reason: reason})
}

// add takes one parsed row; it blocks while the store is behind and fails
// once the import is abandoned.
func (b *importBatch) add(row int, p parsedRow) error {
	if p.err != nil {
		b.invalid(row, p.value, ErrorMessage(p.err))
		return nil
	}
	b.res.Rows++
	ct := p.contact
	ct.Source = b.source
	ct.Tags = mergeTags(ct.Tags, b.extra)
	if i, ok := b.index[ct.Phone]; ok {
		b.res.Merged++
		prev := &b.chunk[i]
		if ct.Name != "" {
			prev.Name = ct.Name
		}
		prev.Tags = mergeTags(prev.Tags, ct.Tags)
		prev.OptIn = prev.OptIn || ct.OptIn
		return nil
	}
	if b.flushed[ct.Phone] {
		b.repeats++
	}
	b.index[ct.Phone] = len(b.chunk)
	b.chunk = append(b.chunk, ct)
	if len(b.chunk) < importChunk {
		return nil
	}
	return b.flush()
}

// errAbandoned stops the producer once the writer has failed or the caller
// has gone; the writer's error is the one reported.
var errAbandoned = errors.New("import abandoned")

// abandoned reports whether the import should stop reading rows.
func (b *importBatch) abandoned() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *importBatch) flush() error {
	if len(b.chunk) == 0 {
		return nil
	}
	if b.abandoned() {
		return errAbandoned
	}
	select {
	case b.out <- importChunkMsg{contacts: b.chunk, repeats: b.repeats}:
	case <-b.done:
		return errAbandoned
	}
	for p := range b.index {
		b.flushed[p] = true
	}
	b.chunk, b.index, b.repeats = make([]Contact, 0, importChunk), map[string]int{}, 0
	return nil
}

// run imports what produce adds to the batch. produce runs in its own
// goroutine (reading rows and validating numbers is CPU work) while this
// one writes the chunks it hands over (waiting on the disk), so the two
// overlap. A failure part-way leaves earlier chunks saved; importing the
// same file again merges, so a retry is safe.
func (c *Contacts) run(ctx context.Context, tenantID, source string, extra []string, started time.Time, produce func(*importBatch) error) (ImportResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan importChunkMsg, 2)
	b := &importBatch{res: ImportResult{Invalid: []RowError{}}, source: source, extra: extra,
		index: map[string]int{}, flushed: map[string]bool{}, out: chunks, done: ctx.Done()}
	var prodErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(chunks)
		if prodErr = produce(b); prodErr == nil {
			prodErr = b.flush()
		}
	}()
	var created, updated, repeats int
	var err error
	now := c.Now().UTC()
	for ch := range chunks {
		if err != nil {
			continue // drain so that the producer finishes
		}
		var cr, up int
		if cr, up, err = c.Store.UpsertContacts(ctx, tenantID, ch.contacts, now); err != nil {
			cancel()
			continue
		}
		created, updated, repeats = created+cr, updated+up, repeats+ch.repeats
	}
	wg.Wait()
	if err == nil {
		err = prodErr
	}
	if err == nil {
		err = ctx.Err() // cancelled by the caller after the last chunk
	}
	if err != nil {
		return ImportResult{}, err
	}
	res := b.res
	res.Imported, res.Updated, res.Merged = created, updated-repeats, res.Merged+repeats
	c.Logger.Info("contacts imported", "tenant", tenantID, "source", source, "rows", res.Rows,
		"imported", res.Imported, "updated", res.Updated, "merged", res.Merged, "invalid", len(res.Invalid), "took", time.Since(started))
	return res, nil
}

type pastedEntry struct {
	row         int
	phone, name string
}

// parsePasted splits pasted text into numbers (and names), numbered by line.
func parsePasted(text string) []pastedEntry {
	var out []pastedEntry
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var parts []string
		if strings.Contains(line, "\t") {
			parts = strings.Split(line, "\t")
		} else {
			parts = strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ';' })
		}
		if len(parts) == 2 && hasLetters(parts[0]) != hasLetters(parts[1]) {
			phone, name := parts[0], parts[1]
			if hasLetters(phone) { // "Maria, +55 11 98765-4321"
				phone, name = name, phone
			}
			out = append(out, pastedEntry{row: i + 1, phone: strings.TrimSpace(phone), name: strings.TrimSpace(name)})
			continue
		}
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, pastedEntry{row: i + 1, phone: p})
			}
		}
	}
	return out
}

func hasLetters(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// cell returns a row's trimmed value in column i, "" when absent.
func csvCell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func csvBlank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// truthy reads an opt-in cell: yes, sí, sim, true, 1, x and the like.
func csvTruthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "sí", "si", "sim", "s", "true", "t", "1", "x", "✓", "✔", "ok", "oui", "ja":
		return true
	}
	return false
}
