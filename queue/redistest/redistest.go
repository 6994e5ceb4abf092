// Package redistest starts a real redis-server for a test, because Asynq's
// behaviour under load, restarts and FLUSHALL is what production sees and
// miniredis only imitates it. Where redis-server is not installed (a
// developer laptop) it falls back to miniredis and says so; in CI (CI=true)
// a missing redis-server fails the test instead of silently testing less.
package redistest

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/aibud/aibud/queue/redisserver"
)

const installHint = "install redis-server (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)"

// Server is a Redis started for one test and stopped by tb.Cleanup. Its
// methods let chaos tests kill and restart it underneath the code under test.
type Server struct {
	// URL is redis://127.0.0.1:port, stable across Restart.
	URL string

	tb   testing.TB
	bin  string              // redis-server path; empty when falling back to miniredis
	proc *redisserver.Server // nil when falling back to miniredis

	mu      sync.Mutex
	mini    *miniredis.Miniredis
	running bool
}

// Start starts a Redis for tb and returns its URL.
func Start(tb testing.TB) string {
	tb.Helper()
	return StartServer(tb).URL
}

// StartServer starts a Redis for tb: a real redis-server on a free loopback
// port with persistence off, or miniredis when redis-server is not on PATH
// and CI is not "true". It is stopped in tb.Cleanup.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	proc, err := redisserver.Start(tb.TempDir())
	if errors.Is(err, redisserver.ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server not found on PATH and CI=true, so no miniredis fallback: %s", installHint)
		}
		tb.Logf("redis-server not found: falling back to miniredis; to test against a real Redis, %s", installHint)
		return startMini(tb)
	} else if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	s := &Server{tb: tb, URL: proc.URL, bin: "redis-server", proc: proc}
	tb.Cleanup(s.Kill)
	return s
}

func startMini(tb testing.TB) *Server {
	tb.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		tb.Fatalf("redistest: start miniredis: %v", err)
	}
	s := &Server{tb: tb, URL: "redis://" + m.Addr(), mini: m, running: true}
	tb.Cleanup(s.Kill)
	return s
}

// command sends one command to addr and returns the first reply line.
func command(addr, cmd string) (string, error) { return redisserver.Command(addr, cmd) }

// Kill stops the server at once with SIGKILL, as a crash or an OOM kill
// would, and waits for it to be gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	if s.proc != nil {
		s.proc.Kill()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.running = false
		s.mini.Close()
	}
}

// Restart starts the server again on the same port, empty, as a Redis
// without persistence comes back after a crash. A running server is killed
// first.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	if s.proc != nil {
		if err := s.proc.Restart(); err != nil {
			s.tb.Fatalf("redistest: restart: %v", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mini.FlushAll()
	if err := s.mini.Restart(); err != nil {
		s.tb.Fatalf("redistest: restart miniredis: %v", err)
	}
	s.running = true
}

// FlushAll empties every database, as an operator's FLUSHALL would.
func (s *Server) FlushAll() {
	s.tb.Helper()
	if s.mini != nil {
		s.mini.FlushAll()
		return
	}
	if err := s.proc.FlushAll(); err != nil {
		s.tb.Fatalf("redistest: %v", err)
	}
}
