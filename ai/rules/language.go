package rules

import (
	"strings"

	"github.com/aibud/aibud/tenants"
)

// detectLanguage votes among the six languages: stopwords and interjections
// in the reply, the languages of the phrases it matched and the accents it
// was typed with. The poll question (written by the tenant) and the tenant's
// hint only break ties or speak for replies with no words of their own,
// like "2" or "👍".
func (c *Classifier) detectLanguage(s *state, in tenants.ClassifyInput) lang {
	var score [numLangs]float32
	s.r.addVotes(&score)
	for _, m := range s.matches {
		p := &c.phrases.phrases[m.phrase]
		for l := lang(0); l < numLangs; l++ {
			if p.langs&(1<<l) != 0 {
				score[l] += 0.8
			}
		}
	}
	hint, hasHint := langOf(in.LanguageHint)
	if hasHint {
		score[hint] += 0.4
	}
	if in.Question != "" {
		c.tokenize(&s.scratch, in.Question)
		var q [numLangs]float32
		s.scratch.addVotes(&q)
		if best, ok := argmax(q); ok {
			score[best] += 0.6
		}
	}
	if best, ok := argmax(score); ok {
		return best
	}
	return hint // en when there is no hint either
}

// addVotes adds the reply's word and accent votes to score.
func (r *reply) addVotes(score *[numLangs]float32) {
	for l := range score {
		score[l] += r.accents[l]
	}
	for i := range r.tokens {
		if info := r.tokens[i].info; info != nil {
			for l := range score {
				score[l] += info.detect[l]
			}
		}
	}
}

// argmax returns the best-scoring language; ties go to the earlier one.
func argmax(score [numLangs]float32) (lang, bool) {
	best := lang(0)
	for l := lang(1); l < numLangs; l++ {
		if score[l] > score[best] {
			best = l
		}
	}
	return best, score[best] > 0
}

// langOf parses a hint such as "pt", "pt-BR" or "es_419".
func langOf(code string) (lang, bool) {
	if len(code) >= 2 {
		code = strings.ToLower(code[:2])
		for l, c := range langCodes {
			if c == code {
				return lang(l), true
			}
		}
	}
	return en, false
}

// topic is what a question is about, for the one-line summary.
type topic uint8

const (
	topicNone topic = iota
	topicWho
	topicPrice
	topicPayment
	topicDelivery
	topicLocation
	topicTiming
	topicInfo
)

var topicSummaries = [...]string{"Asks a question", "Asks who is writing", "Asks about price",
	"Asks about payment", "Asks about delivery", "Asks about location", "Asks about timing", "Asks for details"}

// topicWords are folded when the classifier is built, like every lexicon.
var topicWords = map[topic][]string{
	topicWho: {"who", "quién", "quem", "qui", "wer", "chi"},
	topicPrice: {"price", "prices", "cost", "costs", "much", "cuánto", "cuesta", "precio", "precios", "quanto",
		"custa", "preço", "valor", "combien", "coûte", "prix", "tarif", "kostet", "preis", "kosten", "costa",
		"prezzo", "discount", "descuento", "desconto", "sconto", "rabatt"},
	topicPayment: {"pay", "card", "pix", "cartão", "tarjeta", "carte", "karte", "paypal", "pagar", "payer",
		"zahlen", "pagamento", "pago", "boleto", "cash", "efectivo", "dinheiro", "bar"},
	topicDelivery: {"delivery", "deliver", "shipping", "entrega", "entregam", "envío", "envíos", "frete",
		"livraison", "livrez", "liefern", "lieferung", "versand", "consegna", "consegnate", "spedizione"},
	topicLocation: {"where", "address", "located", "onde", "endereço", "dónde", "dirección", "quedan", "adresse",
		"où", "wo", "indirizzo", "dove", "siete"},
	topicTiming: {"when", "time", "hours", "until", "open", "quando", "cuándo", "hora", "horario", "horário",
		"quand", "heure", "ouverts", "wann", "uhr", "lange", "ora", "aperti", "end", "ends", "long", "dure",
		"abierto", "aberto", "offen", "orario", "sábado", "dimanche", "sunday", "weekend"},
	topicInfo: {"info", "infos", "information", "details", "detalles", "información", "informações", "detalhes",
		"informations", "détails", "informationen", "dettagli", "informazioni"},
}

// replyTemplates are suggested answers per language: interested (with "%s"
// for a picked option, and without), question and not interested.
var replyTemplates = [numLangs][4]string{
	en: {"Great, we've noted %s! We'll be in touch soon.", "Great! We'll send you the details shortly.",
		"Thanks for your question! We'll get back to you shortly.", "No problem, thanks for letting us know!"},
	es: {"¡Genial, anotamos %s! Te escribimos pronto.", "¡Genial! Te enviamos los detalles en breve.",
		"¡Gracias por tu pregunta! Te respondemos en breve.", "¡Sin problema, gracias por avisarnos!"},
	pt: {"Ótimo, anotamos %s! Em breve entramos em contato.", "Ótimo! Já já te enviamos os detalhes.",
		"Obrigado pela pergunta! Respondemos em breve.", "Sem problemas, obrigado por avisar!"},
	fr: {"Parfait, c'est noté pour %s ! Nous revenons vers vous très vite.",
		"Parfait ! Nous vous envoyons les détails très vite.",
		"Merci pour votre question ! Nous vous répondons rapidement.", "Pas de souci, merci de nous avoir prévenus !"},
	de: {"Super, wir haben %s notiert! Wir melden uns bald.", "Super! Wir schicken Ihnen gleich die Details.",
		"Danke für Ihre Frage! Wir melden uns in Kürze.", "Kein Problem, danke für die Rückmeldung!"},
	it: {"Perfetto, abbiamo segnato %s! Ti ricontattiamo presto.", "Perfetto! Ti mandiamo subito i dettagli.",
		"Grazie per la domanda! Ti rispondiamo a breve.", "Nessun problema, grazie per avercelo detto!"},
}

// suggestReply picks the template for the intent; opt-outs, auto-replies,
// wrong numbers and unclear replies get none, since answering them is
// either forbidden or pointless.
func suggestReply(l lang, intent tenants.Intent, picked string) string {
	t := replyTemplates[l]
	switch intent {
	case tenants.IntentInterested:
		if picked != "" {
			return strings.Replace(t[0], "%s", picked, 1)
		}
		return t[1]
	case tenants.IntentQuestion:
		return t[2]
	case tenants.IntentNotInterested:
		return t[3]
	}
	return ""
}

// summarize writes the one-line summary the inbox shows.
func summarize(intent tenants.Intent, picked []string, about topic) string {
	switch intent {
	case tenants.IntentOptOut:
		return "Opted out"
	case tenants.IntentAutoReply:
		return "Auto-reply"
	case tenants.IntentWrongNumber:
		return "Says wrong number"
	case tenants.IntentQuestion:
		return topicSummaries[about]
	case tenants.IntentNotInterested:
		return "Not interested"
	case tenants.IntentInterested:
		if len(picked) == 0 {
			return "Interested"
		}
		if len(picked) <= 2 {
			return "Picked " + strings.Join(picked, " and ")
		}
		return "Picked " + strings.Join(picked, ", ")
	}
	return "No clear intent"
}
