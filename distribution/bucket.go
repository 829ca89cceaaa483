package distribution

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// NumBuckets is the number of hash buckets of a HASH-distributed table.
const NumBuckets = 4096

// NullBucket is the bucket of rows whose distribution value is NULL.
const NullBucket = 0

// maxNodes is the most nodes a BucketMap can address with uint16 indexes.
const maxNodes = 1 << 16

// Bucket maps a canonical value to a bucket: xxhash64(canon) % NumBuckets.
func Bucket(canon []byte) int {
	return int(xxhash.Sum64(canon) % NumBuckets)
}

// BucketMap sends each bucket to a node, as an index into a table's ordered node list.
type BucketMap []uint16

// DefaultBucketMap spreads the buckets over nNodes nodes in turn (bucket b -> b % nNodes);
// it is nil when nNodes is not in [1, 65536].
func DefaultBucketMap(nNodes int) BucketMap {
	if nNodes < 1 || nNodes > maxNodes {
		return nil
	}
	m := make(BucketMap, NumBuckets)
	for b := range m {
		m[b] = uint16(b % nNodes)
	}
	return m
}

// Node returns the node index of a bucket, or -1 for a bucket outside the map.
func (m BucketMap) Node(bucket int) int {
	if bucket < 0 || bucket >= len(m) {
		return -1
	}
	return int(m[bucket])
}

// Validate checks that the map has NumBuckets entries and every entry indexes one of nNodes nodes.
func (m BucketMap) Validate(nNodes int) error {
	if nNodes < 1 || nNodes > maxNodes {
		return fmt.Errorf("bucket map: %d nodes, want 1 to %d", nNodes, maxNodes)
	}
	if len(m) != NumBuckets {
		return fmt.Errorf("bucket map has %d buckets, want %d", len(m), NumBuckets)
	}
	for b, n := range m {
		if int(n) >= nNodes {
			return fmt.Errorf("bucket map sends bucket %d to node %d, but the table has %d nodes", b, n, nNodes)
		}
	}
	return nil
}

// Counts returns how many buckets the map sends to each of nNodes nodes (entries beyond nNodes are ignored).
func (m BucketMap) Counts(nNodes int) []int {
	if nNodes < 0 {
		nNodes = 0
	}
	counts := make([]int, nNodes)
	for _, n := range m {
		if int(n) < nNodes {
			counts[n]++
		}
	}
	return counts
}

// ModuloNode returns |value| mod nNodes for an integer distribution value in canonical (int64) form.
func ModuloNode(canon []byte, nNodes int) (int, error) {
	if nNodes < 1 {
		return 0, fmt.Errorf("modulo over %d nodes", nNodes)
	}
	if len(canon) != 8 {
		return 0, fmt.Errorf("modulo distribution value has %d bytes, want a canonical integer (8)", len(canon))
	}
	v := int64(binary.BigEndian.Uint64(canon))
	return int(absU64(v) % uint64(nNodes)), nil
}

// Locator is where a table's rows live.
type Locator struct {
	Kind     Kind
	Column   string    // distribution column name (Hash, Modulo)
	TypeName string    // its typname
	Nodes    []string  // ordered node names of the table
	Map      BucketMap // Hash only; nil means DefaultBucketMap(len(Nodes))
	// Frozen marks the buckets whose rows are switching to another node
	// (Hash only): a statement that routes by value into one of them waits
	// for the switch. nil when none is.
	Frozen *BucketSet
	// Rewriting: the table's rows are being placed anew (its distribution
	// changes); every statement that uses it waits.
	Rewriting bool
}

// BucketSet is a set of buckets.
type BucketSet [NumBuckets / 64]uint64

// Add puts a bucket in the set.
func (s *BucketSet) Add(b int) { s[b/64] |= 1 << (b % 64) }

// Has tells whether a bucket is in the set.
func (s *BucketSet) Has(b int) bool { return b >= 0 && b < NumBuckets && s[b/64]&(1<<(b%64)) != 0 }

// Len is the number of buckets in the set.
func (s *BucketSet) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Buckets lists the set's buckets in order.
func (s *BucketSet) Buckets() []int {
	var out []int
	for b := 0; b < NumBuckets; b++ {
		if s.Has(b) {
			out = append(out, b)
		}
	}
	return out
}

// ErrBucketMoving is what routing by value says of a frozen bucket.
var ErrBucketMoving = errors.New("bucket is moving to another datanode")

// MovingError names the frozen bucket a value routed to.
type MovingError struct{ Bucket int }

func (e *MovingError) Error() string {
	if e.Bucket < 0 {
		return "the table's rows are being redistributed"
	}
	return fmt.Sprintf("bucket %d is moving to another datanode", e.Bucket)
}

// Unwrap makes errors.Is(err, ErrBucketMoving) hold.
func (e *MovingError) Unwrap() error { return ErrBucketMoving }

// ErrNotValueDistributed is returned when a node is asked of a ROUNDROBIN or REPLICATION locator.
var ErrNotValueDistributed = errors.New("table is not distributed by value")

// NodeForCanonical returns the index into Nodes of the node holding a row whose distribution value has
// this canonical encoding; canon == nil is SQL NULL (NullBucket for Hash, node 0 for Modulo).
// Only Hash and Modulo locators place rows by value.
func (l *Locator) NodeForCanonical(canon []byte) (int, error) {
	n := len(l.Nodes)
	if n == 0 {
		return 0, fmt.Errorf("%s locator has no nodes", l.Kind)
	}
	switch l.Kind {
	case Hash:
		bucket := NullBucket
		if canon != nil {
			bucket = Bucket(canon)
		}
		if l.Frozen != nil && l.Frozen.Has(bucket) {
			return 0, &MovingError{Bucket: bucket}
		}
		if l.Map == nil {
			return bucket % n, nil // DefaultBucketMap(n) without building it
		}
		node := l.Map.Node(bucket)
		if node < 0 || node >= n {
			return 0, fmt.Errorf("bucket map of %d buckets sends bucket %d to node %d of %d", len(l.Map), bucket, node, n)
		}
		return node, nil
	case Modulo:
		if canon == nil {
			return 0, nil
		}
		return ModuloNode(canon, n)
	}
	return 0, fmt.Errorf("%s: %w", l.Kind, ErrNotValueDistributed)
}

// NodeForText returns the node index for a distribution value given as text, and ok=false when the
// text cannot be canonicalised here (see CanonicalText). A nil text is SQL NULL.
func (l *Locator) NodeForText(text *string) (node int, ok bool, err error) {
	if text == nil {
		node, err = l.NodeForCanonical(nil)
		return node, err == nil, err
	}
	canon, ok := CanonicalText(l.TypeName, *text)
	if !ok {
		return 0, false, nil
	}
	node, err = l.NodeForCanonical(canon)
	return node, err == nil, err
}

// Full returns the map with every bucket's node, DefaultBucketMap when m is nil.
func (m BucketMap) Full(nNodes int) BucketMap {
	if m == nil {
		return DefaultBucketMap(nNodes)
	}
	return m
}

// EvenMap spreads NumBuckets buckets evenly over nNodes nodes, keeping every
// bucket it can where it is: cur (over nNodes nodes, already re-indexed to
// the new node list) gives the present owners, and keep[i] false means node
// i must give all its buckets away (a node being removed). Each kept node
// ends with NumBuckets/n or one more buckets, where n counts the kept nodes.
func EvenMap(cur BucketMap, keep []bool) (BucketMap, error) {
	var kept []int
	for i, k := range keep {
		if k {
			kept = append(kept, i)
		}
	}
	if len(kept) == 0 {
		return nil, errors.New("no node to place the buckets on")
	}
	if len(cur) != NumBuckets {
		return nil, fmt.Errorf("bucket map has %d buckets, want %d", len(cur), NumBuckets)
	}
	quota := make([]int, len(keep))
	for j, i := range kept {
		quota[i] = NumBuckets / len(kept)
		if j < NumBuckets%len(kept) {
			quota[i]++
		}
	}
	out := make(BucketMap, NumBuckets)
	have := make([]int, len(keep))
	var homeless []int
	for b, n := range cur {
		if int(n) < len(keep) && keep[n] && have[n] < quota[n] {
			out[b] = n
			have[n]++
			continue
		}
		homeless = append(homeless, b)
	}
	next := 0
	for _, b := range homeless {
		for have[kept[next]] >= quota[kept[next]] {
			next++
		}
		out[b] = uint16(kept[next])
		have[kept[next]]++
	}
	return out, nil
}
