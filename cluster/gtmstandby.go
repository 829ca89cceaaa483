package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/atomicfile"
)

// The GTM standby (the guide's gtmSlave). It runs `gtm --standby-of GTM` with
// its own data directory (HOME/NAME), follows the gtm's log synchronously and
// serves nothing until promoted. `xlctl failover gtm` (FailoverGTM) stops the
// old gtm if it still runs here, promotes the standby and swaps the two in the
// config: from then on the promoted node is the gtm, and the old gtm is its
// standby, so `xlctl start` brings the old one back as a standby that takes
// the new gtm's state (it never serves as a primary again by itself).

// promoteTimeout bounds reaching and promoting the standby.
const promoteTimeout = 30 * time.Second

// GTMStandbyArgs are the command-line flags of the gtm standby process.
func (c *Cluster) GTMStandbyArgs() []string {
	s := c.Config.GTMStandby
	return append([]string{"--name", s.Name, "--listen", s.Host, "--port", strconv.Itoa(s.Port),
		"--data-dir", c.DataDir(s.Name), "--standby-of", c.Config.GTM.Addr()}, append(c.processArgs(s), c.gtmFailoverArgs("--failover-after")...)...)
}

func (c *Cluster) startGTMStandby(ctx context.Context) error {
	s := c.Config.GTMStandby
	if pid, ok := c.spawnedPid(s); ok {
		c.say("GTM standby %s is already running (pid %d).", s.Name, pid)
		return nil
	}
	c.say("Start GTM standby %s (of %s)", s.Name, c.Config.GTM.Name)
	if err := os.MkdirAll(c.DataDir(s.Name), 0o700); err != nil {
		return err
	}
	exited, err := c.spawn(s, "gtm", c.GTMStandbyArgs())
	if err != nil {
		return err
	}
	if err := waitTCP(ctx, s.Addr(), c.readyTimeout(), exited); err != nil {
		return fmt.Errorf("gtm standby %s: %w\nlast lines of %s:\n%s", s.Name, err, c.LogPath(s.Name), c.LogTail(s.Name, 20))
	}
	return nil
}

// FailoverGTM makes the GTM standby the cluster's GTM: it stops the old gtm if
// it still runs on this host, promotes the standby (which serves at once;
// coordinators reconnect to it by themselves) and rewrites the config with the
// two swapped, the old gtm becoming the standby of the new one.
func (c *Cluster) FailoverGTM(ctx context.Context) error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	if !c.Config.HasGTMStandby() {
		return errors.New("the config has no gtm_standby to fail over to")
	}
	old, standby := c.Config.GTM, c.Config.GTMStandby
	// The old gtm must not go on serving beside the promoted one.
	if err := c.stopNode(ctx, nil, old, RoleGTM, "immediate"); err != nil {
		return fmt.Errorf("stop the old gtm %s: %w", old.Name, err)
	}
	pctx, cancel := context.WithTimeout(ctx, promoteTimeout)
	defer cancel()
	g, err := gtmclient.Dial(pctx, standby.Addr())
	if err != nil {
		return fmt.Errorf("gtm standby %s: %w (is it running? xlctl status)", standby.Name, err)
	}
	defer g.Close()
	c.say("Promote GTM standby %s (%s)", standby.Name, standby.Addr())
	gen, streamed, err := g.Promote(pctx)
	if err != nil {
		return fmt.Errorf("promote gtm standby %s: %w", standby.Name, err)
	}
	if !streamed {
		c.say("Warning: %s had not streamed from %s since it started; it holds only the state it had logged before.", standby.Name, old.Name)
	}
	cfg := *c.Config
	cfg.GTM, cfg.GTMStandby = standby, old
	if err := c.writeConfig(&cfg); err != nil {
		return fmt.Errorf("%s is the primary gtm now (generation %d), but the config could not be rewritten: %w; "+
			"swap gtm and gtm_standby in it by hand before starting %s again", standby.Name, gen, err, old.Name)
	}
	c.Config = &cfg
	c.say("GTM %s (%s) is the primary now (generation %d); %s is its standby in the config (xlctl start starts it as one).",
		standby.Name, standby.Addr(), gen, old.Name)
	return nil
}

// writeConfig replaces the config file(s) of the cluster with cfg, atomically.
func (c *Cluster) writeConfig(cfg *Config) error {
	paths := []string{c.ConfigPath()}
	if c.ConfigFile != "" && c.ConfigFile != c.ConfigPath() {
		paths = append(paths, c.ConfigFile)
	}
	data := cfg.YAML()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil && p == c.ConfigPath() && c.ConfigFile != "" {
			continue // the home holds no copy
		}
		if err := atomicfile.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		c.say("Rewrote %s", p)
	}
	return nil
}
