package whatsapp

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aibud/aibud/tenants"
	"github.com/nyaruka/phonenumbers"
)

// Phones implements tenants.PhoneNormalizer with Google's libphonenumber
// metadata (github.com/nyaruka/phonenumbers): a number counts only when it is
// valid for its country, because a WhatsApp send to a number that merely
// looks plausible costs the tenant a credit and reaches nobody.
type Phones struct{}

// maxPhoneInput bounds what is parsed at all; the longest real number with
// punctuation and an extension is far shorter.
const maxPhoneInput = 64

// Normalize returns raw as E.164 digits without the plus sign, reading
// numbers without a country code as numbers of defaultRegion (ISO 3166,
// e.g. "BR"). Ten or more digits that are not valid in that region but are
// valid as an international number ("5511987654321": spreadsheets and
// WhatsApp exports drop the plus) are taken as international.
func (Phones) Normalize(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", tenants.Invalid("phone", "Phone number is empty.")
	}
	if len(s) > maxPhoneInput || !utf8.ValidString(s) {
		return "", tenants.Invalid("phone", "%q is not a phone number.", clipPhone(raw))
	}
	if looksScientific(s) {
		return "", tenants.Invalid("phone", "%q was turned into scientific notation by a spreadsheet; format the column as text and export again.", s)
	}
	s = strings.TrimSuffix(s, ".0") // a number column exported as floats
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region == "" {
		region = tenants.DefaultRegion
	}
	num, err := parsePhone(s, region)
	if err == nil && !phonenumbers.IsValidNumber(num) && !international(s) && digitCount(s) >= 10 {
		if alt, aerr := parsePhone("+"+s, region); aerr == nil && phonenumbers.IsValidNumber(alt) {
			num = alt
		}
	}
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "", tenants.Invalid("phone", "%q starts with a country code that does not exist.", s)
	case err != nil:
		return "", tenants.Invalid("phone", "%q is not a phone number.", clipPhone(s))
	case !phonenumbers.IsValidNumber(num):
		if international(s) {
			return "", tenants.Invalid("phone", "%q is not a valid phone number.", s)
		}
		return "", tenants.Invalid("phone", "%q is not a valid %s phone number; add the country code if it is from another country.", s, region)
	}
	return strings.TrimPrefix(phonenumbers.Format(num, phonenumbers.E164), "+"), nil
}

// parsePhone calls the library, turning a panic on hostile input into an error:
// the parser faces whatever a CSV file or a webhook contains.
func parsePhone(s, region string) (num *phonenumbers.PhoneNumber, err error) {
	defer func() {
		if r := recover(); r != nil {
			num, err = nil, fmt.Errorf("phonenumbers panic: %v", r)
		}
	}()
	if !hasDigit(s) {
		return nil, phonenumbers.ErrNotANumber
	}
	return phonenumbers.Parse(s, region)
}

// international reports whether s carries its own country code.
func international(s string) bool {
	return strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00")
}

// looksScientific spots "5.51199E+12", what a spreadsheet makes of a long
// number in a numeric column; its digits are lost, so it must be refused
// rather than parsed into some other number.
func looksScientific(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i <= 0 || i == len(s)-1 {
		return false
	}
	mantissa, exp := s[:i], strings.TrimPrefix(strings.TrimPrefix(s[i+1:], "+"), "-")
	if !strings.Contains(mantissa, ".") && !strings.Contains(mantissa, ",") {
		return false
	}
	return exp != "" && strings.Trim(exp, "0123456789") == "" &&
		strings.Trim(mantissa, "0123456789.,") == ""
}

func digitCount(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

func hasDigit(s string) bool {
	return strings.IndexFunc(s, unicode.IsDigit) >= 0
}

// clip keeps error messages short when the value is a whole line of junk.
func clipPhone(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	r := []rune(s)
	return string(r[:40]) + "…"
}
