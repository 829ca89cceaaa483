package tpcc

import (
	"strings"
	"testing"
)

func TestLastName(t *testing.T) {
	for n, want := range map[int]string{0: "BARBARBAR", 371: "PRICALLYOUGHT", 999: "EINGEINGEING", 40: "BARPRESBAR"} {
		if got := LastName(n); got != want {
			t.Errorf("LastName(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestRunConstantsDelta(t *testing.T) {
	r := newRNG(7, 0)
	for range 1000 {
		c := RunConstants(r.Rand)
		d := max(c.CLast-CLastLoad, CLastLoad-c.CLast)
		if d < 65 || d > 119 || d == 96 || d == 112 || c.CID > 1023 || c.OLIID > 8191 {
			t.Fatalf("RunConstants = %+v: delta %d", c, d)
		}
	}
}

func TestNURandRange(t *testing.T) {
	r := newRNG(1, 0)
	seen := map[int]bool{}
	for range 100000 {
		n := r.nurand(1023, 1, 3000, 259)
		if n < 1 || n > 3000 {
			t.Fatalf("NURand(1023, 1, 3000) = %d", n)
		}
		seen[n] = true
	}
	if len(seen) < 2000 {
		t.Errorf("NURand(1023, 1, 3000) gave %d distinct values in 100,000 draws", len(seen))
	}
}

func TestData(t *testing.T) {
	r := newRNG(1, 0)
	orig := 0
	for range 10000 {
		s := r.data()
		if len(s) < 26 || len(s) > 50 {
			t.Fatalf("data %q: %d characters", s, len(s))
		}
		if strings.Contains(s, "ORIGINAL") {
			orig++
		}
	}
	if orig < 900 || orig > 1100 {
		t.Errorf("ORIGINAL in %d of 10,000, want about 1,000", orig)
	}
}

func TestDeck(t *testing.T) {
	n := map[Kind]int{}
	for _, k := range deck() {
		n[k]++
	}
	if n[NewOrder] != 45 || n[Payment] != 43 || n[OrderStatus] != 4 || n[Delivery] != 4 || n[StockLevel] != 4 {
		t.Errorf("deck = %v", n)
	}
}
