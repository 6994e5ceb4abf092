package rules

import "strings"

// wordFlag marks what a single folded word does for the rules.
type wordFlag uint16

const (
	fNegator   wordFlag = 1 << iota // not, não, nicht: flips what follows
	fFiller                         // please, por favor: may pad a STOP or a "2"
	fMarker                         // option, número: "option 2"
	fArticle                        // the, la, die: "la 2", "the second"
	fConnector                      // and, y, et: "1 and 3"
	fOneWord                        // one, opção: "the second one", "segunda opção"
	fTimeNoun                       // time, vez: "the last time" picks nothing
	fQStart                         // how, cuánto: opens a question
	fKeyword                        // stop, sair, baja: opt-out when alone
	fStopword                       // the, de, y: ignored in option names
	fQVerb                          // is, ist: opens a yes/no question
	fRemove                         // remove, eliminen: with a list noun, an opt-out
	fList                           // list, lista, número: what a contact asks to leave
)

// wordInfo is everything known about one folded word.
type wordInfo struct {
	flags    wordFlag
	detect   [numLangs]float32 // language votes
	article  uint8             // languages in which it is an article before an ordinal
	ordinal  int8              // 1, 2, …; -1 for "last"; 0 if not an ordinal
	ordLangs uint8             // languages of the ordinal
	cardinal int8              // 1..10 for "two", "dos", "zwei"
	mood     int8              // +1 positive, -1 negative (sentiment only)
}

var negators = []string{"not", "no", "don't", "doesn't", "didn't", "won't", "never", "não", "nem", "nunca",
	"ne", "pas", "nicht", "kein", "keine", "keiner", "keinen", "nie", "non", "ni", "ninguno", "nenhum", "aucun",
	"nessuno", "sin", "sem", "sans", "ohne", "senza", "without"}

var fillers = []string{"please", "pls", "plz", "pleas", "thanks", "thank", "you", "thx", "ty", "now", "it", "ok",
	"okay", "all", "already", "just", "por", "favor", "porfa", "porfavor", "pf", "pfv", "pfvr", "x", "ya", "já",
	"agora", "ahora", "svp", "stp", "merci", "bitte", "danke", "grazie", "gracias", "obrigado", "obrigada", "per",
	"favore", "subito", "immediately", "sofort", "jetzt", "me", "this", "that", "i", "want", "one", "only", "sms",
	"msg", "msgs", "messages", "texts", "mensajes", "mensagens", "nachrichten", "messaggi", "whatsapp", "promos",
	"promo", "spam", "werbung", "pub"}

// removeVerbs and listNouns together ask to leave a list: "eliminen mi
// número de su lista", "pode tirar meu contato?", "löschen Sie meine Nummer".
var removeVerbs = []string{"remove", "delete", "erase", "eliminen", "elimina", "eliminar", "elimínenme", "borren",
	"borra", "borrar", "quiten", "quita", "quitar", "saquen", "saca", "sacar", "exclui", "exclua", "excluam",
	"excluir", "remova", "removam", "remover", "tira", "tire", "tirem", "tirar", "apaga", "apague", "apaguem",
	"apagar", "deleta", "deletar", "retirez", "retire", "retirer", "supprimez", "supprime", "supprimer", "enlevez",
	"enlève", "enlever", "effacez", "effacer", "löschen", "lösche", "löscht", "entfernen", "entfernt", "entferne",
	"streichen", "streicht", "togliete", "togli", "togliere", "cancellate", "cancella", "cancellare", "eliminate",
	"eliminare", "rimuovete", "rimuovi", "rimuovere"}

var listNouns = []string{"list", "lists", "mailing", "contacts", "database", "lista", "listas", "contacto",
	"contactos", "contato", "contatos", "cadastro", "grupo", "liste", "listes", "fichier", "verteiler", "kontakt",
	"elenco", "rubrica", "contatti", "newsletter", "número", "numero", "number", "numéro", "nummer"}

// markers name an option number outright: "option 2", "número 3", "Nr. 1".
var markers = []string{"option", "opt", "opción", "opcion", "opção", "opzione", "choice", "number", "num", "nr",
	"nro", "n", "número", "nummer", "numero", "variante", "formule"}

var connectors = []string{"and", "y", "e", "et", "und", "or", "o", "ou", "oder", "ed", "plus", "+", "&", "also", "tb",
	"también", "também", "aussi", "auch", "anche"}

var oneWords = []string{"one", "option", "opción", "opcion", "opção", "opzione", "choice", "uno", "una", "um",
	"uma", "formule", "variante", "möglichkeit", "termin"}

var timeNouns = []string{"time", "times", "week", "month", "year", "day", "minute", "second", "vez", "veces",
	"semana", "mes", "mês", "año", "ano", "día", "dia", "fois", "semaine", "mois", "an", "année", "jour", "mal",
	"woche", "monat", "jahr", "tag", "volta", "settimana", "mese", "anno", "giorno"}

// articles precede ordinals: "la segunda", "le deuxième", "die zweite".
var articles = map[lang][]string{
	en: {"the"},
	es: {"el", "la", "lo"},
	pt: {"a", "o", "na", "no"},
	fr: {"le", "la", "l"},
	de: {"die", "der", "das", "den", "dem"},
	it: {"il", "la", "lo", "l"},
}

// ordinals maps ordinal words to the option they name; -1 is the last.
var ordinals = map[lang]map[string]int8{
	en: {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
		"ninth": 9, "tenth": 10, "last": -1},
	es: {"primero": 1, "primera": 1, "primer": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
		"tercer": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5, "sexto": 6, "sexta": 6, "séptimo": 7,
		"séptima": 7, "octavo": 8, "octava": 8, "noveno": 9, "novena": 9, "décimo": 10, "décima": 10, "último": -1,
		"última": -1},
	pt: {"primeiro": 1, "primeira": 1, "segundo": 2, "segunda": 2, "terceiro": 3, "terceira": 3, "quarto": 4,
		"quarta": 4, "quinto": 5, "quinta": 5, "sexto": 6, "sexta": 6, "sétimo": 7, "sétima": 7, "oitavo": 8,
		"oitava": 8, "nono": 9, "nona": 9, "décimo": 10, "décima": 10, "último": -1, "última": -1},
	fr: {"premier": 1, "première": 1, "deuxième": 2, "second": 2, "seconde": 2, "troisième": 3, "quatrième": 4,
		"cinquième": 5, "sixième": 6, "septième": 7, "huitième": 8, "neuvième": 9, "dixième": 10, "dernier": -1,
		"dernière": -1},
	de: {"erste": 1, "zweite": 2, "dritte": 3, "vierte": 4, "fünfte": 5, "sechste": 6, "siebte": 7, "achte": 8,
		"neunte": 9, "zehnte": 10, "letzte": -1},
	it: {"primo": 1, "prima": 1, "secondo": 2, "seconda": 2, "terzo": 3, "terza": 3, "quarto": 4, "quarta": 4,
		"quinto": 5, "quinta": 5, "sesto": 6, "sesta": 6, "settimo": 7, "settima": 7, "ottavo": 8, "ottava": 8,
		"nono": 9, "nona": 9, "decimo": 10, "decima": 10, "ultimo": -1, "ultima": -1},
}

// cardinals count only in option context: "option two", "número dos".
var cardinals = map[lang][]string{
	en: {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"},
	es: {"uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"},
	pt: {"um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"},
	fr: {"un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"},
	de: {"eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"},
	it: {"uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"},
}

// stopwords vote for a language and are ignored inside option names.
var stopwords = map[lang][]string{
	en: {"the", "a", "and", "is", "it", "you", "i", "to", "of", "for", "me", "my", "this", "that", "on", "in",
		"with", "your", "are", "be", "have", "do", "we", "what", "thanks", "please", "can", "will", "from", "at",
		"im", "dont", "its", "just", "one", "too", "about", "would", "there", "but", "so", "they", "them", "which"},
	es: {"el", "la", "los", "las", "de", "que", "y", "en", "un", "una", "es", "por", "para", "con", "no", "me",
		"mi", "lo", "te", "se", "del", "al", "gracias", "muy", "pero", "más", "ya", "está", "estoy", "soy", "quiero",
		"esta", "ese", "esa", "eso", "favor", "hola", "bien", "tienen", "usted", "ustedes", "vos", "tu", "su", "hay"},
	pt: {"o", "a", "os", "as", "de", "que", "e", "em", "um", "uma", "é", "não", "por", "para", "com", "me", "meu",
		"minha", "do", "da", "dos", "das", "no", "na", "obrigado", "obrigada", "muito", "mas", "mais", "já", "está",
		"estou", "sou", "quero", "você", "vc", "vocês", "isso", "essa", "esse", "tem", "pra", "pro", "tá", "oi", "eu"},
	fr: {"le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "je", "tu", "vous", "nous", "pas", "ne",
		"pour", "avec", "que", "qui", "en", "au", "aux", "merci", "mais", "plus", "c", "j", "l", "d", "m", "ce",
		"ça", "suis", "moi", "votre", "vos", "très", "bonjour", "oui", "non", "sur", "mon", "ma", "svp"},
	de: {"der", "die", "das", "und", "ist", "ich", "du", "sie", "wir", "nicht", "ein", "eine", "zu", "mit", "für",
		"auf", "von", "den", "dem", "es", "bitte", "danke", "aber", "mehr", "schon", "bin", "mir", "mich", "ihr",
		"ihnen", "euch", "kein", "keine", "noch", "auch", "nur", "wie", "was", "hallo", "gerne", "ja", "nein", "am"},
	it: {"il", "lo", "la", "i", "gli", "le", "di", "che", "e", "è", "un", "una", "per", "con", "non", "mi", "ti",
		"ci", "del", "della", "al", "alla", "grazie", "molto", "ma", "più", "già", "sono", "io", "voi", "noi", "sì",
		"questo", "questa", "quello", "va", "bene", "ciao", "anche", "sei", "siete", "vi", "mio", "tuo", "ho"},
}

// accentVotes are the language hints some letters give before folding.
var accentVotes = map[rune]map[lang]float32{
	'ñ': {es: 2}, 'ã': {pt: 2}, 'õ': {pt: 2}, 'ç': {pt: 0.7, fr: 0.7}, 'ß': {de: 2}, 'ä': {de: 1.5},
	'ö': {de: 1.5}, 'ü': {de: 1.2}, 'è': {it: 0.8, fr: 0.8}, 'ì': {it: 1.5}, 'ò': {it: 1.5}, 'ù': {it: 0.8, fr: 0.5},
	'à': {fr: 0.6, it: 0.6, pt: 0.3}, 'ê': {fr: 0.7, pt: 0.7}, 'â': {fr: 0.6, pt: 0.6}, 'ô': {fr: 0.6, pt: 0.6},
	'î': {fr: 1}, 'û': {fr: 1}, 'ë': {fr: 0.5}, 'ï': {fr: 0.8}, 'œ': {fr: 1.5}, 'é': {fr: 0.3, es: 0.2, pt: 0.2},
	'í': {es: 0.6, pt: 0.4}, 'ó': {es: 0.6, pt: 0.4}, 'ú': {es: 0.6, pt: 0.3}, 'á': {es: 0.6, pt: 0.5},
}

// laughs and other language-specific interjections that carry no intent.
var interjections = map[lang][]string{
	en: {"lol", "lmao", "haha", "omg", "hi", "hello", "hey", "morning", "good"},
	es: {"jaja", "jajaja", "jeje", "buenas", "buenos", "días", "vos", "plata"},
	pt: {"kk", "kkk", "rs", "rsrs", "kkkk", "bom", "dia", "tarde", "noite", "boa", "vc", "vcs", "tô", "tá"},
	fr: {"mdr", "ptdr", "bonjour", "bonsoir", "coucou", "salut"},
	de: {"hallo", "moin", "servus", "hihi", "guten", "morgen", "tag", "euch"},
	it: {"ahah", "ahahah", "ahaha", "buongiorno", "buonasera", "salve", "cioè", "anche"},
}

// moodWords set the sentiment of replies whose intent does not.
var moodWords = map[string]int8{
	"thanks": 1, "thank": 1, "love": 1, "great": 1, "awesome": 1, "nice": 1, "gracias": 1, "genial": 1,
	"obrigado": 1, "obrigada": 1, "valeu": 1, "otimo": 1, "merci": 1, "super": 1, "danke": 1, "toll": 1,
	"grazie": 1, "ottimo": 1, "bello": 1, "lindo": 1, "happy": 1, "feliz": 1, "frohe": 1, "buona": 1, "bonne": 1,
	"😊": 1, "😀": 1, "😃": 1, "😄": 1, "🙂": 1, "🙏": 1, "❤": 1, "😍": 1, "🥰": 1, "👍": 1, "👏": 1, "🎉": 1,
	"annoying": -1, "spam": -1, "hate": -1, "terrible": -1, "awful": -1, "chato": -1, "saco": -1, "molesto": -1,
	"pesados": -1, "nervig": -1, "nervt": -1, "fastidioso": -1, "basta": -1, "sorry": -1, "unfortunately": -1,
	"leider": -1, "purtroppo": -1, "lamentablemente": -1, "infelizmente": -1, "malheureusement": -1,
	"😡": -1, "🤬": -1, "😠": -1, "👎": -1, "🙄": -1, "😒": -1, "😤": -1, "🤮": -1,
}

// buildWords folds every word list into the per-word table the hot path
// reads with one map lookup per token.
func (c *Classifier) buildWords(r *reply) {
	flag := func(f wordFlag, words ...string) {
		for _, w := range words {
			c.word(r, w).flags |= f
		}
	}
	flag(fNegator, negators...)
	flag(fFiller, fillers...)
	flag(fMarker, markers...)
	flag(fConnector, connectors...)
	flag(fOneWord, oneWords...)
	flag(fTimeNoun, timeNouns...)
	flag(fQStart, questionStarts...)
	flag(fQVerb, questionVerbs...)
	flag(fRemove, removeVerbs...)
	flag(fList, listNouns...)
	for l, words := range optOutKeywords {
		for _, w := range words {
			info := c.word(r, w)
			info.flags |= fKeyword
			info.detect[l] += 0.8
		}
	}
	for l, words := range articles {
		for _, w := range words {
			info := c.word(r, w)
			info.flags |= fArticle
			info.article |= 1 << l
		}
	}
	for l, words := range ordinals {
		for w, v := range words {
			forms := []string{w}
			if l == de { // erste, erster, ersten, erstes, erstem
				forms = append(forms, w+"r", w+"n", w+"s", w+"m")
			}
			for _, f := range forms {
				info := c.word(r, f)
				info.ordinal, info.ordLangs = v, info.ordLangs|1<<l
			}
		}
	}
	for _, words := range cardinals {
		for i, w := range words {
			c.word(r, w).cardinal = int8(i + 1)
		}
	}
	for l, words := range stopwords {
		for _, w := range words {
			info := c.word(r, w)
			info.flags |= fStopword
			info.detect[l] += 1
		}
	}
	for l, words := range interjections {
		for _, w := range words {
			c.word(r, w).detect[l] += 1
		}
	}
	for w, m := range moodWords {
		c.word(r, w).mood = m
	}
	c.topics = make(map[string]topic)
	for t, words := range topicWords {
		for _, w := range words {
			if f := c.fold(r, w); f != "" {
				c.topics[f] = t
			}
		}
	}
}

// word returns the table entry for w, folded, creating it when missing.
func (c *Classifier) word(r *reply, w string) *wordInfo {
	f := c.fold(r, w)
	if f == "" {
		return new(wordInfo) // "+", "&": no reply token is ever empty, so it is never read
	}
	info := c.words[f]
	if info == nil {
		info = new(wordInfo)
		c.words[f] = info
	}
	return info
}

// fold folds a single lexicon word; words that fold to nothing ("+", "&")
// map to the empty string, which no reply token ever is.
func (c *Classifier) fold(r *reply, w string) string {
	r.tokenize(w)
	if len(r.tokens) == 0 {
		return ""
	}
	if len(r.tokens) > 1 {
		return strings.Join(tokenTexts(r.tokens), "")
	}
	return r.tokens[0].text
}

func tokenTexts(toks []token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.text
	}
	return out
}
