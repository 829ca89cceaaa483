package distribution

import (
	"encoding/binary"
	"errors"
	"fmt"

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
}

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
