package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pgUser is the OS account PostgreSQL runs as when xlctl runs as root.
type pgUser struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
}

// runAsUser returns the account to run PostgreSQL as: nil when xlctl is not
// root (PostgreSQL then runs as the invoking user).
func runAsUser(name string) (*pgUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" || name == "root" {
		return nil, errors.New("xlctl runs as root and PostgreSQL refuses to: set os_user to an unprivileged account (e.g. postgres)")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("os_user %q: %w (install PostgreSQL, which creates it, or set os_user)", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	pu := &pgUser{Name: name, UID: uint32(uid), GID: uint32(gid)}
	if gs, err := u.GroupIds(); err == nil {
		for _, g := range gs {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				pu.Groups = append(pu.Groups, uint32(n))
			}
		}
	}
	return pu, nil
}

// attr returns the process attributes that run a command as u (nil: as self).
func (u *pgUser) attr(setsid bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: setsid}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}
	return a
}

// chown gives path to u; a no-op when u is nil.
func (u *pgUser) chown(path string) error {
	if u == nil {
		return nil
	}
	return os.Chown(path, int(u.UID), int(u.GID))
}

// canWrite reports whether the account (uid, gids) may create files in dir.
func canWrite(dir string, uid uint32, gids []uint32) bool {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return false
	}
	if uid == 0 {
		return true
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := st.Mode().Perm()
	if sys.Uid == uid {
		return mode&0o300 == 0o300
	}
	for _, g := range gids {
		if sys.Gid == g {
			return mode&0o030 == 0o030
		}
	}
	return mode&0o003 == 0o003
}

func selfIDs() (uint32, []uint32) {
	var gids []uint32
	gs, _ := os.Getgroups()
	for _, g := range gs {
		gids = append(gids, uint32(g))
	}
	gids = append(gids, uint32(os.Getegid()))
	return uint32(os.Geteuid()), gids
}

// libpqSocketDir is where Debian's libpq (and so psql) looks for sockets.
const libpqSocketDir = "/var/run/postgresql"

// pickSocketDir returns configured, else the libpq default when the account
// can write there, else /tmp.
func pickSocketDir(configured string, uid uint32, gids []uint32) string {
	if configured != "" {
		return configured
	}
	if canWrite(libpqSocketDir, uid, gids) {
		return libpqSocketDir
	}
	return "/tmp"
}

// FindPgBin returns the directory holding initdb, pg_ctl and postgres:
// configured when set, else PostgreSQL 15's Debian location, pg_config
// --bindir, initdb on PATH, or the newest /usr/lib/postgresql/*/bin.
func FindPgBin(configured string) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if configured != "" {
		if has(configured) {
			return configured, nil
		}
		return "", fmt.Errorf("pg_bin %s does not hold initdb, pg_ctl and postgres", configured)
	}
	cands := []string{"/usr/lib/postgresql/15/bin"}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			cands = append(cands, filepath.Dir(r))
		}
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(globbed)))
	cands = append(cands, globbed...)
	for _, d := range cands {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install postgresql-15 (apt-get install postgresql-15 postgresql-client-15) or set pg_bin in the config")
}

// InitdbLocale is the locale datanodes are made with: C.UTF-8 when the system has it, else C.
func InitdbLocale() string {
	out, err := exec.Command("locale", "-a").Output()
	if err == nil {
		for _, l := range strings.Fields(string(out)) {
			switch strings.ToLower(l) {
			case "c.utf8", "c.utf-8":
				return "C.UTF-8"
			}
		}
	}
	return "C"
}

// CleanEnv is the environment without PG* variables, which would otherwise
// redirect initdb, pg_ctl and psql.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// readPid reads the first line of a pid file (ours or postmaster.pid).
func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad content", path)
	}
	return pid, nil
}

// procAlive reports whether pid is a live (not zombie) process whose command
// line contains every one of want.
func procAlive(pid int, want ...string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	for _, w := range want {
		if !bytes.Contains(cmdline, []byte(w)) {
			return false
		}
	}
	return true
}

// waitGone polls until the process is gone or d has passed.
func waitGone(pid int, d time.Duration, want ...string) bool {
	deadline := time.Now().Add(d)
	for procAlive(pid, want...) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// dirUsers lists the processes (other than this one) whose working
// directory is dir: a PostgreSQL server and every backend of it run in its
// data directory.
func dirUsers(dir string) []int {
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pidExists reports whether pid names any process, a zombie included.
func pidExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// clearStaleServer makes a data directory whose server was killed (its
// postmaster.pid names a process that is no PostgreSQL server any more)
// ready to start: it waits, up to d, for the backends the killed postmaster
// left behind to exit (they do once they notice) and for the dead postmaster
// to be reaped. Its lock files (postmaster.pid and its socket's lock file)
// are removed when its process is still a zombie once no process works in
// the directory any more: PostgreSQL would take the zombie for a running
// server. It fails, naming them, when processes still work in the directory
// after d.
func clearStaleServer(dataDir string, d time.Duration) (removed bool, err error) {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	pid, err := readPid(pidFile)
	if err != nil || procAlive(pid, "postgres") {
		return false, nil
	}
	locks := []string{pidFile}
	if data, err := os.ReadFile(pidFile); err == nil {
		// Lines 4 and 5 of postmaster.pid: the port and the socket directory.
		if lines := strings.Split(string(data), "\n"); len(lines) > 4 && lines[3] != "" && lines[4] != "" {
			locks = append(locks, filepath.Join(strings.TrimSpace(lines[4]), ".s.PGSQL."+strings.TrimSpace(lines[3])+".lock"))
		}
	}
	deadline := time.Now().Add(d)
	for {
		users := dirUsers(dataDir)
		if len(users) == 0 && !pidExists(pid) {
			return false, nil
		}
		if len(users) == 0 {
			for _, l := range locks {
				if owner, err := readPid(l); err == nil && owner == pid {
					if err := os.Remove(l); err != nil && !os.IsNotExist(err) {
						return false, err
					}
				}
			}
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("processes of a stopped server still run in %s (pids %v) after %v; end them and start again", dataDir, users, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tailFile returns the last n lines of a file ("" when unreadable).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts finds n distinct free loopback ports (for test and benchmark
// clusters). A port it found once is never found again by this process:
// the kernel may hand a port just released to the next bind, and a port
// found for one node must not be found again for another before the first
// has bound it.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	handedPorts.Lock()
	defer handedPorts.Unlock()
	if handedPorts.m == nil {
		handedPorts.m = map[int]bool{}
	}
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l) // held until all are found: each is new
		p := l.Addr().(*net.TCPAddr).Port
		if handedPorts.m[p] || socketInUse(p) {
			continue
		}
		handedPorts.m[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// socketInUse tells whether a PostgreSQL-style Unix socket of port exists
// in a directory the clusters share: a node in a test host's network
// namespace holds no port here, but its socket is in the same directory.
func socketInUse(port int) bool {
	for _, dir := range socketDirs {
		for _, name := range []string{".s.PGSQL.%d", ".s.PGSQL.%d.lock"} {
			if _, err := os.Lstat(filepath.Join(dir, fmt.Sprintf(name, port))); err == nil {
				return true
			}
		}
	}
	return false
}

// socketDirs are where the clusters' Unix sockets go (Debian's, else the
// temporary directory).
var socketDirs = []string{"/var/run/postgresql", os.TempDir()}

// handedPorts are the ports FreePorts has found.
var handedPorts struct {
	sync.Mutex
	m map[int]bool
}
