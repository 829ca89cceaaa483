// Package benchenv holds what the benchmark commands share to set up a run:
// the module's root, the gtm and coordinator built from it, the account
// PostgreSQL runs as, the machine's CPU model, small file helpers. It starts
// no server.
package benchenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/xlgo/xlgo/cluster"
)

// ModuleRoot is the xlgo module's directory, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/xlgo/xlgo\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the xlgo module")
		}
		dir = parent
	}
}

// BuildBinaries builds gtm and coordinator from the module at root into dir.
func BuildBinaries(root, dir string) error {
	for _, name := range []string{"gtm", "coordinator"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out)
		}
	}
	return os.Chmod(dir, 0o755)
}

// ServerCredential is the account servers run as: nil when not root, else
// the config's default os_user (PostgreSQL refuses to run as root).
func ServerCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	osUser := cluster.DefaultConfig().OSUser
	u, err := user.Lookup(osUser)
	if err != nil {
		return nil, fmt.Errorf("running as root needs the %s OS user to run PostgreSQL: %w", osUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// CPUModel is the machine's CPU model name (the architecture when unknown).
func CPUModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// AppendFile appends text to the existing file path.
func AppendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Tail is the last 20 lines of a file ("" when unreadable).
func Tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// Stops are what a run has started, to be stopped last first.
type Stops []func()

// Add keeps f to run at Run.
func (s *Stops) Add(f func()) { *s = append(*s, f) }

// Run stops everything added, last first.
func (s *Stops) Run() {
	for i := len(*s) - 1; i >= 0; i-- {
		(*s)[i]()
	}
	*s = nil
}

// CommandLine is the command that reproduces this run: go run pkg with
// this process's arguments, quoted for a shell where they need it.
func CommandLine(pkg string) string {
	args := []string{"go", "run", pkg}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// Pgbench is the pgbench to run: the one beside PostgreSQL's server
// binaries in pgBin when there is one, else the one on PATH.
func Pgbench(pgBin string) (string, error) {
	if p := filepath.Join(pgBin, "pgbench"); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("pgbench")
	if err != nil {
		return "", fmt.Errorf("pgbench not found (Debian package postgresql-client-15): %w", err)
	}
	return p, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// GuideConfig is the guide's topology (gtm, coord1 and coord2, datanode1
// and datanode2) on free loopback ports, with PostgreSQL from pgBin and no
// metrics endpoints (port + 1000 may be taken on a benchmark's machine).
func GuideConfig(pgBin string) (*cluster.Config, error) {
	ports, err := cluster.FreePorts(5)
	if err != nil {
		return nil, err
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = pgBin
	cfg.Metrics.Off = true
	cfg.GTM.Port = ports[0]
	cfg.Coordinators[0].Port, cfg.Coordinators[1].Port = ports[1], ports[2]
	cfg.Datanodes[0].Port, cfg.Datanodes[1].Port = ports[3], ports[4]
	return cfg, nil
}
