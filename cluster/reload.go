package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/xlgo/xlgo/internal/atomicfile"
)

// CoordinatorSettingsPath is coordinator n's --config file: the reloadable
// settings of the config's coordinator_settings.
func (c *Cluster) CoordinatorSettingsPath(n Node) string {
	return filepath.Join(c.DataDir(n.Name), "coordinator.yaml")
}

// writeCoordinatorSettings writes coordinator n's --config file.
func (c *Cluster) writeCoordinatorSettings(n Node) error {
	var b strings.Builder
	b.WriteString("# Written by xlctl from coordinator_settings of the cluster config; xlctl reload rewrites it.\n")
	for _, k := range sortedKeys(c.Config.CoordinatorSettings) {
		fmt.Fprintf(&b, "%s: %s\n", k, strconv.Quote(c.Config.CoordinatorSettings[k]))
	}
	return atomicfile.WriteFile(c.CoordinatorSettingsPath(n), []byte(b.String()), 0o644)
}

// Reload puts the config's coordinator_settings, and the coordinators'
// client authentication files, in force on every coordinator without a
// restart: each file is written again and the coordinator gets SIGHUP.
func (c *Cluster) Reload(ctx context.Context) error {
	var errs []error
	for _, n := range c.Config.Coordinators {
		if c.remote(n) {
			if _, err := c.onHost(ctx, n, "reload"); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			}
			continue
		}
		if err := c.reloadCoordinator(n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// reloadCoordinator rewrites coordinator n's files here and signals it.
func (c *Cluster) reloadCoordinator(n Node) error {
	if err := c.writeCoordinatorAuth(n); err != nil {
		return err
	}
	if err := c.writeCoordinatorSettings(n); err != nil {
		return err
	}
	pid, ok := c.spawnedPid(n)
	if !ok {
		return fmt.Errorf("coordinator %s is not running", n.Name)
	}
	c.say("Reload coordinator %s (pid %d)", n.Name, pid)
	return syscall.Kill(pid, syscall.SIGHUP)
}
