package distribution

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"testing"
)

// TestBucketPinned pins a few buckets: rows already stored must keep their bucket in every release,
// so a change to the canonical forms or the hash shows up here.
func TestBucketPinned(t *testing.T) {
	tests := []struct {
		typ, text string
		want      int
	}{
		{"int4", "1", 2010},
		{"int8", "42", 3039},
		{"text", "hello", 3491},
		{"numeric", "1.0", 1236},
	}
	for _, tc := range tests {
		c, ok := CanonicalText(tc.typ, tc.text)
		if !ok {
			t.Fatalf("CanonicalText(%q, %q) not ok", tc.typ, tc.text)
		}
		if got := Bucket(c); got != tc.want {
			t.Errorf("Bucket of %s %q = %d, want %d", tc.typ, tc.text, got, tc.want)
		}
	}
	if got := Bucket(nil); got != Bucket([]byte{}) {
		t.Errorf("Bucket(nil) = %d differs from Bucket(empty) = %d", got, Bucket([]byte{}))
	}
}

func TestBucketRangeAndSpread(t *testing.T) {
	for nNodes := 1; nNodes <= 5; nNodes++ {
		m := DefaultBucketMap(nNodes)
		counts := make([]int, nNodes)
		const n = 10000
		for i := 0; i < n; i++ {
			c, ok := CanonicalText("int4", strconv.Itoa(i))
			if !ok {
				t.Fatalf("int4 %d not ok", i)
			}
			b := Bucket(c)
			if b < 0 || b >= NumBuckets {
				t.Fatalf("Bucket = %d, out of [0, %d)", b, NumBuckets)
			}
			counts[m.Node(b)]++
		}
		// Each node within ±10% of its fair share (45%-55% for 2 nodes).
		fair := float64(n) / float64(nNodes)
		for node, c := range counts {
			if math.Abs(float64(c)-fair) > 0.1*fair {
				t.Errorf("%d nodes: node %d holds %d of %d consecutive ints, fair share %.0f", nNodes, node, c, n, fair)
			}
		}
		if nNodes == 2 {
			t.Logf("10000 consecutive ints over 2 nodes: %v", counts)
		}
	}
}

func TestDefaultBucketMap(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 4096, 5000, 65536} {
		m := DefaultBucketMap(n)
		if len(m) != NumBuckets {
			t.Fatalf("DefaultBucketMap(%d) has %d buckets", n, len(m))
		}
		for b := 0; b < NumBuckets; b++ {
			if got := m.Node(b); got != b%n {
				t.Fatalf("DefaultBucketMap(%d).Node(%d) = %d, want %d", n, b, got, b%n)
			}
		}
		if err := m.Validate(n); err != nil {
			t.Errorf("DefaultBucketMap(%d).Validate: %v", n, err)
		}
	}
	counts := DefaultBucketMap(3).Counts(3)
	if counts[0] != 1366 || counts[1] != 1365 || counts[2] != 1365 {
		t.Errorf("DefaultBucketMap(3) counts = %v", counts)
	}
	for _, n := range []int{0, -1, 65537} {
		if m := DefaultBucketMap(n); m != nil {
			t.Errorf("DefaultBucketMap(%d) = map of %d, want nil", n, len(m))
		}
	}
	m := DefaultBucketMap(2)
	for _, b := range []int{-1, NumBuckets, NumBuckets + 10} {
		if got := m.Node(b); got != -1 {
			t.Errorf("Node(%d) = %d, want -1", b, got)
		}
	}
}

func TestBucketMapValidate(t *testing.T) {
	bad := DefaultBucketMap(3)
	bad[17] = 3
	tests := []struct {
		name   string
		m      BucketMap
		nNodes int
		ok     bool
	}{
		{"default", DefaultBucketMap(3), 3, true},
		{"fewer nodes used than exist", DefaultBucketMap(2), 3, true},
		{"all on one node", make(BucketMap, NumBuckets), 1, true},
		{"index out of range", bad, 3, false},
		{"more nodes in map than table", DefaultBucketMap(4), 3, false},
		{"too short", make(BucketMap, NumBuckets-1), 1, false},
		{"too long", make(BucketMap, NumBuckets+1), 1, false},
		{"nil", nil, 1, false},
		{"no nodes", make(BucketMap, NumBuckets), 0, false},
	}
	for _, tc := range tests {
		err := tc.m.Validate(tc.nNodes)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate(%d) = %v, want ok=%v", tc.name, tc.nNodes, err, tc.ok)
		}
	}
}

func TestModuloNode(t *testing.T) {
	minMod3 := int(new(big.Int).Mod(new(big.Int).Neg(big.NewInt(math.MinInt64)), big.NewInt(3)).Int64())
	tests := []struct {
		v      int64
		nNodes int
		want   int
	}{
		{0, 3, 0}, {1, 3, 1}, {7, 3, 1}, {-7, 3, 1}, {-9, 3, 0}, {-1, 2, 1}, {-2, 2, 0}, {5, 1, 0},
		{math.MaxInt64, 3, int(uint64(math.MaxInt64) % 3)}, {math.MinInt64, 3, minMod3}, {math.MinInt64, 2, 0},
	}
	for _, tc := range tests {
		got, err := ModuloNode(i64(tc.v), tc.nNodes)
		if err != nil || got != tc.want {
			t.Errorf("ModuloNode(%d, %d) = %d, %v; want %d", tc.v, tc.nNodes, got, err, tc.want)
		}
		if got < 0 || got >= tc.nNodes {
			t.Errorf("ModuloNode(%d, %d) = %d out of range", tc.v, tc.nNodes, got)
		}
	}
	// Text of any integer width reaches the same node.
	for _, typ := range []string{"int2", "int4", "int8"} {
		c, _ := CanonicalText(typ, "-7")
		if got, _ := ModuloNode(c, 3); got != 1 {
			t.Errorf("ModuloNode(%s '-7', 3) = %d, want 1", typ, got)
		}
	}
	if _, err := ModuloNode(i64(1), 0); err == nil {
		t.Error("ModuloNode over 0 nodes: no error")
	}
	if _, err := ModuloNode([]byte{1, 2, 3, 4}, 2); err == nil {
		t.Error("ModuloNode of a 4-byte value: no error")
	}
	if _, err := ModuloNode([]byte("1.5"), 2); err == nil {
		t.Error("ModuloNode of a numeric: no error")
	}
}

func TestLocatorNodeForCanonical(t *testing.T) {
	nodes := []string{"datanode1", "datanode2", "datanode3"}
	c42, _ := CanonicalText("int4", "42")
	empty, _ := CanonicalText("text", "")
	allOn2 := make(BucketMap, NumBuckets)
	for i := range allOn2 {
		allOn2[i] = 2
	}
	reversed := DefaultBucketMap(3)
	for i := range reversed {
		reversed[i] = uint16(2 - i%3)
	}

	hash := &Locator{Kind: Hash, Column: "id", TypeName: "int4", Nodes: nodes}
	tests := []struct {
		name  string
		l     *Locator
		canon []byte
		want  int
	}{
		{"hash default map", hash, c42, Bucket(c42) % 3},
		{"hash explicit default map", &Locator{Kind: Hash, Nodes: nodes, Map: DefaultBucketMap(3)}, c42, Bucket(c42) % 3},
		{"hash custom map", &Locator{Kind: Hash, Nodes: nodes, Map: allOn2}, c42, 2},
		{"hash reversed map", &Locator{Kind: Hash, Nodes: nodes, Map: reversed}, c42, 2 - Bucket(c42)%3},
		{"hash NULL", hash, nil, NullBucket % 3},
		{"hash NULL custom map", &Locator{Kind: Hash, Nodes: nodes, Map: reversed}, nil, reversed.Node(NullBucket)},
		{"hash empty string is not NULL", hash, empty, Bucket(empty) % 3},
		{"modulo", &Locator{Kind: Modulo, Column: "id", TypeName: "int4", Nodes: nodes}, c42, 0},
		{"modulo negative", &Locator{Kind: Modulo, Nodes: nodes}, i64(-7), 1},
		{"modulo NULL", &Locator{Kind: Modulo, Nodes: nodes}, nil, 0},
	}
	for _, tc := range tests {
		got, err := tc.l.NodeForCanonical(tc.canon)
		if err != nil || got != tc.want {
			t.Errorf("%s: NodeForCanonical = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}

	bad := []struct {
		name  string
		l     *Locator
		canon []byte
	}{
		{"roundrobin", &Locator{Kind: RoundRobin, Nodes: nodes}, c42},
		{"replication", &Locator{Kind: Replication, Nodes: nodes}, c42},
		{"no nodes", &Locator{Kind: Hash}, c42},
		{"map to a missing node", &Locator{Kind: Hash, Nodes: nodes[:2], Map: allOn2}, c42},
		{"short map", &Locator{Kind: Hash, Nodes: nodes, Map: BucketMap{0}}, c42},
		{"modulo of a non-integer", &Locator{Kind: Modulo, Nodes: nodes}, []byte("abc")},
	}
	for _, tc := range bad {
		if got, err := tc.l.NodeForCanonical(tc.canon); err == nil {
			t.Errorf("%s: NodeForCanonical = %d, want an error", tc.name, got)
		}
	}
	if _, err := (&Locator{Kind: Replication, Nodes: nodes}).NodeForCanonical(c42); !errors.Is(err, ErrNotValueDistributed) {
		t.Errorf("replication: error %v, want ErrNotValueDistributed", err)
	}
}

func TestLocatorNodeForText(t *testing.T) {
	l := &Locator{Kind: Hash, Column: "id", TypeName: "int4", Nodes: []string{"a", "b"}}
	want, _ := l.NodeForCanonical(i64(42))
	s := " 42 "
	if got, ok, err := l.NodeForText(&s); err != nil || !ok || got != want {
		t.Errorf("NodeForText(%q) = %d, %v, %v; want %d", s, got, ok, err, want)
	}
	if got, ok, err := l.NodeForText(nil); err != nil || !ok || got != NullBucket%2 {
		t.Errorf("NodeForText(NULL) = %d, %v, %v", got, ok, err)
	}
	bad := "4x"
	if _, ok, err := l.NodeForText(&bad); ok || err != nil {
		t.Errorf("NodeForText(%q) ok=%v err=%v, want not ok and no error", bad, ok, err)
	}
}
