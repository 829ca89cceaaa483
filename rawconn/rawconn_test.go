package rawconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/xlgo/xlgo/internal/poll"
)

func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return Wrap(c), Wrap(s)
}

// Bytes go through both ways, a write larger than the socket's buffer
// waits for the reader, and the end of the stream is io.EOF.
func TestReadWrite(t *testing.T) {
	a, b := pair(t)
	if _, ok := a.(*Conn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", a)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	go func() {
		if _, err := a.Write(big); err != nil {
			t.Error(err)
		}
		a.(*Conn).CloseWrite()
	}()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(big))
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "back" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// A read deadline ends a read that waits, with a timeout error; a closed
// connection says so.
func TestDeadlineAndClose(t *testing.T) {
	a, _ := pair(t)
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := a.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	a.Close()
	if _, err := a.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed connection: %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write to a closed connection: %v", err)
	}
}

// Quiet: true while nothing has arrived; false once bytes wait (which a
// read then still gets whole) or the peer has closed; false on a closed
// connection.
func TestQuiet(t *testing.T) {
	a, b := pair(t)
	qa := a.(*Conn)
	if !qa.Quiet() {
		t.Fatal("a fresh connection is not quiet")
	}
	if _, err := b.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "not quiet with a byte waiting", func() bool { return !qa.Quiet() })
	buf := make([]byte, 1)
	if _, err := io.ReadFull(a, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("after Quiet, read %q, %v", buf, err)
	}
	if !qa.Quiet() {
		t.Fatal("not quiet once the byte is read")
	}
	b.Close()
	poll.Until(t, "not quiet after the peer closed", func() bool { return !qa.Quiet() })
	a.Close()
	if qa.Quiet() {
		t.Fatal("a closed connection is quiet")
	}
}

// Quiet does not wait for a Read that waits on the connection (a pooled
// datanode connection whose pgx background reader still waits after a slow
// write): it answers at once.
func TestQuietDuringRead(t *testing.T) {
	a, b := pair(t)
	qa := a.(*Conn)
	reading := make(chan struct{})
	read := make(chan error, 1)
	go func() {
		close(reading)
		buf := make([]byte, 1)
		_, err := a.Read(buf)
		read <- err
	}()
	<-reading
	answered := make(chan bool, 1)
	go func() { answered <- qa.Quiet() }()
	select {
	case q := <-answered:
		if !q {
			t.Error("not quiet with nothing arrived")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Quiet waits for a Read waiting on the connection")
	}
	if _, err := b.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}
