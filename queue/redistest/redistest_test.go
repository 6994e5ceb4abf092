package redistest

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
)

func addrOf(t *testing.T, s *Server) string {
	t.Helper()
	return strings.TrimPrefix(s.URL, "redis://")
}

func mustCommand(t *testing.T, addr, cmd, want string) {
	t.Helper()
	got, err := command(addr, cmd)
	if err != nil || got != want {
		t.Fatalf("%s: got %q, %v; want %q", cmd, got, err, want)
	}
}

func TestServerLifecycle(t *testing.T) {
	s := StartServer(t)
	if s.bin == "" {
		t.Skip("redis-server not installed; the miniredis fallback is covered by TestFallbackToMiniredis")
	}
	addr := addrOf(t, s)
	mustCommand(t, addr, "SET k v", "+OK")
	mustCommand(t, addr, "CONFIG GET save", "*2")

	s.FlushAll()
	mustCommand(t, addr, "EXISTS k", ":0")

	mustCommand(t, addr, "SET k v", "+OK")
	s.Kill()
	if _, err := command(addr, "PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Kill() // a second Kill is harmless

	s.Restart()
	if got := addrOf(t, s); got != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, got)
	}
	mustCommand(t, addr, "PING", "+PONG")
	mustCommand(t, addr, "EXISTS k", ":0") // empty after a restart
}

func TestFallbackToMiniredis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	s := StartServer(t)
	if s.mini == nil {
		t.Fatal("did not fall back to miniredis with redis-server off PATH")
	}
	addr := addrOf(t, s)
	mustCommand(t, addr, "SET k v", "+OK")
	s.Kill()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("miniredis still listening after Kill")
	}
	s.Restart()
	mustCommand(t, addr, "EXISTS k", ":0")
	s.FlushAll()
}

// fatalRecorder records Fatalf and ends the goroutine, as testing.T does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingRedisServerFailsInCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "true")
	rec := &fatalRecorder{TB: t}
	done := make(chan *Server)
	go func() {
		defer close(done)
		done <- StartServer(rec)
	}()
	if s := <-done; s != nil {
		t.Fatalf("StartServer returned %+v with CI=true and no redis-server", s)
	}
	if !strings.Contains(rec.msg, "apt-get install -y redis-server") {
		t.Errorf("fatal message lacks an install hint: %q", rec.msg)
	}
}
