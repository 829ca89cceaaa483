package dialect

// Statement is what Parse recognised in one statement's text.
type Statement interface{ statement() }

// Passthrough is PostgreSQL SQL, with any XL clauses taken out of it.
type Passthrough struct {
	SQL        string            // the statement without the XL clause(s), for pg_query.Parse
	Distribute *DistributeClause // non-nil when a CREATE TABLE carried DISTRIBUTE BY and/or TO NODE/TO GROUP
}

// Distribution methods as stored in pgxc_class.pclocatortype.
const (
	DistHash        byte = 'H' // DISTRIBUTE BY HASH(col)
	DistModulo      byte = 'M' // DISTRIBUTE BY MODULO(col)
	DistRoundRobin  byte = 'N' // DISTRIBUTE BY ROUNDROBIN
	DistReplication byte = 'R' // DISTRIBUTE BY REPLICATION
)

// DistributeClause is a DISTRIBUTE BY clause and/or its TO NODE / TO GROUP subcluster.
type DistributeClause struct {
	Kind    byte     // 'H' hash, 'M' modulo, 'N' roundrobin, 'R' replication; 0 when only TO NODE/GROUP was given
	Column  string   // for HASH(col)/MODULO(col): the column name, folded as PostgreSQL folds identifiers
	ToNodes []string // TO NODE (n1, n2), names folded
	ToGroup string   // TO GROUP g, folded
}

// AlterTableDistribution is ALTER TABLE t {DISTRIBUTE BY ... | TO NODE/GROUP ... | ADD NODE (...) | DELETE NODE (...)} [, ...].
type AlterTableDistribution struct {
	Table       string            // the table name as written, folded, schema-qualified parts joined with '.'
	Names       []string          // the folded parts of Table (schema and relation, or relation alone)
	IfExists    bool              // ALTER TABLE IF EXISTS
	Distribute  *DistributeClause // DISTRIBUTE BY and/or TO NODE/GROUP, nil when absent
	AddNodes    []string          // ADD NODE (n1, ...)
	DeleteNodes []string          // DELETE NODE (n1, ...)
}

// NodeOptions are the WITH (...) options of CREATE NODE and ALTER NODE; nil means not given.
type NodeOptions struct {
	Type      *string // TYPE = 'datanode' | 'coordinator'
	Host      *string // HOST = 'h'
	Port      *int    // PORT = 20008
	Primary   *bool   // PRIMARY [= bool]
	Preferred *bool   // PREFERRED [= bool]
	// STANDBY_HOST = 'h', STANDBY_PORT = p: xlgo's own options, the datanode's
	// streaming standby, which the coordinators promote when the datanode is
	// lost (STANDBY_HOST = '' for none).
	StandbyHost *string
	StandbyPort *int
}

// CreateNode is CREATE NODE name WITH (...).
type CreateNode struct {
	Name    string
	Options NodeOptions
}

// AlterNode is ALTER NODE name WITH (...).
type AlterNode struct {
	Name    string
	Options NodeOptions
}

// DropNode is DROP NODE [IF EXISTS] name.
type DropNode struct {
	Name     string
	IfExists bool
}

// CreateNodeGroup is CREATE NODE GROUP g WITH (n1, n2).
type CreateNodeGroup struct {
	Name    string
	Members []string
}

// DropNodeGroup is DROP NODE GROUP g.
type DropNodeGroup struct {
	Name string
}

// ExecuteDirect is EXECUTE DIRECT ON (n1 [, ...]) 'sql'.
type ExecuteDirect struct {
	Nodes []string
	SQL   string // the literal's value, unescaped
}

// CleanConnection is CLEAN CONNECTION TO {ALL | NODE (...) | COORDINATOR (...)} [FORCE] [FOR DATABASE d] [TO USER u].
type CleanConnection struct {
	ToAll        bool     // TO ALL
	Nodes        []string // the nodes of TO NODE (...) or TO COORDINATOR (...)
	Coordinators bool     // TO COORDINATOR (...)
	Force        bool     // FORCE
	Database     string   // FOR [DATABASE] d, "" when absent
	User         string   // TO [USER] u, "" when absent
}

// CreateBarrier is CREATE BARRIER ['id'].
type CreateBarrier struct {
	ID string // "" when no id was given
}

// PauseCluster is PAUSE CLUSTER.
type PauseCluster struct{}

// UnpauseCluster is UNPAUSE CLUSTER.
type UnpauseCluster struct{}

func (*Passthrough) statement()            {}
func (*AlterTableDistribution) statement() {}
func (*CreateNode) statement()             {}
func (*AlterNode) statement()              {}
func (*DropNode) statement()               {}
func (*CreateNodeGroup) statement()        {}
func (*DropNodeGroup) statement()          {}
func (*ExecuteDirect) statement()          {}
func (*CleanConnection) statement()        {}
func (*CreateBarrier) statement()          {}
func (*PauseCluster) statement()           {}
func (*UnpauseCluster) statement()         {}
