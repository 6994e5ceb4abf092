// Package redistest starts a real redis-server for a test, because Asynq's
// behaviour under load, restarts and FLUSHALL is what production sees and
// miniredis only imitates it. Where redis-server is not installed (a
// developer laptop) it falls back to miniredis and says so; in CI (CI=true)
// a missing redis-server fails the test instead of silently testing less.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

const (
	// startTimeout bounds the wait for a new redis-server to answer PING.
	startTimeout = 5 * time.Second
	// startAttempts covers the small window in which another process may
	// take the free port between choosing it and redis-server binding it.
	startAttempts = 3
	installHint   = "install redis-server (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)"
)

// Server is a Redis started for one test and stopped by tb.Cleanup. Its
// methods let chaos tests kill and restart it underneath the code under test.
type Server struct {
	// URL is redis://127.0.0.1:port, stable across Restart.
	URL string

	tb   testing.TB
	bin  string // redis-server path; empty when falling back to miniredis
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
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
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server not found on PATH and CI=true, so no miniredis fallback: %s", installHint)
		}
		tb.Logf("redis-server not found: falling back to miniredis; to test against a real Redis, %s", installHint)
		return startMini(tb)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(s.Kill)
	var lastErr error
	for range startAttempts {
		s.port = freePort(tb)
		if lastErr = s.start(); lastErr == nil {
			s.URL = fmt.Sprintf("redis://127.0.0.1:%d", s.port)
			return s
		}
	}
	tb.Fatalf("redistest: %v", lastErr)
	return nil
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

// freePort asks the kernel for a free loopback port.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs redis-server on s.port and waits until it answers PING.
func (s *Server) start() error {
	logPath := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", logPath)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	// The waiter reaps the process and tells start and Kill it has gone.
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.running = cmd, exited, true
	s.mu.Unlock()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := command(addr, "PING")
		if err == nil && reply == "+PONG" {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited at start-up; its log:\n%s", s.port, readLog(logPath))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within %s (last: %q, %v); its log:\n%s",
				s.port, startTimeout, reply, err, readLog(logPath))
		}
	}
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}

// command sends one command (space-separated words, as a RESP array, which
// miniredis understands too) and returns the first line of the reply.
func command(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	words := strings.Fields(cmd)
	req := fmt.Sprintf("*%d\r\n", len(words))
	for _, w := range words {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(w), w)
	}
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// Kill stops the server at once with SIGKILL, as a crash or an OOM kill
// would, and waits for it to be gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	s.running = false
	if s.mini != nil {
		s.mini.Close()
		return
	}
	_ = s.cmd.Process.Kill() // only the process this Server started
	<-s.exited
}

// Restart starts the server again on the same port, empty, as a Redis
// without persistence comes back after a crash. A running server is killed
// first.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	if s.mini != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.mini.FlushAll()
		if err := s.mini.Restart(); err != nil {
			s.tb.Fatalf("redistest: restart miniredis: %v", err)
		}
		s.running = true
		return
	}
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
}

// FlushAll empties every database, as an operator's FLUSHALL would.
func (s *Server) FlushAll() {
	s.tb.Helper()
	if s.mini != nil {
		s.mini.FlushAll()
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	if reply, err := command(addr, "FLUSHALL"); err != nil || reply != "+OK" {
		s.tb.Fatalf("redistest: FLUSHALL: %q, %v", reply, err)
	}
}
