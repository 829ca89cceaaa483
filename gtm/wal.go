package gtm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// On-disk layout of the GTM log (data-dir/gtm.log):
//
//	file   = magic record*
//	magic  = "XLGTMLG1"
//	record = uint32 len (big-endian, of payload) | uint32 CRC-32C of payload | payload
//	payload = byte recordType | body (encoded with gtmproto.Encoder)
//
// A record that is cut short or whose CRC does not match ends the log: everything
// from it on is a torn tail from a crash and is truncated on open.

const (
	logName     = "gtm.log"
	logTmpName  = "gtm.log.tmp"
	lockName    = "LOCK"
	logMagic    = "XLGTMLG1"
	recHdrLen   = 8
	maxRecordSz = 4 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends one framed record (type + body) to dst.
func appendRecord(dst []byte, t recordType, body []byte) []byte {
	payloadLen := 1 + len(body)
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(payloadLen))
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = append(dst, byte(t))
	dst = append(dst, body...)
	crc := crc32.Checksum(dst[start+recHdrLen:], crcTable)
	binary.BigEndian.PutUint32(dst[start+4:], crc)
	return dst
}

// scanLog calls apply for every intact record of data (which starts after the
// magic) and returns the length of the intact prefix.
func scanLog(data []byte, apply func(t recordType, body []byte) error) (int, error) {
	off := 0
	for {
		rest := data[off:]
		if len(rest) < recHdrLen {
			return off, nil
		}
		n := binary.BigEndian.Uint32(rest[:4])
		if n < 1 || n > maxRecordSz || uint64(n) > uint64(len(rest)-recHdrLen) {
			return off, nil
		}
		payload := rest[recHdrLen : recHdrLen+int(n)]
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(rest[4:8]) {
			return off, nil
		}
		if err := apply(recordType(payload[0]), payload[1:]); err != nil {
			return off, fmt.Errorf("log record at offset %d: %w", len(logMagic)+off, err)
		}
		off += recHdrLen + int(n)
	}
}

// wal is the open log, appended to under mu and fsynced with group commit:
// concurrent callers of syncTo share one fsync. It also keeps the state the
// log describes (every appended record applied), which is what a standby is
// sent as its first snapshot, and feeds every appended record to the attached
// standby, if any, in log order.
type wal struct {
	mu   sync.Mutex
	f    *os.File
	size int64
	err  error  // sticky: after a failed write or fsync nothing more is accepted
	st   *state // the log's state as of size
	tap  *replica
	m    *metrics

	syncMu sync.Mutex
	synced int64
}

// errLogFailed wraps the sticky error of a log that can no longer be trusted.
var errLogFailed = errors.New("gtm log failed")

// append writes one record and returns the log offset just past it. The record
// is not durable until syncTo returns for that offset.
func (w *wal) append(t recordType, body []byte) (int64, error) {
	return w.appendBatch([]walRecord{{t, body}})
}

// walRecord is one record to append: its type and body.
type walRecord struct {
	t    recordType
	body []byte
}

// appendBatch writes records with one write and returns the log offset just
// past the last.
func (w *wal) appendBatch(recs []walRecord) (int64, error) {
	var rec []byte
	for _, r := range recs {
		rec = appendRecord(rec, r.t, r.body)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if _, err := w.f.Write(rec); err != nil {
		// Take a partial record back out so later records stay readable; if that
		// fails too, stop accepting anything.
		if terr := w.f.Truncate(w.size); terr != nil {
			w.err = fmt.Errorf("%w: write: %v; truncate: %v", errLogFailed, err, terr)
		} else if _, serr := w.f.Seek(w.size, io.SeekStart); serr != nil {
			w.err = fmt.Errorf("%w: write: %v; seek: %v", errLogFailed, err, serr)
		}
		return 0, fmt.Errorf("append to gtm log: %w", err)
	}
	w.size += int64(len(rec))
	w.m.walBytes.Add(float64(len(rec)))
	w.m.walRecords.Add(float64(len(recs)))
	// Records built here always decode; an error would mean a bug in this file.
	for _, r := range recs {
		_ = w.st.apply(r.t, r.body)
	}
	if w.tap != nil {
		w.tap.enqueue(rec, w.size)
	}
	return w.size, nil
}

// appendRaw writes already framed records (received from the primary), applies
// them to the log's state and returns the log offset past them. data must
// hold whole, intact records.
func (w *wal) appendRaw(data []byte) (int64, error) {
	type rec struct {
		t    recordType
		body []byte
	}
	var recs []rec
	good, _ := scanLog(data, func(t recordType, body []byte) error {
		recs = append(recs, rec{t, body})
		return nil
	})
	if good != len(data) {
		return 0, fmt.Errorf("replicated log records are damaged at byte %d of %d", good, len(data))
	}
	probe := newState()
	for _, r := range recs {
		if err := probe.apply(r.t, r.body); err != nil {
			return 0, fmt.Errorf("replicated log record: %w", err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if _, err := w.f.Write(data); err != nil {
		if terr := w.f.Truncate(w.size); terr != nil {
			w.err = fmt.Errorf("%w: write: %v; truncate: %v", errLogFailed, err, terr)
		} else if _, serr := w.f.Seek(w.size, io.SeekStart); serr != nil {
			w.err = fmt.Errorf("%w: write: %v; seek: %v", errLogFailed, err, serr)
		}
		return 0, fmt.Errorf("append to gtm log: %w", err)
	}
	w.size += int64(len(data))
	w.m.walBytes.Add(float64(len(data)))
	w.m.walRecords.Add(float64(len(recs)))
	for _, r := range recs {
		_ = w.st.apply(r.t, r.body)
	}
	return w.size, nil
}

// replace makes content (records, as sent in a snapshot) the whole log, durably,
// and its state the log's state.
func (w *wal) replace(dir string, content []byte) error {
	st := newState()
	good, err := scanLog(content, st.apply)
	if err != nil {
		return fmt.Errorf("replicated snapshot: %w", err)
	}
	if good != len(content) {
		return fmt.Errorf("replicated snapshot is damaged at byte %d of %d", good, len(content))
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.err
	}
	nw, err := writeFreshLog(dir, content)
	if err != nil {
		return err
	}
	w.f.Close()
	w.f, w.size, w.err, w.st = nw.f, nw.size, nil, st
	w.synced = nw.synced
	return nil
}

// attach makes r the standby fed with every record appended from now on and
// returns the log's state as of that moment (a snapshot) and its offset.
func (w *wal) attach(r *replica) (snapshot []byte, offset int64, generation uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, 0, 0, w.err
	}
	old := w.tap
	r.mu.Lock()
	r.oweLocked(w.size) // the snapshot
	r.mu.Unlock()
	w.tap = r
	if old != nil {
		old.stop()
	}
	return w.st.snapshot(), w.size, w.st.generation, nil
}

// detach stops feeding r (if it is still the attached standby).
func (w *wal) detach(r *replica) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tap == r {
		w.tap = nil
	}
}

// state returns a copy of the log's state.
func (w *wal) state() *state {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.clone()
}

// syncTo returns once every record up to offset end is on stable storage.
func (w *wal) syncTo(end int64) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced >= end {
		return nil
	}
	w.mu.Lock()
	target, err := w.size, w.err
	w.mu.Unlock()
	if err != nil {
		return err
	}
	start := time.Now()
	err = w.f.Sync()
	w.m.walFsync.Observe(time.Since(start).Seconds())
	if err != nil {
		// After a failed fsync the page cache state is unknown: never retry.
		w.mu.Lock()
		w.err = fmt.Errorf("%w: fsync: %v", errLogFailed, err)
		w.mu.Unlock()
		return w.err
	}
	w.synced = target
	return nil
}

// appendSync appends a record and waits until it is durable.
func (w *wal) appendSync(t recordType, body []byte) error {
	end, err := w.append(t, body)
	if err != nil {
		return err
	}
	return w.syncTo(end)
}

// walFigures are the log's figures that metrics show.
type walFigures struct {
	size                                   int64
	gxidReserved, catalogEpoch, generation uint64
	decisions, sequences                   int
}

func (w *wal) figures() walFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	return walFigures{size: w.size, gxidReserved: w.st.gxidReserved, catalogEpoch: w.st.catalogEpoch, generation: w.st.generation,
		decisions: len(w.st.decisions), sequences: len(w.st.seqs)}
}

// end is the current end of the log (for waiting until what is in memory is durable).
func (w *wal) end() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = fmt.Errorf("%w: closed", errLogFailed)
	}
	return err
}

// writeFreshLog writes content (records after the magic) to a temporary file,
// fsyncs it, renames it over the log and fsyncs the directory, then returns the
// log opened for appending.
func writeFreshLog(dir string, content []byte) (*wal, error) {
	return writeFreshLogState(dir, content, nil)
}

// writeFreshLogState is writeFreshLog for a log whose state st is known.
func writeFreshLogState(dir string, content []byte, st *state) (*wal, error) {
	tmp := filepath.Join(dir, logTmpName)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	data := append([]byte(logMagic), content...)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", tmp, err)
	}
	final := filepath.Join(dir, logName)
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	af, err := os.OpenFile(final, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", final, err)
	}
	size := int64(len(data))
	if st == nil {
		st = newState()
	}
	return &wal{f: af, size: size, synced: size, st: st}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
