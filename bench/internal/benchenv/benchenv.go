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
