package tpcc

import (
	"math/rand/v2"
	"strings"
)

// syllables make C_LAST (clause 4.3.2.3).
var syllables = [10]string{"BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"}

// LastName is the customer last name for a number in 0..999 (clause 4.3.2.3).
func LastName(n int) string {
	return syllables[n/100] + syllables[(n/10)%10] + syllables[n%10]
}

// Constants are the C values of NURand (clause 2.1.6): one per field, shared by
// all terminals of a run.
type Constants struct {
	CLast, CID, OLIID int
}

// CLastLoad is the C_LAST constant of the initial population. The run-time
// constant is drawn against it by the delta rule of clause 2.1.6.1; keeping it
// fixed lets a run in another process than the load honour that rule.
const CLastLoad = 157

// RunConstants draws the run-time constants: C_ID and OL_I_ID uniformly,
// C_LAST so that delta = |C_run - C_load| is in 65..119 and not 96 or 112.
func RunConstants(r *rand.Rand) Constants {
	c := Constants{CID: r.IntN(1024), OLIID: r.IntN(8192)}
	for {
		c.CLast = r.IntN(256)
		d := c.CLast - CLastLoad
		if d < 0 {
			d = -d
		}
		if d >= 65 && d <= 119 && d != 96 && d != 112 {
			return c
		}
	}
}

// rng is the random source of one loader or terminal.
type rng struct{ *rand.Rand }

func newRNG(seed, stream uint64) rng { return rng{rand.New(rand.NewPCG(seed, stream))} }

// uniform is random(x, y) of clause 2.1.4: an integer in x..y inclusive.
func (r rng) uniform(x, y int) int { return x + r.IntN(y-x+1) }

// nurand is NURand(A, x, y) of clause 2.1.6.
func (r rng) nurand(a, x, y, c int) int {
	return (((r.uniform(0, a) | r.uniform(x, y)) + c) % (y - x + 1)) + x
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// astring is a random a-string of x..y characters (clause 4.3.2.2).
func (r rng) astring(x, y int) string {
	b := make([]byte, r.uniform(x, y))
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// nstring is a random n-string of x..y digits.
func (r rng) nstring(x, y int) string {
	b := make([]byte, r.uniform(x, y))
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// zip is a random zip code: four digits and "11111" (clause 4.3.2.7).
func (r rng) zip() string { return r.nstring(4, 4) + "11111" }

// data is I_DATA or S_DATA: an a-string of 26..50 characters, 10% of them
// holding "ORIGINAL" at a random position (clause 4.3.3.1).
func (r rng) data() string {
	s := r.astring(26, 50)
	if r.IntN(10) != 0 {
		return s
	}
	at := r.IntN(len(s) - len("ORIGINAL") + 1)
	return s[:at] + "ORIGINAL" + s[at+len("ORIGINAL"):]
}

// hasOriginal reports whether I_DATA or S_DATA holds the ORIGINAL marker.
func hasOriginal(s string) bool { return strings.Contains(s, "ORIGINAL") }
