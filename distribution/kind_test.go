package distribution

import "testing"

func TestKind(t *testing.T) {
	tests := []struct {
		k      Kind
		letter byte
		str    string
	}{
		{Hash, 'H', "HASH"},
		{Modulo, 'M', "MODULO"},
		{RoundRobin, 'N', "ROUNDROBIN"},
		{Replication, 'R', "REPLICATION"},
	}
	for _, tc := range tests {
		if byte(tc.k) != tc.letter {
			t.Errorf("%s has letter %q, want %q", tc.k, byte(tc.k), tc.letter)
		}
		if got := tc.k.String(); got != tc.str {
			t.Errorf("Kind(%q).String() = %q, want %q", tc.letter, got, tc.str)
		}
		if !tc.k.Valid() {
			t.Errorf("%s not valid", tc.k)
		}
		for _, s := range []string{tc.str, string(tc.letter), string(tc.letter + 'a' - 'A')} {
			if k, ok := ParseKind(s); !ok || k != tc.k {
				t.Errorf("ParseKind(%q) = %v, %v; want %v", s, k, ok, tc.k)
			}
		}
	}
	if k, ok := ParseKind("hash"); !ok || k != Hash {
		t.Errorf("ParseKind(hash) = %v, %v", k, ok)
	}
	for _, s := range []string{"", "X", "range", "HASHX"} {
		if k, ok := ParseKind(s); ok {
			t.Errorf("ParseKind(%q) = %v, want not ok", s, k)
		}
	}
	if Kind('X').Valid() || Kind(0).Valid() {
		t.Error("unknown kinds are valid")
	}
	if got := Kind('X').String(); got != `Kind('X')` {
		t.Errorf("Kind('X').String() = %q", got)
	}
}
