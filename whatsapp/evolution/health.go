package evolution

import (
	"context"
	"net/http"
	"strings"

	"github.com/aibud/aibud/tenants"
)

// welcome is the answer of GET / on an Evolution API server.
type welcome struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Version string `json:"version"`
}

var _ tenants.GatewayHealth = (*Client)(nil)

// Health makes one live call to the server's welcome endpoint (GET /) and
// reports whether it answered as an Evolution API does. It is not retried:
// the operator wants to know how the server is now.
func (c *Client) Health(ctx context.Context) error {
	var w welcome
	rc := call{op: "health", method: http.MethodGet, path: "/", key: c.globalKey, retry: retryNever}
	if err := c.attempt(ctx, rc, nil, &w); err != nil {
		return err
	}
	if w.Status != http.StatusOK || !strings.Contains(strings.ToLower(w.Message), "evolution") {
		return &tenants.GatewayError{Op: "health", Status: http.StatusOK, Message: "the server at " + c.baseURL + " does not answer like an Evolution API"}
	}
	return nil
}
