package evolution

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

func TestHealth(t *testing.T) {
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "global-key", Seed: 1})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	notEvolution := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"hello":"world"}`))
	}))
	t.Cleanup(notEvolution.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more

	tests := []struct {
		name, url string
		healthy   bool
	}{
		{"evolution simulator", simSrv.URL, true},
		{"another JSON server", notEvolution.URL, false},
		{"5xx answer", failing.URL, false},
		{"connection refused", gone.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{ShardID: "evo-1", BaseURL: tt.url, GlobalKey: "global-key"})
			err := c.Health(t.Context())
			if (err == nil) != tt.healthy {
				t.Fatalf("Health() = %v, want healthy %v", err, tt.healthy)
			}
		})
	}
}
