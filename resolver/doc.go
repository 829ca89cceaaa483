// Package resolver finishes in-doubt distributed transactions: it finds the
// prepared transactions of this cluster on every datanode (pg_prepared_xacts)
// and commits or rolls each back by the GTM's decision log, then lets the GTM
// forget decisions no datanode needs any more. It runs in the coordinator
// (at start and periodically) and in xlctl; it must not import server/.
package resolver
