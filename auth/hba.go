package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
)

// Connection types of a rule (pg_hba.conf's first column).
const (
	TypeLocal     = "local"
	TypeHost      = "host"
	TypeHostSSL   = "hostssl"
	TypeHostNoSSL = "hostnossl"
)

// Methods a rule may name.
const (
	MethodTrust     = "trust"
	MethodReject    = "reject"
	MethodMD5       = "md5"
	MethodSCRAM     = "scram-sha-256"
	MethodPassword  = "password"
	keywordAll      = "all"
	keywordSameUser = "sameuser"
)

// DefaultRuleSource is the Source of DefaultHBA's list.
const DefaultRuleSource = "the coordinator's default rules"

// Rule is one line of a rule list: which connections it matches and the
// method they authenticate with.
type Rule struct {
	Type      string
	Databases []string // keywords (all, sameuser) are kept with a leading '\x00'; names as written
	Users     []string // the same for users (all)
	Net       *net.IPNet
	AnyAddr   bool // address "all"
	Method    string
	Line      int    // line in the file, 0 for built-in rules
	Text      string // the line as written
}

// HBA is an ordered rule list; the first rule that matches decides.
type HBA struct {
	Rules []Rule
	// Source names the list in messages: a file name or the default rules.
	Source string
}

// ConnInfo is what a rule is matched against.
type ConnInfo struct {
	Local    bool   // Unix-domain socket
	Addr     net.IP // client address for TCP connections
	SSL      bool
	Database string
	User     string
}

// DefaultHBAText is the rule list used when none is configured: trust on the
// Unix socket and loopback, scram-sha-256 from everywhere else.
const DefaultHBAText = `# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
host    all       all   0.0.0.0/0      scram-sha-256
host    all       all   ::/0           scram-sha-256
`

// DefaultHBA returns the rules of DefaultHBAText.
func DefaultHBA() *HBA {
	h, err := ParseHBA(DefaultHBAText)
	if err != nil {
		panic(err)
	}
	h.Source = DefaultRuleSource
	return h
}

// LoadHBA reads a rule file in pg_hba.conf syntax.
func LoadHBA(path string) (*HBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read hba file: %w", err)
	}
	h, err := ParseHBA(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(h.Rules) == 0 {
		// As PostgreSQL: a file without a rule would refuse everyone, and is
		// more likely a mistake (or one being written) than meant.
		return nil, fmt.Errorf("hba file %s contains no entries", path)
	}
	h.Source = path
	return h, nil
}

// ParseHBA parses rules in pg_hba.conf syntax: TYPE DATABASE USER [ADDRESS
// [MASK]] METHOD, one per line, # comments, comma-separated lists and
// double-quoted names. Methods are trust, reject, md5, scram-sha-256 and
// password; rules may not carry options.
func ParseHBA(text string) (*HBA, error) {
	h := &HBA{Source: "rule list"}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Text()
		fields, err := tokenize(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(fields) == 0 {
			continue
		}
		r, err := parseRule(fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		r.Line = line
		r.Text = strings.TrimSpace(raw)
		h.Rules = append(h.Rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// token is one whitespace-separated field: its comma-separated items, each
// marked quoted or not.
type token []item

type item struct {
	s      string
	quoted bool
}

func (t token) String() string {
	var parts []string
	for _, it := range t {
		parts = append(parts, it.s)
	}
	return strings.Join(parts, ",")
}

// tokenize splits a line into fields; a field is a comma-separated list whose
// items may be double-quoted ("" inside quotes is a quote).
func tokenize(line string) ([]token, error) {
	var out []token
	var cur token
	var b bytes.Buffer
	inField, quoted, inQuote := false, false, false
	endItem := func() {
		cur = append(cur, item{b.String(), quoted})
		b.Reset()
		quoted = false
	}
	endField := func() {
		if inField {
			endItem()
			out = append(out, cur)
			cur = nil
			inField = false
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case inQuote:
			if ch == '"' {
				if i+1 < len(line) && line[i+1] == '"' {
					b.WriteByte('"')
					i++
				} else {
					inQuote = false
				}
			} else {
				b.WriteByte(ch)
			}
		case ch == '#':
			endField()
			return out, nil
		case ch == ' ' || ch == '\t' || ch == '\r':
			endField()
		case ch == '"':
			inField, quoted, inQuote = true, true, true
		case ch == ',':
			inField = true
			endItem()
		default:
			inField = true
			b.WriteByte(ch)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quoted string")
	}
	endField()
	return out, nil
}

func parseRule(f []token) (Rule, error) {
	var r Rule
	if len(f[0]) != 1 || f[0][0].quoted {
		return r, fmt.Errorf("invalid connection type %q", f[0].String())
	}
	r.Type = f[0][0].s
	switch r.Type {
	case TypeLocal, TypeHost, TypeHostSSL, TypeHostNoSSL:
	case "hostgssenc", "hostnogssenc":
		return r, fmt.Errorf("connection type %q is not supported (GSSAPI encryption is not offered)", r.Type)
	default:
		return r, fmt.Errorf("invalid connection type %q", r.Type)
	}
	if len(f) < 2 {
		return r, fmt.Errorf("end-of-line before database specification")
	}
	if len(f) < 3 {
		return r, fmt.Errorf("end-of-line before role specification")
	}
	var err error
	if r.Databases, err = names(f[1], "database", keywordAll, keywordSameUser); err != nil {
		return r, err
	}
	if r.Users, err = names(f[2], "role", keywordAll); err != nil {
		return r, err
	}
	rest := f[3:]
	if r.Type != TypeLocal {
		if len(rest) == 0 {
			return r, fmt.Errorf("end-of-line before IP address specification")
		}
		if len(rest[0]) != 1 {
			return r, fmt.Errorf("multiple values specified for host address")
		}
		addr := rest[0][0].s
		rest = rest[1:]
		switch {
		case addr == keywordAll && !rest0Quoted(f[3]):
			r.AnyAddr = true
		case addr == "samehost" || addr == "samenet":
			return r, fmt.Errorf("address %q is not supported; give a CIDR address", addr)
		case strings.Contains(addr, "/"):
			_, n, err := net.ParseCIDR(addr)
			if err != nil {
				return r, fmt.Errorf("invalid IP address %q: %v", addr, err)
			}
			r.Net = n
		default:
			ip := net.ParseIP(addr)
			if ip == nil {
				return r, fmt.Errorf("host name %q: host names are not supported in rules; give a CIDR address", addr)
			}
			if len(rest) == 0 {
				return r, fmt.Errorf("end-of-line before netmask specification")
			}
			mtext := rest[0].String()
			mip := net.ParseIP(mtext)
			rest = rest[1:]
			if mip == nil {
				return r, fmt.Errorf("invalid IP mask %q", mtext)
			}
			mask := net.IPMask(mip)
			if v4 := ip.To4(); v4 != nil {
				ip, mask = v4, net.IPMask(mip.To4())
			}
			if mask == nil || len(mask) != len(ip) {
				return r, fmt.Errorf("IP address and mask do not match")
			}
			if ones, bits := mask.Size(); ones == 0 && bits == 0 {
				return r, fmt.Errorf("invalid IP mask %q", mip.String())
			}
			r.Net = &net.IPNet{IP: ip.Mask(mask), Mask: mask}
		}
	}
	if len(rest) == 0 {
		return r, fmt.Errorf("end-of-line before authentication method")
	}
	if len(rest[0]) != 1 {
		return r, fmt.Errorf("multiple values specified for authentication type")
	}
	r.Method = rest[0][0].s
	switch r.Method {
	case MethodTrust, MethodReject, MethodMD5, MethodSCRAM, MethodPassword:
	default:
		return r, fmt.Errorf("authentication method %q is not supported (trust, reject, md5, scram-sha-256, password)", r.Method)
	}
	if len(rest) > 1 {
		return r, fmt.Errorf("authentication options are not supported: %q", rest[1].String())
	}
	return r, nil
}

func rest0Quoted(t token) bool { return len(t) == 1 && t[0].quoted }

// names turns a database or role field into match items: an unquoted keyword
// is kept with a leading zero byte, anything else is a name.
func names(t token, what string, keywords ...string) ([]string, error) {
	var out []string
	for _, it := range t {
		if it.s == "" && !it.quoted {
			return nil, fmt.Errorf("empty %s name in list %q", what, t.String())
		}
		if !it.quoted {
			if strings.HasPrefix(it.s, "+") || strings.HasPrefix(it.s, "@") || strings.HasPrefix(it.s, "/") {
				return nil, fmt.Errorf("%s %q: group membership, included files and regular expressions are not supported", what, it.s)
			}
			if it.s == "samerole" || it.s == "samegroup" || it.s == "replication" {
				return nil, fmt.Errorf("%s keyword %q is not supported", what, it.s)
			}
			isKW := false
			for _, k := range keywords {
				if it.s == k {
					isKW = true
				}
			}
			if isKW {
				out = append(out, "\x00"+it.s)
				continue
			}
		}
		out = append(out, it.s)
	}
	return out, nil
}

// Match returns the first rule that matches c.
func (h *HBA) Match(c ConnInfo) (Rule, bool) {
	for _, r := range h.Rules {
		if r.matches(c) {
			return r, true
		}
	}
	return Rule{}, false
}

func (r *Rule) matches(c ConnInfo) bool {
	switch r.Type {
	case TypeLocal:
		if !c.Local {
			return false
		}
	case TypeHost, TypeHostSSL, TypeHostNoSSL:
		if c.Local {
			return false
		}
		if r.Type == TypeHostSSL && !c.SSL || r.Type == TypeHostNoSSL && c.SSL {
			return false
		}
		if !r.AnyAddr && (c.Addr == nil || !r.Net.Contains(c.Addr)) {
			return false
		}
	}
	return matchList(r.Databases, c.Database, c.User) && matchList(r.Users, c.User, "")
}

func matchList(list []string, name, user string) bool {
	for _, it := range list {
		switch it {
		case "\x00" + keywordAll:
			return true
		case "\x00" + keywordSameUser:
			if name == user {
				return true
			}
		case name:
			return true
		}
	}
	return false
}

// DescribeConn is how PostgreSQL names a connection in authentication
// errors: host "…", user "…", database "…", no encryption.
func DescribeConn(c ConnInfo) string {
	host := "[local]"
	if !c.Local && c.Addr != nil {
		host = c.Addr.String()
	}
	enc := "no encryption"
	if c.SSL {
		enc = "SSL encryption"
	}
	return fmt.Sprintf("host %q, user %q, database %q, %s", host, c.User, c.Database, enc)
}
