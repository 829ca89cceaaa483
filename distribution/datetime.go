package distribution

import (
	"math"
	"strings"
	"time"
)

// pgEpochUnix is 2000-01-01 00:00:00 UTC, PostgreSQL's date and timestamp epoch, in Unix seconds.
const pgEpochUnix = 946684800

// Infinite dates and timestamps, as PostgreSQL stores them (DATEVAL_NOBEGIN/NOEND, DT_NOBEGIN/NOEND).
const (
	DateNoBegin      = math.MinInt32
	DateNoEnd        = math.MaxInt32
	TimestampNoBegin = math.MinInt64
	TimestampNoEnd   = math.MaxInt64
)

// infinity reports whether s is 'infinity' or '-infinity' (any case) and which.
func infinity(s string) (sign int, ok bool) {
	switch asciiLower(s) {
	case "infinity":
		return 1, true
	case "-infinity":
		return -1, true
	}
	return 0, false
}

// dateText accepts only ISO 'YYYY-MM-DD' (which every DateStyle reads the same way) and infinities.
func dateText(text string) ([]byte, bool) {
	s := trimPGSpace(text)
	if sign, ok := infinity(s); ok {
		if sign > 0 {
			return int64Bytes(DateNoEnd), true
		}
		return int64Bytes(DateNoBegin), true
	}
	days, rest, ok := parseISODate(s)
	if !ok || rest != "" {
		return nil, false
	}
	return int64Bytes(days), true
}

// timeText accepts only 'HH:MM:SS[.ffffff]'.
func timeText(text string) ([]byte, bool) {
	usec, rest, ok := parseISOTime(trimPGSpace(text))
	if !ok || rest != "" {
		return nil, false
	}
	return int64Bytes(usec), true
}

// timestampText accepts 'YYYY-MM-DD HH:MM:SS[.ffffff]' (or with 'T'); for timestamptz an explicit
// offset (+HH, +HH:MM, -HH, -HH:MM, Z) must follow, since anything else depends on the session TimeZone.
// A timestamp without time zone given an offset is left to PostgreSQL.
func timestampText(text string, withTZ bool) ([]byte, bool) {
	s := trimPGSpace(text)
	if sign, ok := infinity(s); ok {
		if sign > 0 {
			return int64Bytes(TimestampNoEnd), true
		}
		return int64Bytes(TimestampNoBegin), true
	}
	days, rest, ok := parseISODate(s)
	if !ok || len(rest) < 1 || (rest[0] != ' ' && rest[0] != 'T') {
		return nil, false
	}
	usec, rest, ok := parseISOTime(rest[1:])
	if !ok {
		return nil, false
	}
	ts := days*86400000000 + usec
	if !withTZ {
		if rest != "" {
			return nil, false
		}
		return int64Bytes(ts), true
	}
	offset, ok := parseOffset(rest)
	if !ok {
		return nil, false
	}
	return int64Bytes(ts - offset), true
}

// parseISODate reads 'YYYY-MM-DD' (year 0001-9999) at the start of s and returns days since 2000-01-01.
func parseISODate(s string) (days int64, rest string, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, "", false
	}
	y, ok1 := fixedDigits(s[0:4])
	m, ok2 := fixedDigits(s[5:7])
	d, ok3 := fixedDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 {
		return 0, "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return 0, "", false // day beyond the month's end
	}
	return (t.Unix() - pgEpochUnix) / 86400, s[10:], true
}

// parseISOTime reads 'HH:MM:SS[.f{1,6}]' (hours 00-23, seconds 00-59) at the start of s and returns
// microseconds since midnight.
func parseISOTime(s string) (usec int64, rest string, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, "", false
	}
	h, ok1 := fixedDigits(s[0:2])
	m, ok2 := fixedDigits(s[3:5])
	sec, ok3 := fixedDigits(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return 0, "", false
	}
	usec = (int64(h)*3600 + int64(m)*60 + int64(sec)) * 1000000
	rest = s[8:]
	if strings.HasPrefix(rest, ".") {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		frac := rest[1:n]
		if len(frac) == 0 || len(frac) > 6 {
			return 0, "", false // more than 6 digits: PostgreSQL rounds
		}
		f, _ := fixedDigits(frac + strings.Repeat("0", 6-len(frac)))
		usec += int64(f)
		rest = rest[n:]
	}
	return usec, rest, true
}

// parseOffset reads a whole-string UTC offset: Z, +HH, +HH:MM (or -); it returns microseconds east of UTC.
func parseOffset(s string) (int64, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) != 3 && len(s) != 6 {
		return 0, false
	}
	if s[0] != '+' && s[0] != '-' {
		return 0, false
	}
	h, ok := fixedDigits(s[1:3])
	if !ok || h > 15 {
		return 0, false
	}
	m := 0
	if len(s) == 6 {
		if s[3] != ':' {
			return 0, false
		}
		if m, ok = fixedDigits(s[4:6]); !ok || m > 59 {
			return 0, false
		}
	}
	off := (int64(h)*3600 + int64(m)*60) * 1000000
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// fixedDigits parses a string made only of ASCII digits.
func fixedDigits(s string) (int, bool) {
	if !allDigits(s) {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}
