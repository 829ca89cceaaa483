// Package rawconn makes the reads and writes of a socket plain system calls
// that the Go scheduler does not see as blocking ones.
//
// The coordinator relays short messages between clients and datanodes over
// nonblocking sockets: every read and write returns at once, but a write on
// loopback delivers the bytes and wakes the reader inside the call, and the
// writer is often preempted there by the task it woke. Made through
// syscall.Syscall, such a call looks blocked to the runtime, which then
// hands the thread's P to another thread and takes it back after: two more
// thread switches for one write. Made through syscall.RawSyscall, the call
// keeps its P; a socket not ready still parks the goroutine on the network
// poller, as net.Conn does.
package rawconn

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a connection whose Read and Write are raw system calls.
type Conn struct {
	net.Conn
	rc       syscall.RawConn
	rmu, wmu sync.Mutex // one Read, one Write at a time
	// The state of the Read and of the Write under way, and the functions
	// the RawConn calls with the descriptor (made once: no allocation per call).
	rd, wr         []byte
	rn, wn         int
	rerrno, werrno syscall.Errno
	readFn         func(fd uintptr) bool
	writeFn        func(fd uintptr) bool
}

// Wrap returns c with raw reads and writes when it is a TCP or Unix-domain
// socket, else c itself.
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{Conn: c, rc: rc}
	w.readFn = w.readOnce
	w.writeFn = w.writeSome
	return w
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rd, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rd = nil
	c.rmu.Unlock()
	if err = c.opError("read", err, errno); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// readOnce reads what is there; false: nothing yet, wait on the poller.
func (c *Conn) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rd[0])), uintptr(len(c.rd)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

// Quiet reports whether nothing has arrived on the connection and it is
// still open, without waiting. A pooled connection's server sends nothing
// unasked: bytes or an end of stream there mean it ended the connection
// (a FATAL of a shutdown, a crash) while the connection was idle.
//
// A Read waiting on the connection (pgx's background reader, which a write
// slower than 15 ms starts and leaves waiting once the write is done) holds
// the read side: whatever arrives goes to it, so Quiet neither peeks nor
// waits for it, and reports the connection quiet.
func (c *Conn) Quiet() bool {
	if !c.rmu.TryLock() {
		return true
	}
	defer c.rmu.Unlock()
	var b [1]byte
	quiet := false
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			quiet = e == syscall.EAGAIN
			return true // never wait
		}
	})
	return err == nil && quiet
}

func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wr, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	done, errno := c.wn, c.werrno
	c.wr = nil
	c.wmu.Unlock()
	return done, c.opError("write", err, errno)
}

// writeSome writes what the socket takes; false: its buffer is full, wait
// on the poller.
func (c *Conn) writeSome(fd uintptr) bool {
	for c.wn < len(c.wr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wr[c.wn])), uintptr(len(c.wr)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// opError is the error of a read or write: the RawConn's (a deadline, a
// closed connection), else the system call's, else nil.
func (c *Conn) opError(op string, err error, errno syscall.Errno) error {
	if err == nil {
		if errno == 0 {
			return nil
		}
		err = errno
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// CloseWrite shuts down the writing side, as the wrapped socket does.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap gives the wrapped connection.
func (c *Conn) Unwrap() net.Conn { return c.Conn }
