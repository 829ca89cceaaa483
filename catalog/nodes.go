package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/internal/atomicfile"
	"github.com/xlgo/xlgo/pgerr"
)

// Node is one row of pgxc_node.
type Node struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // "C" coordinator, "D" datanode
	Host      string `json:"host"`
	Port      int    `json:"port"`
	Primary   bool   `json:"primary"`
	Preferred bool   `json:"preferred"`
	// StandbyHost and StandbyPort are a datanode's streaming standby, which
	// the coordinators promote when the datanode is lost ("" for none).
	StandbyHost string `json:"standby_host,omitempty"`
	StandbyPort int    `json:"standby_port,omitempty"`
}

// ID is the node_id of pgxc_node: PostgreSQL's hashtext of the name, as Postgres-XL.
func (n Node) ID() int32 { return distribution.NodeID(n.Name) }

// IsDatanode tells whether the node holds data.
func (n Node) IsDatanode() bool { return n.Type == "D" }

// Group is one row of pgxc_group.
type Group struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

type nodeFile struct {
	Nodes  []Node  `json:"nodes"`
	Groups []Group `json:"groups"`
}

// NodeStore is the coordinator's own pgxc_node and pgxc_group, kept in one
// file that is replaced atomically (write, fsync, rename) on every change.
type NodeStore struct {
	mu     sync.RWMutex
	path   string
	state  nodeFile
	serial uint64 // bumped on every change, so caches built from it can tell
}

// OpenNodeStore reads the store at path, or starts an empty one.
func OpenNodeStore(path string) (*NodeStore, error) {
	s := &NodeStore{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &s.state); err != nil {
		return nil, fmt.Errorf("node catalog %s: %w", path, err)
	}
	return s, nil
}

func (s *NodeStore) saveLocked(next nodeFile) error {
	sort.Slice(next.Nodes, func(i, j int) bool { return next.Nodes[i].Name < next.Nodes[j].Name })
	sort.Slice(next.Groups, func(i, j int) bool { return next.Groups[i].Name < next.Groups[j].Name })
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if s.path != "" {
		if err := atomicfile.WriteFile(s.path, b, 0o600); err != nil {
			return fmt.Errorf("write node catalog: %w", err)
		}
	}
	s.state = next
	s.serial++
	return nil
}

func (s *NodeStore) clone() nodeFile {
	var c nodeFile
	c.Nodes = append(c.Nodes, s.state.Nodes...)
	for _, g := range s.state.Groups {
		c.Groups = append(c.Groups, Group{Name: g.Name, Members: append([]string(nil), g.Members...)})
	}
	return c
}

// Serial changes whenever the store changes.
func (s *NodeStore) Serial() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.serial
}

// Nodes lists every node, by name.
func (s *NodeStore) Nodes() []Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Node(nil), s.state.Nodes...)
}

// Datanodes lists the datanodes, by name.
func (s *NodeStore) Datanodes() []Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Node
	for _, n := range s.state.Nodes {
		if n.IsDatanode() {
			out = append(out, n)
		}
	}
	return out
}

// Node finds a node by name.
func (s *NodeStore) Node(name string) (Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, n := range s.state.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Groups lists the node groups, by name.
func (s *NodeStore) Groups() []Group {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clone().Groups
}

// Group finds a node group by name.
func (s *NodeStore) Group(name string) (Group, bool) {
	for _, g := range s.Groups() {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// PreferredDatanode is the datanode that reads of replicated and catalog
// data go to: the preferred one, else the primary, else the first.
func (s *NodeStore) PreferredDatanode() (Node, bool) {
	dns := s.Datanodes()
	if len(dns) == 0 {
		return Node{}, false
	}
	for _, n := range dns {
		if n.Preferred {
			return n, true
		}
	}
	for _, n := range dns {
		if n.Primary {
			return n, true
		}
	}
	return dns[0], true
}

// PrimaryDatanode is the datanode marked PRIMARY, else the first.
func (s *NodeStore) PrimaryDatanode() (Node, bool) {
	dns := s.Datanodes()
	if len(dns) == 0 {
		return Node{}, false
	}
	for _, n := range dns {
		if n.Primary {
			return n, true
		}
	}
	return dns[0], true
}

// CreateNode adds a node (CREATE NODE).
func (s *NodeStore) CreateNode(n Node) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.clone()
	for _, o := range next.Nodes {
		if o.Name == n.Name {
			return pgerr.New(pgerr.DuplicateObject, "PGXC Node %s: object already defined", n.Name)
		}
		if o.Host == n.Host && o.Port == n.Port {
			return pgerr.New(pgerr.DuplicateObject, "PGXC node %s: port %d and host %s are already used by node %s", n.Name, n.Port, n.Host, o.Name)
		}
		if n.Primary && o.Primary && n.IsDatanode() {
			return pgerr.New(pgerr.DuplicateObject, "PGXC node %s: two nodes cannot be primary", n.Name)
		}
	}
	if err := validateNode(n); err != nil {
		return err
	}
	next.Nodes = append(next.Nodes, n)
	return s.saveLocked(next)
}

func validateNode(n Node) error {
	if n.Type != "C" && n.Type != "D" {
		return pgerr.New(pgerr.InvalidParameterValue, "type of node %s must be 'coordinator' or 'datanode'", n.Name)
	}
	if n.Port < 1 || n.Port > 65535 {
		return pgerr.New(pgerr.InvalidParameterValue, "port value is out of range")
	}
	if n.Type == "C" && (n.Primary || n.Preferred) {
		return pgerr.New(pgerr.InvalidParameterValue, "PGXC node %s: cannot be a primary or preferred node; it is a coordinator", n.Name)
	}
	if n.StandbyHost != "" && n.Type != "D" {
		return pgerr.New(pgerr.InvalidParameterValue, "PGXC node %s: only a datanode has a standby", n.Name)
	}
	if n.StandbyHost != "" && (n.StandbyPort < 1 || n.StandbyPort > 65535) {
		return pgerr.New(pgerr.InvalidParameterValue, "PGXC node %s: a standby needs STANDBY_PORT", n.Name)
	}
	return nil
}

// AlterNode replaces a node's definition (ALTER NODE); update receives the current one.
func (s *NodeStore) AlterNode(name string, update func(*Node) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.clone()
	for i := range next.Nodes {
		if next.Nodes[i].Name != name {
			continue
		}
		n := next.Nodes[i]
		if err := update(&n); err != nil {
			return err
		}
		if err := validateNode(n); err != nil {
			return err
		}
		for j, o := range next.Nodes {
			if j != i && n.Primary && o.Primary && n.IsDatanode() {
				return pgerr.New(pgerr.DuplicateObject, "PGXC node %s: two nodes cannot be primary", n.Name)
			}
			if j != i && o.Host == n.Host && o.Port == n.Port {
				return pgerr.New(pgerr.DuplicateObject, "PGXC node %s: port %d and host %s are already used by node %s", n.Name, n.Port, n.Host, o.Name)
			}
		}
		next.Nodes[i] = n
		return s.saveLocked(next)
	}
	return pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", name)
}

// DropNode removes a node (DROP NODE); a node still in a group is refused.
func (s *NodeStore) DropNode(name string, ifExists bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.clone()
	for i, n := range next.Nodes {
		if n.Name != name {
			continue
		}
		for _, g := range next.Groups {
			for _, m := range g.Members {
				if m == name {
					return pgerr.New(pgerr.DependentObjectsStillExist, "PGXC Node %s: cannot drop, node is a member of node group %s", name, g.Name)
				}
			}
		}
		next.Nodes = append(next.Nodes[:i], next.Nodes[i+1:]...)
		return s.saveLocked(next)
	}
	if ifExists {
		return nil
	}
	return pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", name)
}

// CreateGroup adds a node group (CREATE NODE GROUP) of datanodes.
func (s *NodeStore) CreateGroup(g Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.clone()
	for _, o := range next.Groups {
		if o.Name == g.Name {
			return pgerr.New(pgerr.DuplicateObject, "PGXC Group %s: group already defined", g.Name)
		}
	}
	if len(g.Members) == 0 {
		return pgerr.New(pgerr.SyntaxError, "PGXC Group %s: a node group needs at least one node", g.Name)
	}
	seen := map[string]bool{}
	for _, m := range g.Members {
		found := false
		for _, n := range next.Nodes {
			if n.Name == m {
				found = true
				if !n.IsDatanode() {
					return pgerr.New(pgerr.WrongObjectType, "PGXC node %s: only datanodes can be group members", m)
				}
			}
		}
		if !found {
			return pgerr.New(pgerr.UndefinedObject, "PGXC Node %s: object not defined", m)
		}
		if seen[m] {
			return pgerr.New(pgerr.DuplicateObject, "PGXC node %s: listed twice in group %s", m, g.Name)
		}
		seen[m] = true
	}
	next.Groups = append(next.Groups, Group{Name: g.Name, Members: append([]string(nil), g.Members...)})
	return s.saveLocked(next)
}

// DropGroup removes a node group (DROP NODE GROUP).
func (s *NodeStore) DropGroup(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.clone()
	for i, g := range next.Groups {
		if g.Name == name {
			next.Groups = append(next.Groups[:i], next.Groups[i+1:]...)
			return s.saveLocked(next)
		}
	}
	return pgerr.New(pgerr.UndefinedObject, "PGXC Group %s: group not defined", name)
}
