package rules

import (
	"context"
	"testing"

	"github.com/aibud/aibud/tenants"
)

func TestZZProbe(t *testing.T) {
	c := New()
	opts := []string{"Monday", "Tuesday", "Thursday"}
	for _, s := range []string{"Hi", "Yes", "No", "?", "ok 👍", "I want 3 pizzas", "Thursday at 3?", "STOP!!! 😡",
		"por favor não me mande mais mensagens", "Non, merci. Et arrêtez de m'écrire.", "quiero la segunda", "the 1st",
		"both", "tuesday or thursday? whichever is cheaper", "not monday", "any day works", "yes but not thursday",
		"2 pm works", "see you at 2", "is it still 20% off?", "I'll take the 3rd", "número 2", "remove", "End",
		"This is the end of the world lol", "Quit it", "stop ✋", "Pls stop", "stahp", "unsubscribe!!!", "alto ahí, ¿cuánto cuesta?",
		"basta così, grazie: prendo il 2", "Sair", "sair do trabalho cedo, dá pra ir terça?", "apaga isso", "eu quero o número 3",
		"obrigado!", "Ótimo, obrigada", "👍👍", "❤️", "😂😂😂", "🙏", "Tuesday 👎", "2️⃣ e 3️⃣", "1,2", "12", "0"} {
		got, _ := c.Classify(context.Background(), tenants.ClassifyInput{Text: s, Options: opts})
		t.Logf("%-45q %-15s %.2f %v %s %s | %s", s, got.Intent, got.Confidence, got.Options, got.Language, got.Sentiment, got.Summary)
	}
}
