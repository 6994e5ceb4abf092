// Package redisserver runs a redis-server process on a free loopback port
// with persistence off: the real Redis for tests (through redistest) and for
// `aibud bench`, without a deployment. The process is this program's own
// and is stopped by Kill.
package redisserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// startTimeout bounds the wait for a new redis-server to answer PING.
	startTimeout = 5 * time.Second
	// startAttempts covers the small window in which another process may
	// take the free port between choosing it and redis-server binding it.
	startAttempts = 3
)

// ErrNotInstalled means there is no redis-server on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH")

// Server is a running (or killed) redis-server.
type Server struct {
	// URL is redis://127.0.0.1:port, stable across Restart.
	URL string

	bin  string
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	running bool
}

// Start starts redis-server from PATH on a free loopback port, keeping its
// log in dir, and waits until it answers PING.
func Start(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	s := &Server{bin: bin, dir: dir}
	var lastErr error
	for range startAttempts {
		if s.port, lastErr = freePort(); lastErr != nil {
			continue
		}
		if lastErr = s.start(); lastErr == nil {
			s.URL = fmt.Sprintf("redis://127.0.0.1:%d", s.port)
			return s, nil
		}
	}
	return nil, lastErr
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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

	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := Command(s.addr(), "PING")
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

func (s *Server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}

// Command sends one command (space-separated words, as a RESP array, which
// miniredis understands too) to addr and returns the first line of the
// reply.
func Command(addr, cmd string) (string, error) {
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
	_ = s.cmd.Process.Kill() // only the process this Server started
	<-s.exited
}

// Restart starts the server again on the same port, empty, as a Redis
// without persistence comes back after a crash. A running server is killed
// first.
func (s *Server) Restart() error {
	s.Kill()
	return s.start()
}

// FlushAll empties every database, as an operator's FLUSHALL would.
func (s *Server) FlushAll() error {
	if reply, err := Command(s.addr(), "FLUSHALL"); err != nil || reply != "+OK" {
		return fmt.Errorf("FLUSHALL: %q, %v", reply, err)
	}
	return nil
}
