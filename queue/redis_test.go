package queue_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
)

// TestConnectTLS covers rediss:// (managed Redis such as Upstash): the TLS
// settings must reach the PING client and every Asynq client.
func TestConnectTLS(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddrTLS("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}); err != nil {
		t.Fatalf("start TLS miniredis: %v", err)
	}
	t.Cleanup(m.Close)

	if _, err := queue.Connect(context.Background(),
		queue.RedisConfig{URL: "redis://" + m.Addr(), Wait: 500 * time.Millisecond}, newLogger(nil)); err == nil {
		t.Error("plain redis:// to a TLS server succeeded")
	}
	r := MustConnect(t, "rediss://"+m.Addr()+"?skip_verify=true")
	done := make(chan string, 1)
	MustStartWorker(t, r, queue.WorkerConfig{}, func(_ context.Context, task *asynq.Task) error {
		done <- string(task.Payload())
		return nil
	})
	if _, err := MustClient(t, r).Enqueue(context.Background(), asynq.NewTask(typeTest, []byte("tls"))); err != nil {
		t.Fatalf("Enqueue over TLS: %v", err)
	}
	if got := receive(t, done, "the task over TLS"); got != "tls" {
		t.Errorf("payload = %q, want tls", got)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestConnectEmbedded(t *testing.T) {
	var logs logBuffer
	r, err := queue.Connect(context.Background(), queue.RedisConfig{}, newLogger(&logs))
	if err != nil {
		t.Fatalf("Connect with empty URL: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if !r.Embedded() {
		t.Error("Embedded() = false with an empty URL")
	}
	if !strings.Contains(logs.String(), "REDIS_URL is not set: using an in-process Redis") {
		t.Errorf("no warning about the in-process Redis; logs:\n%s", logs.String())
	}
	if err := r.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	done := make(chan string, 1)
	MustStartWorker(t, r, queue.WorkerConfig{}, func(_ context.Context, task *asynq.Task) error {
		done <- string(task.Payload())
		return nil
	})
	c := MustClient(t, r)
	if _, err := c.Enqueue(context.Background(), asynq.NewTask(typeTest, []byte("hello")), asynq.Queue(queue.QueueCritical)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if got := receive(t, done, "the task on the embedded Redis"); got != "hello" {
		t.Errorf("payload = %q, want hello", got)
	}
}

// TestEmbeddedClockExpiresUniqueLocks checks why the clock goroutine exists:
// without it a Unique lock on miniredis would never expire.
func TestEmbeddedClockExpiresUniqueLocks(t *testing.T) {
	r := MustConnect(t, "")
	c := MustClient(t, r)
	ctx := context.Background()
	task := asynq.NewTask(typeTest, []byte("snapshot"))
	if _, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow)); err != nil {
		t.Fatalf("first Enqueue: %v", err)
	}
	if _, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow)); !errors.Is(err, asynq.ErrDuplicateTask) {
		t.Fatalf("second Enqueue within the TTL: err = %v, want asynq.ErrDuplicateTask", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow))
		if err == nil {
			return
		}
		if !errors.Is(err, asynq.ErrDuplicateTask) || time.Now().After(deadline) {
			t.Fatalf("unique lock never expired on the embedded Redis: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConnectBadURL(t *testing.T) {
	for _, url := range []string{
		"http://localhost:6379",
		"localhost:6379",
		"redis://",
		"redis://:s3cret@localhost:6379/notanumber",
		"redis://:s3cret@local host:6379",
	} {
		t.Run(url, func(t *testing.T) {
			_, err := queue.Connect(context.Background(), queue.RedisConfig{URL: url}, newLogger(nil))
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			if !strings.Contains(err.Error(), "REDIS_URL") {
				t.Errorf("error does not name REDIS_URL: %v", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error reveals the password: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestConnectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	var logs logBuffer
	start := time.Now()
	_, err = queue.Connect(context.Background(),
		queue.RedisConfig{URL: "redis://:s3cret@" + addr, Wait: time.Second}, newLogger(&logs))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	want := fmt.Sprintf("redis at %s did not answer PING within 1s", addr)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Connect took %s with Wait 1s", elapsed)
	}
	if !strings.Contains(logs.String(), "addr="+addr) {
		t.Errorf("failed attempts not logged with the address; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String()+err.Error(), "s3cret") {
		t.Errorf("password leaked; err = %v; logs:\n%s", err, logs.String())
	}
	t.Logf("failed after %s: %v", elapsed.Round(time.Millisecond), err)
}

func TestCloseStopsEmbeddedClock(t *testing.T) {
	before := runtime.NumGoroutine()
	r, err := queue.Connect(context.Background(), queue.RedisConfig{}, newLogger(nil))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !clockRunning() {
		t.Fatal("no clock goroutine while the embedded Redis is open")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if clockRunning() {
		t.Error("clock goroutine still running after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before Connect, %d after Close", before, after)
	}
}

func clockRunning() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("advanceEmbeddedClock"))
}
