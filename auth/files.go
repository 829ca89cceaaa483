package auth

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CheckPrivate refuses a file holding secrets that the group or others may
// read or write, as libpq does for ~/.pgpass.
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has group or world access (mode %04o); permissions should be u=rw (0600) or less", path, st.Mode().Perm())
	}
	return nil
}

// Userlist is the users and secrets of a userlist file in pgbouncer's format:
// one `"user" "password-or-verifier"` per line.
type Userlist map[string]string

// LoadUserlist reads a userlist file; it must be private to its owner.
func LoadUserlist(path string) (Userlist, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, fmt.Errorf("userlist: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("userlist: %w", err)
	}
	defer f.Close()
	u := Userlist{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		user, rest, err := quotedField(s)
		if err != nil {
			return nil, fmt.Errorf("userlist %s line %d: %w", path, line, err)
		}
		pw, rest, err := quotedField(strings.TrimLeft(rest, " \t"))
		if err != nil {
			return nil, fmt.Errorf("userlist %s line %d: %w", path, line, err)
		}
		if r := strings.TrimSpace(rest); r != "" && r[0] != '#' {
			return nil, fmt.Errorf("userlist %s line %d: unexpected %q after the password", path, line, r)
		}
		u[user] = pw
	}
	return u, sc.Err()
}

// quotedField reads one "..." field ("" inside is a quote) from the start of s.
func quotedField(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("expected a double-quoted field")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '"' {
			if i+1 < len(s) && s[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		}
		b.WriteByte(s[i])
	}
	return "", "", fmt.Errorf("unterminated quoted field")
}

// PassEntry is one line of a pgpass file; "*" matches anything.
type PassEntry struct {
	Host, Port, Database, User, Password string
}

// Passfile is the entries of a pgpass-style file, first match wins.
type Passfile []PassEntry

// LoadPassfile reads a pgpass-style file (hostname:port:database:username:password,
// \: and \\ escaped); it must be private to its owner.
func LoadPassfile(path string) (Passfile, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	return ParsePassfile(string(data))
}

// ParsePassfile parses the text of a pgpass-style file.
func ParsePassfile(text string) (Passfile, error) {
	var pf Passfile
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		var fields []string
		var b strings.Builder
		for i := 0; i < len(line); i++ {
			switch {
			case line[i] == '\\' && i+1 < len(line):
				i++
				b.WriteByte(line[i])
			case line[i] == ':' && len(fields) < 4:
				fields = append(fields, b.String())
				b.Reset()
			default:
				b.WriteByte(line[i])
			}
		}
		fields = append(fields, b.String())
		if len(fields) != 5 {
			return nil, fmt.Errorf("password file line %d: want hostname:port:database:username:password", n+1)
		}
		pf = append(pf, PassEntry{fields[0], fields[1], fields[2], fields[3], fields[4]})
	}
	return pf, nil
}

// Lookup returns the password for a connection, as libpq matches a pgpass file.
func (pf Passfile) Lookup(host string, port int, database, user string) (string, bool) {
	ps := strconv.Itoa(port)
	m := func(pat, v string) bool { return pat == "*" || pat == v }
	for _, e := range pf {
		if m(e.Host, host) && m(e.Port, ps) && m(e.Database, database) && m(e.User, user) {
			return e.Password, true
		}
	}
	return "", false
}

// PassfileLine renders one entry, escaping ':' and '\'.
func PassfileLine(e PassEntry) string {
	esc := func(s string) string {
		return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
	}
	return strings.Join([]string{esc(e.Host), esc(e.Port), esc(e.Database), esc(e.User), esc(e.Password)}, ":")
}
