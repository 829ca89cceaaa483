package distribution

import "testing"

// TestNodeID compares with hashtext() measured on PostgreSQL 15 (x86-64).
func TestNodeID(t *testing.T) {
	tests := []struct {
		name string
		want int32
	}{
		{"coord1", 1885696643},
		{"coord2", -1197102633},
		{"datanode1", 888802358},
		{"datanode2", -905831925},
		{"", -1477818771},
		{"ünïcødé-node", 1572433406},
		// Every tail length 0..11 and more than two 12-byte blocks.
		{"a", 1075015857},
		{"ab", 1718550461},
		{"abc", -785388649},
		{"abcd", -393934804},
		{"abcde", -445659580},
		{"abcdef", -1747460160},
		{"abcdefg", 501636814},
		{"abcdefgh", -1960928205},
		{"abcdefghi", -92131489},
		{"abcdefghij", 1948051852},
		{"abcdefghija", -1432076055},
		{"abcdefghijab", 2036421410},
		{"abcdefghijabc", 1300798042},
		{"abcdefghijabcd", -883973876},
		{"abcdefghijabcde", -1415898734},
		{"abcdefghijabcdef", 1459982486},
		{"abcdefghijabcdefg", -1551351266},
		{"abcdefghijabcdefgh", -1174962637},
		{"abcdefghijabcdefghi", 1832219530},
		{"abcdefghijabcdefghij", -1989539733},
		{"abcdefghijabcdefghija", -1727075375},
		{"abcdefghijabcdefghijab", -1353460739},
		{"abcdefghijabcdefghijabc", 817058752},
		{"abcdefghijabcdefghijabcd", 579757495},
		{"abcdefghijabcdefghijabcde", -1261918075},
		{"abcdefghijabcdefghijabcdef", 796536005},
		{"abcdefghijabcdefghijabcdefg", -1159401910},
		{"abcdefghijabcdefghijabcdefgh", -290609884},
		{"abcdefghijabcdefghijabcdefghi", 573585149},
		{"abcdefghijabcdefghijabcdefghij", 1560814854},
	}
	for _, tc := range tests {
		if got := NodeID(tc.name); got != tc.want {
			t.Errorf("NodeID(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
}
