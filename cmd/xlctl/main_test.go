package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xlgo/xlgo/cluster"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(strings.NewReader(""), &out)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	return out.String(), err
}

func TestInitRefusesExistingCluster(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, cluster.ConfigFileName), cluster.DefaultConfig().YAML(), 0o644)
	os.Mkdir(filepath.Join(home, "coord1"), 0o700)
	_, err := run(t, "init", "--home", home)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("init on an existing cluster: %v", err)
	}
}

func TestCleanNeedsYesWithoutTerminal(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, cluster.ConfigFileName), cluster.DefaultConfig().YAML(), 0o644)
	os.Mkdir(filepath.Join(home, "log"), 0o755)
	_, err := run(t, "clean", "--home", home)
	if err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("clean without --yes and without a terminal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "log")); err != nil {
		t.Errorf("clean removed files although it refused: %v", err)
	}
}

func TestVerbsNeedAConfig(t *testing.T) {
	home := t.TempDir()
	for _, verb := range []string{"start", "stop", "status", "clean", "register"} {
		_, err := run(t, verb, "--home", home)
		if err == nil || !strings.Contains(err.Error(), "no cluster config") {
			t.Errorf("%s without a config: %v", verb, err)
		}
	}
}

func TestStatusStopped(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, cluster.ConfigFileName), cluster.DefaultConfig().YAML(), 0o644)
	out, err := run(t, "status", "--home", home)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 9 || !strings.Contains(lines[2], "coord1") || !strings.Contains(lines[2], "127.0.0.1:20004") || !strings.Contains(lines[2], "stopped") ||
		!strings.HasPrefix(lines[8], "127.0.0.1  0/5 ") {
		t.Errorf("status:\n%s", out)
	}
}
