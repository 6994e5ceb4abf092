package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
)

// benchClient drives a running aibud through its public API with a session
// cookie, as a browser or an integration would, to set up a benchmark.
type benchClient struct {
	base string
	http *http.Client
}

func newBenchClient(base string) (*benchClient, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &benchClient{base: base, http: &http.Client{Jar: jar}}, nil
}

// signup creates the benchmark's account; its session cookie is kept.
func (c *benchClient) signup(ctx context.Context, out any) error {
	return c.json(ctx, "POST", "/api/v1/signup",
		map[string]string{"email": "bench@example.com", "password": "correct horse battery", "company": "Bench"},
		http.StatusCreated, out)
}

// json sends in (if not nil) as JSON and decodes the answer into out (if
// not nil), which must come with status want.
func (c *benchClient) json(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, "application/json", body, want, out)
}

// do sends body of contentType and decodes a JSON answer into out.
func (c *benchClient) do(ctx context.Context, method, path, contentType string, body io.Reader, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, answer)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s %s: decode %s: %w", method, path, answer, err)
	}
	return nil
}
