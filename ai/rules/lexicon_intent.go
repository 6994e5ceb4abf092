package rules

// Weights ("=0.5") make a word count less than a plain phrase (weight 1):
// a lone "ok" is a weaker yes than "count me in".

// interestedPhrases say yes. A negator just before one ("not interested",
// "je ne suis pas intéressé") turns it into a refusal.
var interestedPhrases = phraseList{
	en: {"yes", "yeah", "yea", "yep", "yup", "yess", "yas", "sure", "absolutely", "definitely", "of course",
		"count me in", "i'm in", "i am in", "sign me up", "book me", "sounds good", "sounds great", "let's do it",
		"let's go", "deal", "perfect", "great", "awesome", "love it", "love them", "i love", "i like", "want it",
		"i want", "i'd like", "i would like", "interested", "i'm interested", "why not", "please do", "send me",
		"send it", "tell me more", "go ahead", "works for me", "i'll take", "i'd love", "count on me", "ok=0.5", "okay=0.5",
		"👍", "👌", "✅", "🙌", "😍", "🔥", "❤", "🥰", "🤩", "💯", "🙋",
		"sounds interesting", "i'll come", "i will come", "i'll be there", "stop by", "come by", "drop by", "see you there"},
	es: {"sí", "sii", "claro", "claro que sí", "dale", "vale", "por supuesto", "me interesa", "me interesan", "quiero",
		"lo quiero", "me apunto", "apúntame", "genial", "perfecto", "de una", "obvio", "resérvame", "me encanta",
		"me encantan", "listo", "buenísimo", "con gusto", "por qué no", "me sirve", "cuenten conmigo",
		"ahí estaré", "allí estaré", "cuenta conmigo", "iré"},
	pt: {"sim", "simm", "quero", "eu quero", "quero sim", "claro", "com certeza", "pode ser", "pode mandar", "manda",
		"bora", "tenho interesse", "me interessa", "interessado", "interessada", "fechado", "beleza", "show", "top",
		"perfeito", "ótimo", "opa", "demorou", "por que não", "pode reservar", "quero muito", "adorei",
		"adoro", "amo", "vou sim", "estarei lá", "passo aí", "passo lá"},
	fr: {"oui", "ouais", "ouii", "d'accord", "dac", "ça m'intéresse", "m'intéresse", "intéressé", "intéressée",
		"je veux", "je veux bien", "volontiers", "avec plaisir", "carrément", "bien sûr", "partant", "partante",
		"génial", "parfait", "super", "j'adore", "pourquoi pas", "je prends", "ça me va", "me convient", "grave",
		"je viens", "je serai là", "on y sera"},
	de: {"!ja", "jaa", "jap", "jo", "gerne", "gern", "klar", "na klar", "auf jeden fall", "interessiert", "interesse",
		"ich will", "ich möchte", "bin dabei", "passt", "perfekt", "sehr gut", "gute idee", "warum nicht",
		"machen wir", "sicher", "super", "toll", "nehme ich", "hätte gern",
		"komme vorbei", "ich komme", "wir kommen", "bin da"},
	it: {"sì", "certo", "certamente", "mi interessa", "interessato", "interessata", "voglio", "lo voglio", "volentieri",
		"va bene", "va benissimo", "ci sto", "perfetto", "ottimo", "d'accordo", "perché no", "assolutamente",
		"prenota", "prenotate", "prenotami", "mi piace", "per me va bene",
		"ci sarò", "vengo", "veniamo"},
}

// negativePhrases refuse. Sarcasm is left to the eye-roll emoji, which
// outweighs any "great" next to it.
var negativePhrases = phraseList{
	en: {"no", "nope", "nah", "naw", "no thanks", "no thank you", "not interested", "no interest", "not now",
		"not for me", "not today", "i'm good", "i'll pass", "pass", "no way", "never=0.5", "don't want", "don't need",
		"not really", "too expensive", "can't afford", "i'm broke", "none", "none of", "yeah right", "as if",
		"not this time", "👎", "❌", "🙅", "🙄", "😒", "🤮", "😤",
		"rather not", "somewhere else", "elsewhere"},
	es: {"no", "nop", "no gracias", "no me interesa", "no estoy interesado", "no estoy interesada", "no quiero",
		"paso", "ahora no", "por ahora no", "no por ahora", "ni loco", "ni loca", "para nada", "nunca=0.5", "ninguno",
		"ninguna", "no necesito", "muy caro", "otro día", "no me sirve",
		"prefiero no", "en otro lado", "en otro lugar"},
	pt: {"não", "nao", "não obrigado", "não obrigada", "não valeu", "valeu mas não", "não tenho interesse",
		"sem interesse", "agora não", "não quero", "dispenso", "tô fora", "nem pensar", "nenhum", "nenhuma",
		"muito caro", "não preciso", "deus me livre", "pena que", "não me interessa", "outro dia",
		"prefiro não", "em outro lugar", "outro lugar"},
	fr: {"non", "non merci", "pas intéressé", "pas intéressée", "ça ne m'intéresse pas", "ne m'intéresse pas",
		"m'intéresse pas", "pas pour moi", "pas maintenant", "pas aujourd'hui", "sans façon", "je passe", "aucun",
		"aucune", "jamais=0.5", "trop cher", "pas besoin", "bof", "pas la peine", "une autre fois",
		"je préfère pas", "je préfère ne pas", "ailleurs"},
	de: {"nein", "nee", "nö", "kein interesse", "keine lust", "nein danke", "nicht interessiert", "jetzt nicht",
		"brauche ich nicht", "brauch ich nicht", "lieber nicht", "keiner", "keine", "niemals=0.5", "zu teuer", "na toll",
		"schon wieder", "kein bedarf", "ein andermal",
		"woanders", "anderswo"},
	it: {"no", "no grazie", "non mi interessa", "non sono interessato", "non sono interessata", "non interessa",
		"non ora", "adesso no", "non fa per me", "un'altra volta", "passo", "nessuno", "nessuna", "mai=0.5",
		"troppo caro", "non mi serve", "lascia stare", "lascia perdere",
		"preferisco di no", "altrove"},
}

// neutralPhrases contain a "no" that refuses nothing; they are consumed so
// the "no" does not count.
var neutralPhrases = phraseList{
	en: {"no problem", "no worries", "no rush", "no idea", "no matter"},
	es: {"sin problema", "no hay problema", "no pasa nada", "no hay prisa", "no sé"},
	pt: {"sem problema", "sem problemas", "não tem problema", "não sei", "não tem pressa"},
	fr: {"pas de problème", "pas de souci", "pas de soucis", "je sais pas", "je ne sais pas", "pas grave"},
	de: {"kein problem", "keine ahnung", "weiß nicht", "keine eile"},
	it: {"nessun problema", "non so", "non c'è problema", "non fa niente"},
}

// unsurePhrases postpone the answer: the reply is "other", not a refusal.
var unsurePhrases = phraseList{
	en: {"maybe", "perhaps", "i'll think about it", "let me think", "think about it", "depends", "it depends",
		"not sure", "later", "let you know", "ask my", "talk later", "we'll see"},
	es: {"quizás", "quizá", "tal vez", "lo pienso", "lo voy a pensar", "te aviso", "depende", "no estoy seguro",
		"no estoy segura", "luego te digo", "te confirmo", "ya veremos"},
	pt: {"talvez", "vou pensar", "vou ver", "te falo", "depende", "não tenho certeza", "te aviso", "vamos ver",
		"depois te digo", "te confirmo"},
	fr: {"peut-être", "je vais réfléchir", "réfléchir", "ça dépend", "je vous dis", "on verra", "pas sûr",
		"je vous confirme"},
	de: {"vielleicht", "mal schauen", "mal sehen", "ich überlege", "kommt drauf an", "kommt darauf an",
		"melde mich", "nicht sicher", "mal gucken"},
	it: {"forse", "magari", "ci penso", "ci penserò", "dipende", "vediamo", "ti faccio sapere", "non sono sicuro",
		"non sono sicura"},
}

// questionPhrases ask something wherever they stand in the reply.
var questionPhrases = phraseList{
	en: {"how much", "what time", "do you have", "do you deliver", "do you accept", "is there", "are there",
		"can i", "could you", "more info", "more information", "price list", "what's the price", "how long"},
	es: {"cuánto cuesta", "cuánto sale", "cuánto vale", "a qué hora", "qué precio", "tienen", "hacen envíos",
		"aceptan", "más info", "más información", "se puede"},
	pt: {"quanto custa", "quanto é", "quanto fica", "que horas", "qual o valor", "qual valor", "vocês entregam",
		"tem como", "aceita", "aceitam", "mais informações", "mais info", "dá pra", "vcs entregam"},
	fr: {"c'est combien", "combien coûte", "à quelle heure", "vous livrez", "est-ce que", "y a-t-il",
		"plus d'infos", "plus d'informations", "vous acceptez", "vous êtes ouverts"},
	de: {"was kostet", "wie viel", "wieviel", "um wie viel uhr", "liefert ihr", "liefern sie", "gibt es", "habt ihr",
		"haben sie", "mehr infos", "wie lange", "kann man"},
	it: {"quanto costa", "quanto viene", "a che ora", "che ora", "consegnate", "c'è", "avete", "accettate",
		"più info", "più informazioni", "si può", "fino a che ora"},
}

// cannotPhrases after an option un-pick it: "el lunes no puedo".
var cannotPhrases = phraseList{
	en: {"can't", "cannot", "can not", "won't work", "doesn't work", "not possible", "is bad for me"},
	es: {"no puedo", "no me sirve", "no me viene bien", "no me queda bien"},
	pt: {"não posso", "não dá", "não consigo", "não rola"},
	fr: {"peux pas", "ne peux pas", "ça ne va pas", "me convient pas"},
	de: {"kann nicht", "kann ich nicht", "geht nicht", "passt nicht", "passt mir nicht"},
	it: {"non posso", "non riesco", "non va bene", "non mi va"},
}

// questionVerbs open yes/no questions ("Is the class free?"); they count
// only in a clause that ends with "?".
var questionVerbs = []string{"is", "are", "do", "does", "can", "could", "will", "would", "ist", "sind", "hat",
	"habt", "haben", "gibt", "kann", "können", "tienen", "tiene", "hay", "tem", "têm", "avete", "ha", "hanno"}

// questionStarts make a clause a question even without "?" when they open it.
var questionStarts = []string{"how", "what", "what's", "whats", "when", "where", "which", "who", "why",
	"cuánto", "cuánta", "cuál", "cuándo", "dónde", "quién", "cuantos", "quanto", "quanta", "quantos", "qual",
	"quais", "quando", "onde", "quem", "cadê", "combien", "comment", "quand", "quel", "quelle", "quels", "quelles",
	"pourquoi", "wie", "was", "wann", "wo", "welche", "welcher", "welches", "warum", "wieso", "weshalb", "dove",
	"quale", "quali", "chi", "perché"}
