package distribution

import "fmt"

// Kind is a table's locator type, with Postgres-XL's pclocatortype letters.
type Kind byte

// The locator types of pgxc_class.pclocatortype.
const (
	Hash        Kind = 'H'
	Modulo      Kind = 'M'
	RoundRobin  Kind = 'N'
	Replication Kind = 'R'
)

// String returns the DISTRIBUTE BY spelling of the kind: HASH, MODULO, ROUNDROBIN or REPLICATION.
func (k Kind) String() string {
	switch k {
	case Hash:
		return "HASH"
	case Modulo:
		return "MODULO"
	case RoundRobin:
		return "ROUNDROBIN"
	case Replication:
		return "REPLICATION"
	}
	return fmt.Sprintf("Kind(%q)", byte(k))
}

// Valid reports whether k is one of the four locator types.
func (k Kind) Valid() bool {
	switch k {
	case Hash, Modulo, RoundRobin, Replication:
		return true
	}
	return false
}

// ParseKind maps a DISTRIBUTE BY keyword (any case) or a pclocatortype letter to a Kind.
func ParseKind(s string) (Kind, bool) {
	switch asciiLower(s) {
	case "hash", "h":
		return Hash, true
	case "modulo", "m":
		return Modulo, true
	case "roundrobin", "n":
		return RoundRobin, true
	case "replication", "r":
		return Replication, true
	}
	return 0, false
}
