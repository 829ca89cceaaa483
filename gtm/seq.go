package gtm

import (
	"fmt"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// Global sequences. Names are opaque to the GTM (coordinators pass
// "database.schema.name"). Every change writes the sequence's whole state as
// one log record, and a range is handed out only once the record reserving it
// is durable (and replicated), so no value is ever handed out twice, also
// across restarts and failover. Values of a range a client never used are lost,
// as with PostgreSQL's sequence cache.

// codedError is a refusal the client can report with a SQLSTATE.
type codedError struct {
	code gtmproto.ErrorCode
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func errorf(code gtmproto.ErrorCode, format string, a ...any) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, a...)}
}

func seqMissing(name string) error {
	return errorf(gtmproto.CodeUndefinedObject, "sequence %q does not exist", name)
}

func validateSeqName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty sequence name", ErrInvalid)
	}
	return nil
}

// validateSeqDef applies PostgreSQL's checks of CREATE/ALTER SEQUENCE.
func validateSeqDef(d gtmproto.SeqDef) error {
	if err := validateSeqName(d.Name); err != nil {
		return err
	}
	switch {
	case d.Increment == 0:
		return errorf(gtmproto.CodeInvalidParameter, "INCREMENT must not be zero")
	case d.MinValue >= d.MaxValue:
		return errorf(gtmproto.CodeInvalidParameter, "MINVALUE (%d) must be less than MAXVALUE (%d)", d.MinValue, d.MaxValue)
	case d.Start < d.MinValue:
		return errorf(gtmproto.CodeInvalidParameter, "START value (%d) cannot be less than MINVALUE (%d)", d.Start, d.MinValue)
	case d.Start > d.MaxValue:
		return errorf(gtmproto.CodeInvalidParameter, "START value (%d) cannot be greater than MAXVALUE (%d)", d.Start, d.MaxValue)
	}
	return nil
}

// SeqCreate creates a sequence whose first value is def.Start. With
// ifNotExists an existing sequence of that name is left alone.
func (s *Server) SeqCreate(def gtmproto.SeqDef, ifNotExists bool) error {
	if err := validateSeqDef(def); err != nil {
		return err
	}
	s.seqMu.Lock()
	if _, ok := s.seqs[def.Name]; ok {
		s.seqMu.Unlock()
		if ifNotExists {
			return s.durable(s.wal.end())
		}
		return errorf(gtmproto.CodeDuplicateObject, "relation %q already exists", def.Name)
	}
	q := seqState{def: def, last: def.Start}
	end, err := s.wal.append(recSeq, encodeSeq(q))
	if err != nil {
		s.seqMu.Unlock()
		return err
	}
	s.seqs[def.Name] = q
	s.seqMu.Unlock()
	s.logger.Debug("sequence created", "sequence", def.Name)
	return s.durable(end)
}

// SeqDrop drops a sequence.
func (s *Server) SeqDrop(name string, ifExists bool) error {
	if err := validateSeqName(name); err != nil {
		return err
	}
	s.seqMu.Lock()
	if _, ok := s.seqs[name]; !ok {
		s.seqMu.Unlock()
		if ifExists {
			return nil
		}
		return seqMissing(name)
	}
	end, err := s.wal.append(recSeqDrop, encodeString(name))
	if err != nil {
		s.seqMu.Unlock()
		return err
	}
	delete(s.seqs, name)
	s.seqMu.Unlock()
	s.logger.Debug("sequence dropped", "sequence", name)
	return s.durable(end)
}

// SeqAlter changes the parts of a sequence named by fields (others keep their
// values); SeqFieldRestart restarts at the (new) start value, SeqFieldRestartWith
// at restart. Without a restart the sequence goes on from where it stands.
func (s *Server) SeqAlter(def gtmproto.SeqDef, fields gtmproto.SeqField, restart int64, ifExists bool) error {
	if err := validateSeqName(def.Name); err != nil {
		return err
	}
	if fields&^gtmproto.SeqFieldsAll != 0 {
		return fmt.Errorf("%w: unknown ALTER SEQUENCE fields %#x", ErrInvalid, uint64(fields))
	}
	s.seqMu.Lock()
	end, err := s.alterLocked(def, fields, restart, ifExists)
	s.seqMu.Unlock()
	if err != nil || end == 0 {
		return err
	}
	return s.durable(end)
}

// alterLocked is SeqAlter under seqMu; it returns the log offset to wait for (0: none).
func (s *Server) alterLocked(def gtmproto.SeqDef, fields gtmproto.SeqField, restart int64, ifExists bool) (int64, error) {
	q, ok := s.seqs[def.Name]
	if !ok {
		if ifExists {
			return 0, nil
		}
		return 0, seqMissing(def.Name)
	}
	nd := q.def
	if fields&gtmproto.SeqFieldStart != 0 {
		nd.Start = def.Start
	}
	if fields&gtmproto.SeqFieldIncrement != 0 {
		nd.Increment = def.Increment
	}
	if fields&gtmproto.SeqFieldMinValue != 0 {
		nd.MinValue = def.MinValue
	}
	if fields&gtmproto.SeqFieldMaxValue != 0 {
		nd.MaxValue = def.MaxValue
	}
	if fields&gtmproto.SeqFieldCycle != 0 {
		nd.Cycle = def.Cycle
	}
	if err := validateSeqDef(nd); err != nil {
		return 0, err
	}
	nq := seqState{def: nd, last: q.last, isCalled: q.isCalled}
	switch {
	case fields&gtmproto.SeqFieldRestartWith != 0:
		nq.last, nq.isCalled = restart, false
	case fields&gtmproto.SeqFieldRestart != 0:
		nq.last, nq.isCalled = nd.Start, false
	}
	if fields&(gtmproto.SeqFieldRestart|gtmproto.SeqFieldRestartWith) != 0 {
		if nq.last < nd.MinValue {
			return 0, errorf(gtmproto.CodeInvalidParameter, "RESTART value (%d) cannot be less than MINVALUE (%d)", nq.last, nd.MinValue)
		}
		if nq.last > nd.MaxValue {
			return 0, errorf(gtmproto.CodeInvalidParameter, "RESTART value (%d) cannot be greater than MAXVALUE (%d)", nq.last, nd.MaxValue)
		}
	}
	end, err := s.wal.append(recSeq, encodeSeq(nq))
	if err != nil {
		return 0, err
	}
	s.seqs[def.Name] = nq
	return end, nil
}

// SeqNextRange reserves up to count consecutive values of a sequence: first,
// first+incr, ... (n values). Fewer than count are returned when the range
// reaches the sequence's bound; the next call then cycles or fails with
// "reached maximum value", as nextval does.
func (s *Server) SeqNextRange(name string, count int64) (first, n, incr int64, err error) {
	if err := validateSeqName(name); err != nil {
		return 0, 0, 0, err
	}
	if count < 1 {
		return 0, 0, 0, fmt.Errorf("%w: range of %d values", ErrInvalid, count)
	}
	s.seqMu.Lock()
	q, ok := s.seqs[name]
	if !ok {
		s.seqMu.Unlock()
		return 0, 0, 0, seqMissing(name)
	}
	first, n, err = nextRange(q, count)
	if err != nil {
		s.seqMu.Unlock()
		return 0, 0, 0, err
	}
	incr = q.def.Increment
	q.last = int64(uint64(first) + uint64(n-1)*uint64(incr))
	q.isCalled = true
	end, err := s.wal.append(recSeq, encodeSeq(q))
	if err != nil {
		s.seqMu.Unlock()
		return 0, 0, 0, err
	}
	s.seqs[name] = q
	s.seqMu.Unlock()
	if err := s.durable(end); err != nil {
		return 0, 0, 0, err
	}
	s.m.seqRanges.Inc()
	s.m.seqValues.Add(float64(n))
	return first, n, incr, nil
}

// nextRange computes the range nextval would hand out next (PostgreSQL's
// nextval_internal with a cache of count): its first value and length.
func nextRange(q seqState, count int64) (first, n int64, err error) {
	d := q.def
	up := d.Increment > 0
	first = q.last
	if q.isCalled {
		next := q.last + d.Increment
		overflow := (up && next < q.last) || (!up && next > q.last)
		if overflow || next > d.MaxValue || next < d.MinValue {
			if !d.Cycle {
				if up {
					return 0, 0, errorf(gtmproto.CodeSequenceLimit, "nextval: reached maximum value of sequence %q (%d)", d.Name, d.MaxValue)
				}
				return 0, 0, errorf(gtmproto.CodeSequenceLimit, "nextval: reached minimum value of sequence %q (%d)", d.Name, d.MinValue)
			}
			if up {
				next = d.MinValue
			} else {
				next = d.MaxValue
			}
		}
		first = next
	}
	// How many more steps fit between first and the bound (unsigned arithmetic:
	// the distance may exceed the int64 range).
	var dist, step uint64
	if up {
		if first > d.MaxValue {
			return first, 1, nil // an unchecked first value after ALTER, as PostgreSQL hands it out
		}
		dist, step = uint64(d.MaxValue)-uint64(first), uint64(d.Increment)
	} else {
		if first < d.MinValue {
			return first, 1, nil
		}
		dist, step = uint64(first)-uint64(d.MinValue), -uint64(d.Increment)
	}
	more := dist / step
	if more >= uint64(count-1) {
		return first, count, nil
	}
	return first, int64(more) + 1, nil
}

// SeqSetval sets a sequence's value as setval(name, v, isCalled) does.
func (s *Server) SeqSetval(name string, v int64, isCalled bool) error {
	if err := validateSeqName(name); err != nil {
		return err
	}
	s.seqMu.Lock()
	q, ok := s.seqs[name]
	if !ok {
		s.seqMu.Unlock()
		return seqMissing(name)
	}
	if v < q.def.MinValue || v > q.def.MaxValue {
		s.seqMu.Unlock()
		return errorf(gtmproto.CodeOutOfRange, "setval: value %d is out of bounds for sequence %q (%d..%d)",
			v, name, q.def.MinValue, q.def.MaxValue)
	}
	q.last, q.isCalled = v, isCalled
	end, err := s.wal.append(recSeq, encodeSeq(q))
	if err != nil {
		s.seqMu.Unlock()
		return err
	}
	s.seqs[name] = q
	s.seqMu.Unlock()
	return s.durable(end)
}

// SeqRename renames a sequence.
func (s *Server) SeqRename(from, to string) error {
	if err := validateSeqName(from); err != nil {
		return err
	}
	if err := validateSeqName(to); err != nil {
		return err
	}
	s.seqMu.Lock()
	q, ok := s.seqs[from]
	if !ok {
		s.seqMu.Unlock()
		return seqMissing(from)
	}
	if _, taken := s.seqs[to]; taken {
		s.seqMu.Unlock()
		return errorf(gtmproto.CodeDuplicateObject, "relation %q already exists", to)
	}
	var e gtmproto.Encoder
	end, err := s.wal.append(recSeqRename, e.String(from).String(to).Bytes())
	if err != nil {
		s.seqMu.Unlock()
		return err
	}
	delete(s.seqs, from)
	q.def.Name = to
	s.seqs[to] = q
	s.seqMu.Unlock()
	return s.durable(end)
}

// SeqCurrent returns a sequence's definition, its last value and whether that
// value was handed out (false: it is the next one), as pg_sequences shows them.
func (s *Server) SeqCurrent(name string) (def gtmproto.SeqDef, last int64, isCalled bool, err error) {
	s.seqMu.Lock()
	q, ok := s.seqs[name]
	s.seqMu.Unlock()
	if !ok {
		return def, 0, false, seqMissing(name)
	}
	// Never answer from a state that is not durable yet.
	if err := s.durable(s.wal.end()); err != nil {
		return def, 0, false, err
	}
	return q.def, q.last, q.isCalled, nil
}
