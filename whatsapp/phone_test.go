package whatsapp

import (
	"strings"
	"testing"

	"github.com/aibud/aibud/tenants"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, region string
		want        string // "" = an EINVALID error on field "phone"
		reason      string // a substring of the error message
	}{
		{"+55 11 98765-4321", "US", "5511987654321", ""},
		{"(11) 98765-4321", "BR", "5511987654321", ""},
		{"011 98765 4321", "BR", "5511987654321", ""}, // trunk prefix 0
		{"5511987654321", "US", "5511987654321", ""},  // plus dropped by a spreadsheet
		{"5511987654321", "BR", "5511987654321", ""},
		{"0055 11 98765 4321", "DE", "5511987654321", ""},
		{"(415) 555-2671", "us", "14155552671", ""},
		{"415.555.2671", "", "14155552671", ""}, // default region
		{"+44 20 7946 0958", "BR", "442079460958", ""},
		{"07911 123456", "GB", "447911123456", ""},
		{"612 34 56 78", "ES", "34612345678", ""},
		{"525512345678.0", "US", "525512345678", ""}, // float export
		{" \t", "BR", "", "empty"},
		{"Maria", "BR", "", `"Maria" is not a phone number`},
		{"123", "BR", "", `"123"`},
		{"(11) 1234", "BR", "", "not a valid BR phone number"},
		{"+999 1234 5678", "BR", "", "country code"},
		{"+55 11 1234", "BR", "", "not a valid phone number"},
		{"5.51199E+12", "BR", "", "scientific notation"},
		{strings.Repeat("9", 80), "BR", "", "not a phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := Phones{}.Normalize(tt.raw, tt.region)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Normalize(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
				}
				return
			}
			if tenants.ErrorCode(err) != tenants.EINVALID || tenants.ErrorField(err) != "phone" {
				t.Fatalf("Normalize(%q) = %q, %v; want an invalid phone error", tt.raw, got, err)
			}
			if msg := tenants.ErrorMessage(err); !strings.Contains(msg, tt.reason) {
				t.Fatalf("message %q does not contain %q", msg, tt.reason)
			}
		})
	}
}

// FuzzNormalizePhone checks that any input either fails with a clear invalid
// error or gives E.164 digits that normalise to themselves again.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+55 11 98765-4321", "(415) 555-2671", "5511987654321", "00 44 20 7946 0958",
		"1-800-FLOWERS", "+1 (415) 555-2671 ext. 12", "5.5E+12", "٠١٢٣٤٥٦٧٨٩", "+", "00", "tel:+14155552671", "\x00+1"} {
		f.Add(s, "BR")
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Phones{}.Normalize(raw, region)
		if err != nil {
			if tenants.ErrorCode(err) != tenants.EINVALID || tenants.ErrorField(err) != "phone" {
				t.Fatalf("Normalize(%q, %q): error %v is not an invalid-phone error", raw, region, err)
			}
			return
		}
		if len(got) < 7 || len(got) > 15 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164 digits", raw, region, got)
		}
		again, err := Phones{}.Normalize("+"+got, "US")
		if err != nil || again != got {
			t.Fatalf("Normalize(+%s) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

func BenchmarkNormalizePhone(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		if _, err := (Phones{}).Normalize("(11) 98765-4321", "BR"); err != nil {
			b.Fatal(err)
		}
	}
}
