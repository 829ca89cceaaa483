package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Direction is the way bytes flow through the proxy.
type Direction int

// Directions: Up from the client that connected to the proxy to the target,
// Down from the target back to the client; Both is either.
const (
	Up Direction = 1 << iota
	Down
	Both = Up | Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return "none"
}

// chunkSize is the most a pump reads at once; queueLen the chunks it holds
// per direction before it stops reading (and TCP pushes back).
const (
	chunkSize = 32 << 10
	queueLen  = 64
)

// Stats count what went through a proxy.
type Stats struct {
	Accepted  int64 // connections accepted
	Refused   int64 // connections reset at once while refusing
	Reset     int64 // connections reset by Cut
	Open      int   // connections open now
	BytesUp   int64 // bytes passed on to the target
	BytesDown int64 // bytes passed on to clients
}

// faults is what the proxy does to the bytes now.
type faults struct {
	delay   [2]time.Duration // added latency of each direction (index dirIndex)
	stalled Direction        // directions whose bytes are held
	refuse  bool             // new connections are reset at once
}

func dirIndex(d Direction) int {
	if d == Down {
		return 1
	}
	return 0
}

// Proxy forwards the TCP connections made to its address to one target,
// applying the faults set on it to every connection, open or new.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	f       faults
	changed chan struct{} // closed (and replaced) when f changes
	links   map[*link]struct{}
	stats   Stats
	closed  bool

	wg sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, changed: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int {
	_, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	return n
}

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// SetDelay adds latency d to every chunk of bytes flowing in dir, on open
// connections and new ones; 0 removes it. A chunk keeps its place in line:
// latency, not a lower bandwidth.
func (p *Proxy) SetDelay(dir Direction, d time.Duration) {
	p.update(func(f *faults) {
		if dir&Up != 0 {
			f.delay[0] = d
		}
		if dir&Down != 0 {
			f.delay[1] = d
		}
	})
}

// Stall holds every byte flowing in dir, as a link that loses every packet
// holds them from TCP's point of view: nothing is delivered and nothing is
// refused until Release, which delivers what was held in order, or Cut.
// New connections are accepted but stall as well.
func (p *Proxy) Stall(dir Direction) {
	p.update(func(f *faults) { f.stalled |= dir })
}

// Release ends the stall of dir; the bytes held are delivered.
func (p *Proxy) Release(dir Direction) {
	p.update(func(f *faults) { f.stalled &^= dir })
}

// Refuse makes the proxy reset every new connection at once while on, as a
// host whose port is closed does.
func (p *Proxy) Refuse(on bool) {
	p.update(func(f *faults) { f.refuse = on })
}

// Cut resets every open connection (both sides get a TCP reset; the bytes
// held or in flight are lost) and tells how many it reset.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	var ls []*link
	for l := range p.links {
		ls = append(ls, l)
	}
	p.stats.Reset += int64(len(ls))
	p.mu.Unlock()
	for _, l := range ls {
		l.kill()
	}
	return len(ls)
}

// Heal removes every fault: no delay, no stall (held bytes are delivered),
// new connections accepted.
func (p *Proxy) Heal() {
	p.update(func(f *faults) { *f = faults{} })
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = len(p.links)
	return s
}

// Close stops listening, resets every connection and waits until every
// goroutine of the proxy has ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) update(fn func(*faults)) {
	p.mu.Lock()
	fn(&p.f)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// state returns the faults now and a channel closed at their next change.
func (p *Proxy) state() (faults, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f, p.changed
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		client := c.(*net.TCPConn)
		p.mu.Lock()
		if p.closed || p.f.refuse {
			p.stats.Refused++
			p.mu.Unlock()
			reset(client)
			continue
		}
		p.stats.Accepted++
		l := &link{p: p, client: client, done: make(chan struct{})}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go l.run()
	}
}

// reset closes c with a TCP reset rather than a FIN.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// link is one connection through the proxy: the client's and the target's.
type link struct {
	p              *Proxy
	client, server *net.TCPConn
	mu             sync.Mutex
	killed         bool
	done           chan struct{} // closed by kill
}

// kill resets both sides of the link.
func (l *link) kill() { l.end(true) }

// end closes both sides of the link, with resets when hard (a clean end
// closes them as usual, so that nothing written is lost).
func (l *link) end(hard bool) {
	l.mu.Lock()
	if l.killed {
		l.mu.Unlock()
		return
	}
	l.killed = true
	close(l.done)
	srv := l.server
	l.mu.Unlock()
	if hard {
		reset(l.client)
		if srv != nil {
			reset(srv)
		}
		return
	}
	l.client.Close()
	if srv != nil {
		srv.Close()
	}
}

func (l *link) run() {
	defer l.p.wg.Done()
	defer func() {
		l.end(false) // (a no-op after a kill)
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	sc, err := d.Dial("tcp", l.p.target)
	if err != nil {
		l.kill() // the client sees a reset, as if the target refused it
		return
	}
	l.mu.Lock()
	if l.killed {
		l.mu.Unlock()
		reset(sc.(*net.TCPConn))
		return
	}
	l.server = sc.(*net.TCPConn)
	l.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pipe(Up, l.client, l.server) }()
	go func() { defer wg.Done(); l.pipe(Down, l.server, l.client) }()
	wg.Wait()
}

// chunk is bytes read from one side, with the time they were read.
type chunk struct {
	data []byte
	at   time.Time
	eof  bool // the source closed its side: pass the FIN on
}

// pipe moves the bytes of one direction: a reader queues what src sends,
// the writer delivers each chunk to dst when the faults let it. A read or
// write error other than a clean end kills the link.
func (l *link) pipe(dir Direction, src, dst *net.TCPConn) {
	q := make(chan chunk, queueLen)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{data: buf[:n], at: time.Now()}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					select {
					case q <- chunk{eof: true, at: time.Now()}:
					case <-l.done:
					}
				} else {
					l.kill()
				}
				return
			}
		}
	}()
	for c := range q {
		if !l.hold(dir, c.at) {
			break
		}
		if c.eof {
			dst.CloseWrite()
			continue
		}
		l.p.mu.Lock()
		if dir == Up {
			l.p.stats.BytesUp += int64(len(c.data))
		} else {
			l.p.stats.BytesDown += int64(len(c.data))
		}
		l.p.mu.Unlock()
		if _, err := dst.Write(c.data); err != nil {
			l.kill()
			break
		}
	}
	// Drain what the reader still queues until it ends.
	for range q {
	}
}

// hold waits until a chunk read at `at` may go in dir: no stall of dir and
// its delay passed. false: the link was killed meanwhile.
func (l *link) hold(dir Direction, at time.Time) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		f, changed := l.p.state()
		select {
		case <-l.done:
			return false
		default:
		}
		if f.stalled&dir != 0 {
			select {
			case <-changed:
				continue
			case <-l.done:
				return false
			}
		}
		wait := time.Until(at.Add(f.delay[dirIndex(dir)]))
		if wait <= 0 {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-changed:
		case <-l.done:
			return false
		}
	}
}
