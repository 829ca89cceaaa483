package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/xlgo/xlgo/internal/poll"
)

// echoServer answers every line with the same line until the client closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends a line and reads its echo, within d; it returns how long it took.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string, d time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c.SetDeadline(start.Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return 0, err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return time.Since(start), err
	}
	if got != line+"\n" {
		t.Fatalf("echo %q, want %q", got, line)
	}
	return time.Since(start), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestForwards(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	for _, l := range []string{"a", "bb", "ccc"} {
		if _, err := roundTrip(t, c, r, l, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	if st.Accepted != 1 || st.Open != 1 || st.BytesUp != 9 || st.BytesDown != 9 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDelay(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	p.SetDelay(Both, 100*time.Millisecond)
	took, err := roundTrip(t, c, r, "x", 5*time.Second)
	if err != nil || took < 200*time.Millisecond {
		t.Fatalf("round trip with 100ms each way: %v, %v", took, err)
	}
	p.SetDelay(Down, 0)
	took, err = roundTrip(t, c, r, "y", 5*time.Second)
	if err != nil || took < 100*time.Millisecond || took > 190*time.Millisecond {
		t.Fatalf("round trip with 100ms up: %v, %v", took, err)
	}
	p.Heal()
	if took, err = roundTrip(t, c, r, "z", 5*time.Second); err != nil || took > 90*time.Millisecond {
		t.Fatalf("round trip healed: %v, %v", took, err)
	}
}

// Latency, not bandwidth: chunks sent back to back arrive one delay later,
// not one delay each.
func TestDelayIsLatency(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	p.SetDelay(Up, 100*time.Millisecond)
	start := time.Now()
	for i := 0; i < 10; i++ {
		io.WriteString(c, "x\n")
		time.Sleep(5 * time.Millisecond)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 10; i++ {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Fatalf("10 chunks 5ms apart with 100ms latency took %v", took)
	}
}

func TestStallAndRelease(t *testing.T) {
	for _, dir := range []Direction{Up, Down, Both} {
		t.Run(dir.String(), func(t *testing.T) {
			p := startProxy(t)
			c, r := dial(t, p)
			p.Stall(dir)
			if _, err := roundTrip(t, c, r, "held", 200*time.Millisecond); !isTimeout(err) {
				t.Fatalf("stalled %s: %v, want a timeout", dir, err)
			}
			// A new connection is accepted but stalls too.
			c2, r2 := dial(t, p)
			if _, err := roundTrip(t, c2, r2, "new", 100*time.Millisecond); !isTimeout(err) {
				t.Fatalf("new connection while stalled %s: %v, want a timeout", dir, err)
			}
			p.Release(dir)
			// What was held is delivered, in order.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
				t.Fatalf("after release: %q, %v", got, err)
			}
			if _, err := roundTrip(t, c, r, "after", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			c2.SetDeadline(time.Now().Add(5 * time.Second))
			if got, err := r2.ReadString('\n'); err != nil || got != "new\n" {
				t.Fatalf("new connection after release: %q, %v", got, err)
			}
		})
	}
}

func TestCutAndRefuse(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	if _, err := roundTrip(t, c, r, "a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Refuse(true)
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut reset %d connections, want 1", n)
	}
	if _, err := roundTrip(t, c, r, "b", 5*time.Second); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("after a cut: %v, want a reset", err)
	}
	// New connections are reset at once (the connect itself or the first read).
	if c2, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		defer c2.Close()
		if _, err := roundTrip(t, c2, bufio.NewReader(c2), "c", 5*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("while refusing: %v, want a reset", err)
		}
	} else if isTimeout(err) {
		t.Fatalf("connect while refusing: %v, want a reset", err)
	}
	p.Refuse(false)
	c3, r3 := dial(t, p)
	if _, err := roundTrip(t, c3, r3, "d", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Reset != 1 || st.Refused != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A stalled connection that is cut loses what was held.
func TestStallThenCut(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	p.Stall(Down)
	if _, err := roundTrip(t, c, r, "lost", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("stalled: %v", err)
	}
	p.Cut()
	p.Heal()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("read %q after the cut", got)
	}
}

// A client that closes its side cleanly: the target sees the end of its
// stream, answers what came before and the link closes.
func TestHalfClose(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	io.WriteString(c, "last\n")
	c.(*net.TCPConn).CloseWrite()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "last\n" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("after the echo: %v, want EOF", err)
	}
	poll.Within(t, 5*time.Second, "the link to close", func() bool { return p.Stats().Open == 0 })
}

func TestCloseEndsEverything(t *testing.T) {
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c, r := dial(t, p)
	p.Stall(Both)
	io.WriteString(c, "x\n")
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a stalled connection")
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("after Close: %v", err)
	}
}
