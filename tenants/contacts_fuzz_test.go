package tenants

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// memContacts is an in-memory ContactStore with the merge rules of the
// real one (store/contacts.go), for tests of the import logic that run
// thousands of times (fuzzing); the real store is tested in package store
// and end to end in httpapi.
type memContacts struct {
	ContactStore // methods the import does not call panic if called
	mu           sync.Mutex
	m            map[string]Contact
	calls        int
}

func newMemContacts() *memContacts { return &memContacts{m: map[string]Contact{}} }

func (s *memContacts) UpsertContacts(ctx context.Context, tenantID string, cs []Contact, now time.Time) (created, updated int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for _, in := range cs {
		cur, ok := s.m[in.Phone]
		if !ok {
			created++
			cur = Contact{Phone: in.Phone, Source: in.Source, LeadStatus: LeadNew, CreatedAt: now}
		} else {
			updated++
		}
		if in.Name != "" {
			cur.Name = in.Name
		}
		cur.Tags = mergeTags(cur.Tags, in.Tags)
		cur.OptIn = cur.OptIn || in.OptIn
		s.m[in.Phone] = cur
	}
	return created, updated, nil
}

// digitPhones is a PhoneNormalizer for tests: 10 to 15 digits, an optional
// plus, spaces and dashes; anything else is invalid.
type digitPhones struct{}

func (digitPhones) Normalize(raw, region string) (string, error) {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '+' || r == '(' || r == ')':
			return -1
		}
		return 'x'
	}, strings.TrimSpace(raw))
	if len(digits) < 10 || len(digits) > 15 || strings.Contains(digits, "x") || digits[0] == '0' {
		return "", Invalid("phone", "%q is not a valid phone number.", raw)
	}
	return digits, nil
}

func newTestContacts() (*Contacts, *memContacts) {
	st := newMemContacts()
	return &Contacts{Store: st, Phones: digitPhones{}, Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st
}

// FuzzCSVImport feeds arbitrary files through Preview and Import with the
// guessed mapping: nothing may panic, errors must be user-facing (invalid
// input, never internal), every row must be accounted for once, and what is
// stored must be clean.
func FuzzCSVImport(f *testing.F) {
	for _, seed := range []string{
		"phone,name\n+5511987654321,Maria\n",
		"\xEF\xBB\xBFTelefone;Nome;Etiquetas;Aceita\r\n11987654321;José;vip|sp;sim\r\n",
		"name\tmobile\tconsent\nAna\t+44 7911 123456\tx\n",
		"\"Número\",\"Nombre\"\n\"+52 55 1234 5678\",\"Luis, \"\"El Jefe\"\"\"\n",
		"5511987654321\n5511987654322\n5511987654321\n",
		"phone,tags\n5511987654321,\"a,b;c|d\"\n5511987654321,#VIP \n",
		"phone\n\"unterminated\n",
		"PK\x03\x04binary",
		"\xFF\xFEp\x00h\x00o\x00n\x00e\x00\n\x001\x002\x003\x00",
		"phone,name\n,\n,,,\n12,x\n" + strings.Repeat("a", 50) + ",y\n",
		"Nome;Telefone\nJo\xe3o;11 98765-4321\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, st := newTestContacts()
		p, err := c.Preview(data)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("Preview error %v is not invalid input", err)
			}
			return
		}
		if len(p.Rows) > PreviewRows || p.Total < len(p.Rows) || len(p.Headers) == 0 {
			t.Fatalf("preview: %d rows shown of %d, %d headers", len(p.Rows), p.Total, len(p.Headers))
		}
		m := p.Mapping
		if m.Phone == NoColumn {
			m.Phone = 0
		}
		res, err := c.Import(context.Background(), Tenant{ID: "t1"}, data, m, []string{"fuzz"})
		if err != nil {
			t.Fatalf("Import after a good preview: %v", err)
		}
		if got := res.Imported + res.Updated + res.Merged + len(res.Invalid); got != res.Rows || res.Rows != p.Total || res.Imported != len(st.m) {
			t.Fatalf("accounting: %+v for %d previewed rows, %d stored", res, p.Total, len(st.m))
		}
		for _, e := range res.Invalid {
			if e.Row < 1 || e.Reason == "" || !utf8.ValidString(e.Value+e.Reason) {
				t.Fatalf("bad row error %+v", e)
			}
		}
		for phone, ct := range st.m {
			if !isPhoneKey(phone) || !utf8.ValidString(ct.Name) || utf8.RuneCountInString(ct.Name) > maxNameLen {
				t.Fatalf("stored contact %+v", ct)
			}
			for _, tag := range ct.Tags {
				if n, err := NormalizeTag(tag); err != nil || n != tag {
					t.Fatalf("stored tag %q is not normalised (%v)", tag, err)
				}
			}
		}
	})
}
