package rules

// The phrase lists below are written the way people type them, accents and
// apostrophes included; New folds them with the same tokenizer as replies,
// so "não quero mais" also matches "nao quero mais". A trailing "*" makes the
// last word a prefix ("desinscrev*" for desinscrever, desinscreva, …), a
// leading "!" matches only words typed without accents (German "ja", not
// Portuguese "já", already), and "=N" gives a phrase weight N (1 when absent).

// lang indexes the languages the classifier knows.
type lang uint8

const (
	en lang = iota
	es
	pt
	fr
	de
	it
	numLangs
)

var langCodes = [numLangs]string{"en", "es", "pt", "fr", "de", "it"}

// category is what a phrase means for the reply's intent.
type category uint8

const (
	catNone        category = iota
	catOptOut               // "unsubscribe", "não quero mais"
	catKeepSending          // "don't stop": the contact wants the messages
	catInstruction          // "reply STOP to unsubscribe", quoted by auto-responders
	catAuto                 // auto-responder wording, weighted
	catWrong                // wrong number
	catInterested           // yes, count me in
	catNegative             // no thanks
	catNeutral              // "no problem": a "no" that is not a refusal
	catUnsure               // maybe, I'll think about it
	catQuestion             // "how much", "do you deliver"
	catCannot               // "I can't" after an option: "el lunes no puedo"
)

// phraseList holds one category's phrases per language.
type phraseList [numLangs][]string

// optOutPhrases are unambiguous requests to stop messages. Precision matters
// more than anything here (an opt-out ends the relationship), so every entry
// names the messages, the list or the sender, never a bare verb.
var optOutPhrases = phraseList{
	en: {"stop sending", "stop texting", "stop messaging", "stop contacting", "stop writing", "stop spamming",
		"stop bothering me", "stop the messages", "stop these messages", "stop all messages", "unsubscribe", "unsub",
		"remove me", "remove my number", "delete my number", "take me off", "opt out", "optout", "opt me out",
		"leave me alone", "don't text me", "don't message me", "don't contact me", "don't send me", "don't write to me",
		"do not contact", "do not text", "do not message", "do not send", "no more messages", "no more texts",
		"no more msgs", "no more offers", "no more promos", "don't want these", "don't want your messages",
		"don't want any more", "don't want to receive", "do not want to receive", "quit texting", "quit messaging",
		"quit sending", "never text me", "never contact me", "never message me", "lose my number", "not receive any more",
		"delete me", "take my number off", "stop it now", "no more spam"},
	es: {"dar de baja", "dame de baja", "darme de baja", "denme de baja", "de baja", "no me escriban", "no me escribas",
		"no me manden", "no me mandes", "no me envíen", "no me envíes", "no me contacten", "no me contactes",
		"no quiero recibir", "no quiero más mensajes", "no más mensajes", "dejen de escribirme", "dejen de mandarme",
		"dejen de enviarme", "deja de escribirme", "deja de mandarme", "deja de enviarme", "dejen de molestar",
		"deja de molestar", "no me molesten", "bórrenme", "bórrame", "elimínenme", "sáquenme de", "sácame de",
		"cancelar suscripción", "desuscribir*", "desuscríbanme", "déjenme en paz", "déjame en paz", "ya no me manden",
		"ya no me escriban", "no quiero que me escriban",
		"quítenme de", "quitenme de", "sáquenme", "no me manden más", "ya no quiero recibir"},
	pt: {"não quero mais", "não quero receber", "não me mande", "não me mandem", "não me envie", "não me enviem",
		"para de mandar", "pare de mandar", "parem de mandar", "para de me mandar", "pare de me mandar",
		"parem de me mandar", "para de enviar", "pare de enviar", "parem de enviar", "pare de me enviar",
		"me tira da lista", "me tira dessa lista", "me tira desta lista", "me tira desse", "me tira daqui",
		"me tirem da", "me tirem dessa", "me remove", "me remova", "me removam", "remover meu número",
		"tirar meu número", "apagar meu número", "descadastr*", "me descadastr*", "desinscrev*", "cancelar inscrição",
		"sair da lista", "quero sair", "não me perturbe", "chega de mensagem", "chega de mensagens",
		"me deixa em paz", "me deixem em paz", "parem de me incomodar", "não me incomode",
		"me exclui", "me exclua", "me excluam", "me excluir", "não quero mais receber"},
	fr: {"ne plus recevoir", "veux plus recevoir", "ne veux plus", "plus recevoir vos", "ne m'envoyez plus",
		"m'envoyez plus", "arrêtez de m'envoyer", "arrêtez de m'écrire", "arrête de m'envoyer", "arrête de m'écrire",
		"arrêtez les messages", "arrêtez vos messages", "désinscri*", "désabonn*", "me retirer de", "retirez-moi",
		"retire-moi", "supprimez mon numéro", "effacez mon numéro", "laissez-moi tranquille",
		"laisse-moi tranquille", "plus de messages", "ne me contactez plus", "me contactez plus", "ne m'écrivez plus",
		"ne plus m'écrire", "ne plus me contacter", "ne plus m'envoyer", "supprimez-moi", "enlevez-moi"},
	de: {"abmelden", "abmeldung", "melde mich ab", "melden sie mich ab", "austragen", "tragen sie mich aus",
		"abbestellen", "keine nachrichten mehr", "keine werbung mehr", "keine sms mehr", "will keine nachrichten",
		"möchte keine nachrichten", "hören sie auf", "hört auf mir", "hör auf mir", "hört auf zu schreiben",
		"schreiben sie mir nicht mehr", "schreibt mir nicht mehr", "nicht mehr schreiben", "nicht mehr kontaktieren",
		"lassen sie mich in ruhe", "lass mich in ruhe", "lasst mich in ruhe", "löschen sie meine nummer",
		"nummer löschen", "entfernen sie mich",
		"nehmen sie mich raus", "streichen sie mich", "löschen sie mich"},
	it: {"non scrivermi più", "non scrivetemi più", "non scrivermi", "non scrivetemi", "non mandatemi", "non mandarmi",
		"non contattatemi", "non contattarmi", "non voglio più ricevere", "non voglio più", "non voglio ricevere",
		"cancellami", "cancellatemi", "toglietemi", "toglimi", "rimuovetemi", "rimuovimi", "disiscriv*",
		"smettetela di scrivermi", "smettete di scrivermi", "smettete di mandarmi", "smettetela", "smetti di scrivermi",
		"smetti di mandarmi", "lasciatemi in pace", "lasciami in pace", "basta messaggi", "basta con i messaggi",
		"basta con questi messaggi",
		"eliminatemi", "non mandatemi più", "non voglio più messaggi"},
}

// optOutKeywords opt out only when they are (nearly) the whole reply or the
// whole first clause: "STOP", "stop please", "Baja!", but not "stop by
// tomorrow?" or "pare de brincadeira". "stop" is everybody's word, so it
// votes for no language in particular.
var optOutKeywords = phraseList{
	en: {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "remove"},
	es: {"stop", "baja", "alto", "basta", "para", "parar"},
	pt: {"stop", "parar", "pare", "para", "sair", "chega", "basta", "desinscrever", "descadastrar"},
	fr: {"stop", "arret", "arrête", "arrêter", "arrêtez", "désinscription"},
	de: {"stop", "stopp", "abmelden", "austragen"},
	it: {"stop", "basta", "cancellami", "disiscrivimi"},
}

// keepSendingPhrases negate an opt-out: they ask for more messages.
var keepSendingPhrases = phraseList{
	en: {"don't stop", "do not stop", "never stop", "keep them coming", "keep sending", "don't remove me",
		"don't unsubscribe me"},
	es: {"no pares", "no paren", "no dejen de", "sigan mandando", "sigan enviando"},
	pt: {"não pare", "não parem", "continuem mandando", "podem continuar mandando"},
	fr: {"ne vous arrêtez pas", "ne t'arrête pas", "continuez à m'envoyer", "n'arrêtez pas"},
	de: {"hört nicht auf", "hören sie nicht auf", "hör nicht auf", "nicht aufhören", "weiter so schicken"},
	it: {"non smettete", "non smettere", "continuate a mandarmi", "continuate a scrivermi"},
}

// instructionPhrases are the opt-out instructions auto-responders and
// forwarded messages quote; they are consumed so they cannot opt anyone out.
var instructionPhrases = phraseList{
	en: {"reply stop", "text stop", "send stop", "type stop", "to unsubscribe reply", "reply stop to unsubscribe"},
	es: {"responde baja", "envía baja", "responda baja", "escribe baja", "para darte de baja"},
	pt: {"responda sair", "envie sair", "digite sair", "responda parar", "envie parar", "para sair responda"},
	fr: {"répondez stop", "envoyez stop", "répondre stop", "pour vous désinscrire"},
	de: {"antworten sie mit stop", "antworte mit stop", "senden sie stop", "zum abmelden"},
	it: {"rispondi stop", "rispondete stop", "invia stop", "per disiscriverti"},
}

// autoReplyPhrases score auto-responders and out-of-office notes; a reply
// needs a total weight of 2 (3 when it also asks something), so a person's
// "I'm away this weekend, can we do next week?" stays a question.
var autoReplyPhrases = phraseList{
	en: {"auto reply=3", "autoreply=3", "automatic reply=3", "automated message=3", "automated response=3",
		"automatic response=3", "out of office=2", "out of the office=2", "i'm away", "i am away", "currently away=2",
		"currently unavailable=2", "will be back on", "will be back", "limited access=2", "thanks for contacting=2",
		"thank you for contacting=2", "thanks for your message", "thank you for your message", "thanks for reaching out",
		"we will reply", "we'll reply", "we will get back to you", "we'll get back to you", "get back to you",
		"as soon as possible", "business hours", "opening hours", "office hours", "for urgent matters=2",
		"on vacation until=2", "on holiday until=2", "away until=2", "respond shortly", "reply shortly",
		"upon my return=2", "on leave=2", "when i return", "this is an automated=3", "will respond"},
	es: {"respuesta automática=3", "mensaje automático=3", "gracias por comunicarte=2", "gracias por comunicarse=2",
		"gracias por contactarnos=2", "gracias por escribirnos=2", "gracias por tu mensaje", "gracias por su mensaje",
		"te responderemos", "le responderemos", "te contestaremos", "le contestaremos", "a la brevedad",
		"lo antes posible", "horario de atención", "no estamos disponibles", "estoy de vacaciones",
		"fuera de la oficina=2", "fuera de oficina=2",
		"a mi regreso=2", "estaré fuera=2", "no puedo atenderte", "apenas pueda"},
	pt: {"resposta automática=3", "mensagem automática=3", "obrigado por entrar em contato=2",
		"obrigada por entrar em contato=2", "agradecemos o contato=2", "agradecemos seu contato=2",
		"obrigado pelo contato=2", "obrigado pela mensagem", "em breve retornaremos", "retornaremos", "responderemos",
		"horário de atendimento", "não podemos atender", "estou de férias", "fora do escritório=2",
		"assim que possível", "no momento não",
		"no meu retorno=2", "quando eu voltar", "estarei ausente=2", "responderei"},
	fr: {"réponse automatique=3", "message automatique=3", "absent du bureau=2", "je suis absent=2",
		"je suis absente=2", "merci pour votre message", "merci de votre message", "merci de nous avoir contactés=2",
		"merci de nous avoir contacté=2", "nous avons bien reçu=2", "dans les plus brefs délais", "revient vers vous",
		"reviendrons vers vous", "reviendrai vers vous", "vous répondrons", "en congé", "en vacances jusqu=2",
		"à mon retour=2", "en congés", "actuellement absent=2", "actuellement absente=2", "je traiterai votre message=2"},
	de: {"automatische antwort=3", "abwesenheitsnotiz=3", "abwesend=2", "nicht im büro=2", "außer haus=2",
		"im urlaub", "vielen dank für ihre nachricht", "danke für ihre nachricht", "danke für deine nachricht",
		"wir melden uns", "so schnell wie möglich", "schnellstmöglich", "öffnungszeiten", "keinen zugriff",
		"wir antworten ihnen", "melde mich nach meiner rückkehr=2",
		"wieder erreichbar=2", "wieder im büro=2", "nach meiner rückkehr=2"},
	it: {"risposta automatica=3", "messaggio automatico=3", "fuori ufficio=2", "sono in ferie", "in ferie fino=2",
		"grazie per averci contattato=2", "grazie per averci contattati=2", "grazie per il messaggio",
		"grazie per il tuo messaggio", "vi risponderemo", "ti risponderemo", "le risponderemo", "il prima possibile",
		"appena possibile", "non siamo disponibili", "nostro orario",
		"al mio rientro=2", "sarò fuori=2", "vi ricontatteremo", "ti ricontatteremo", "al più presto"},
}

// wrongNumberPhrases say the message reached the wrong person. "Who is
// this?" is deliberately absent: it is a question.
var wrongNumberPhrases = phraseList{
	en: {"wrong number", "wrong person", "wrong guy", "wrong girl", "wrong contact", "wrong chat", "don't know you",
		"not my number", "wrong whatsapp",
		"phone anymore", "number anymore", "not the right person", "no longer my number", "isn't my phone"},
	es: {"número equivocado", "número incorrecto", "número errado", "equivocado de número", "equivocaron de número",
		"equivocaste de número", "equivocó de número", "te equivocaste", "se equivocaron", "no te conozco",
		"no los conozco", "no lo conozco", "persona equivocada",
		"ya no es el número", "no es mi número", "persona incorrecta"},
	pt: {"número errado", "número trocado", "engano", "não te conheço", "não conheço vocês", "não sou eu",
		"número não é mais", "pessoa errada",
		"não é mais", "não é meu número", "não é o número"},
	fr: {"faux numéro", "mauvais numéro", "erreur de numéro", "trompé de numéro", "trompée de numéro",
		"trompez de numéro", "mauvaise personne", "ne vous connais pas", "plus le numéro",
		"pas la bonne personne", "n'est plus le numéro", "pas mon numéro"},
	de: {"falsche nummer", "falscher nummer", "verwählt", "falsch verbunden", "falscher empfänger", "falsche person",
		"kenne sie nicht", "kenne dich nicht", "bei mir falsch", "nicht meine nummer",
		"nicht mehr die nummer", "nicht mehr meine nummer"},
	it: {"numero sbagliato", "sbagliato numero", "sbagliato persona", "persona sbagliata", "non ti conosco",
		"non la conosco", "non vi conosco", "numero non è più", "non è il mio numero",
		"numero errato", "non è più il numero", "non è il numero"},
}
