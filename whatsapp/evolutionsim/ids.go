package evolutionsim

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"
)

// lockedRand is the Sim's one source of randomness (ids, tokens, QR refs,
// jitter, duplicates), so a fixed Config.Seed gives repeatable runs.
// math/rand is enough: nothing here protects a secret.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed int64) *lockedRand {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &lockedRand{r: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) bytes(n int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(l.r.Uint32())
	}
	return b
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// pick returns n characters drawn from alphabet.
func (l *lockedRand) pick(alphabet string, n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[l.r.IntN(len(alphabet))])
	}
	return b.String()
}

// uuid returns a lower-case UUIDv4, the form of Evolution's instance ids.
func (l *lockedRand) uuid() string {
	b := l.bytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// token returns an instance token as Evolution generates one when the
// create request has none: an upper-case UUIDv4.
func (l *lockedRand) token() string { return strings.ToUpper(l.uuid()) }

// outboundID is the id Baileys gives messages sent from WhatsApp Web:
// "3EB0" and 18 upper-case hex characters (so getDevice says "web").
func (l *lockedRand) outboundID() string {
	return "3EB0" + strings.ToUpper(hex.EncodeToString(l.bytes(9)))
}

// inboundID is an id as an iPhone would mint it: "3A" and 18 upper-case hex
// characters, which Evolution's getDevice classifies as "ios".
func (l *lockedRand) inboundID() string {
	return "3A" + strings.ToUpper(hex.EncodeToString(l.bytes(9)))
}

// cuid imitates a Prisma cuid, the id of DB rows (messageId in updates).
func (l *lockedRand) cuid() string {
	return "cm" + l.pick("0123456789abcdefghijklmnopqrstuvwxyz", 23)
}

// pairingCode is 8 characters of Baileys' Crockford alphabet.
func (l *lockedRand) pairingCode() string {
	return l.pick("123456789ABCDEFGHJKLMNPQRSTVWXYZ", 8)
}

// qrRef imitates the string WhatsApp Web puts in its QR: "2@" + server ref,
// then the base64 noise key, identity key and adv secret.
func (l *lockedRand) qrRef() string {
	enc := base64.StdEncoding.EncodeToString
	return "2@" + enc(l.bytes(54)) + "," + enc(l.bytes(32)) + "," + enc(l.bytes(32)) + "," + enc(l.bytes(32))
}

func (l *lockedRand) digits(n int) string {
	return l.pick("123456789", 1) + l.pick("0123456789", n-1)
}

var (
	deviceSuffix = regexp.MustCompile(`:\d+`)
	nonDigits    = regexp.MustCompile(`\D`)
	brMobile     = regexp.MustCompile(`^(\d{2})(\d{2})\d(\d{8})$`)
)

// createJid ports src/utils/createJid.ts: strip device suffix, spaces, "+"
// and parentheses; pass JIDs through; long ids become groups; apply the
// Mexico/Argentina and Brazil rewrites; everything else is a user JID.
func createJid(number string) string {
	number = deviceSuffix.ReplaceAllString(number, "")
	for _, suffix := range []string{"@g.us", "@s.whatsapp.net", "@lid", "@broadcast"} {
		if strings.Contains(number, suffix) {
			return number
		}
	}
	number = strings.NewReplacer(" ", "", "\t", "", "+", "", "(", "", ")", "").Replace(number)
	number, _, _ = strings.Cut(number, ":")
	number, _, _ = strings.Cut(number, "@")
	if strings.Contains(number, "-") && len(number) >= 24 {
		return strings.Map(keepDigitsAndDash, number) + "@g.us"
	}
	number = nonDigits.ReplaceAllString(number, "")
	if len(number) >= 18 {
		return number + "@g.us"
	}
	return formatBRNumber(formatMXOrARNumber(number)) + "@s.whatsapp.net"
}

func keepDigitsAndDash(r rune) rune {
	if r == '-' || (r >= '0' && r <= '9') {
		return r
	}
	return -1
}

// formatMXOrARNumber drops the third digit of 13-digit Mexican (52) and
// Argentinian (54) numbers, as Evolution does.
func formatMXOrARNumber(n string) string {
	if len(n) == 13 && (strings.HasPrefix(n, "52") || strings.HasPrefix(n, "54")) {
		return n[:2] + n[3:]
	}
	return n
}

// formatBRNumber drops the mobile "9" of 13-digit Brazilian numbers when
// the area code is 31 or above and the subscriber number starts with 7–9.
func formatBRNumber(n string) string {
	m := brMobile.FindStringSubmatch(n)
	if m == nil || m[1] != "55" {
		return n
	}
	if m[3][0] < '7' || m[2] < "31" {
		return n
	}
	return m[1] + m[2] + m[3]
}

// jidUser is the part of a JID before "@": the digits for a phone JID.
func jidUser(jid string) string {
	user, _, _ := strings.Cut(jid, "@")
	return user
}

// bufferJSON renders bytes the way Node's Buffer.toJSON does, the form
// Baileys' binary fields take in Evolution's webhooks.
func bufferJSON(b []byte) map[string]any {
	data := make([]int, len(b))
	for i, c := range b {
		data[i] = int(c)
	}
	return map[string]any{"type": "Buffer", "data": data}
}

// longJSON renders an int64 the way protobufjs' Long serialises:
// {low, high, unsigned}, both halves as signed 32-bit integers.
func longJSON(v int64) map[string]any {
	return map[string]any{"low": int32(uint32(v)), "high": int32(v >> 32), "unsigned": false}
}
