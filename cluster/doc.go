// Package cluster is what xlctl does: the cluster config, initdb and pg_ctl
// for datanodes, starting and supervising gtm and coordinators, node
// registration, status. It runs processes; it does not plan or route SQL.
//
// A cluster lives in one home directory (xlctl --home, $XLGO_HOME, ~/xlgo):
//
//	HOME/xlgo.yaml      the config (Config), written by Init when absent
//	HOME/gtm/           the gtm's data directory (named after the gtm node)
//	HOME/gtm_standby/   the gtm standby's data directory, when the config has one
//	HOME/coord1/        a coordinator's data directory
//	HOME/datanode1/     a datanode's PGDATA (initdb; owned by os_user under root)
//	HOME/log/NAME.log   every process's log (pg_ctl -l for datanodes, stdout+stderr otherwise)
//	HOME/run/NAME.pid   the pid of every process xlctl started
//
// Datanodes are plain PostgreSQL run with pg_ctl; when xlctl runs as root
// they run as os_user. The gtm and coordinators run as the invoking user,
// in their own session, and are stopped through their pid files only.
package cluster
