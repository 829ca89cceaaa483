-- CREATE TABLE with every distribution, XL's default distribution, and the
-- distribution catalog pgxc_class.
CREATE TABLE dist_hash (id int, v text) DISTRIBUTE BY HASH (id);
CREATE TABLE dist_modulo (id int PRIMARY KEY, v text) DISTRIBUTE BY MODULO (id);
CREATE TABLE dist_rr (id int, v text) DISTRIBUTE BY ROUNDROBIN;
CREATE TABLE dist_repl (id int PRIMARY KEY, v text) DISTRIBUTE BY REPLICATION;
CREATE TABLE dist_one (id int, v text) DISTRIBUTE BY HASH (id) TO NODE (datanode1);
CREATE NODE GROUP dist_group WITH (datanode2);
CREATE TABLE dist_grp (id int, v text) DISTRIBUTE BY HASH (id) TO GROUP dist_group;
-- defaults: primary key first, then a unique column, then the first hashable column
CREATE TABLE def_pk (a text, b int PRIMARY KEY);
CREATE TABLE def_unique (a text, b int, c int UNIQUE);
CREATE TABLE def_first (a point, b varchar(10), c int);
CREATE TABLE def_none (a point, b box);
CREATE TABLE def_quoted ("Key" int, v text) DISTRIBUTE BY HASH ("Key");
SELECT pcrelid::regclass AS rel, pclocatortype, pcattnum, pcnodenames
  FROM pgxc_class ORDER BY pcrelid::regclass::text;
-- what cannot be: unknown column, wrong types, unique without the distribution column
CREATE TABLE bad1 (a int) DISTRIBUTE BY HASH (nosuch);
CREATE TABLE bad2 (a point) DISTRIBUTE BY HASH (a);
CREATE TABLE bad3 (a text) DISTRIBUTE BY MODULO (a);
CREATE TABLE bad4 (a int, b int UNIQUE) DISTRIBUTE BY HASH (a);
CREATE TABLE bad5 (a int, b int, PRIMARY KEY (b)) DISTRIBUTE BY HASH (a);
CREATE TABLE bad6 (a int) DISTRIBUTE BY HASH (a) TO NODE (nosuch);
CREATE TABLE bad7 (a int) DISTRIBUTE BY HASH (a) TO GROUP nosuch;
CREATE TABLE bad8 (a int) DISTRIBUTE BY HASH;
CREATE TABLE bad9 (a int) DISTRIBUTE BY SPREAD;
CREATE TEMP TABLE bad10 (a int);
-- nothing of the failed statements stays
SELECT count(*) FROM pgxc_class WHERE pcrelid::regclass::text LIKE 'bad%';
SELECT count(*) FROM pg_class WHERE relname LIKE 'bad%';
-- unique indexes follow the same rule
CREATE UNIQUE INDEX dist_hash_v ON dist_hash (v);
CREATE UNIQUE INDEX dist_hash_idv ON dist_hash (id, v);
ALTER TABLE dist_hash ADD PRIMARY KEY (v);
ALTER TABLE dist_hash ADD CONSTRAINT dist_hash_pk PRIMARY KEY (id);
CREATE INDEX dist_hash_vi ON dist_hash (v);
-- ALTER TABLE runs everywhere; the distribution column stays
ALTER TABLE dist_hash ADD COLUMN w int DEFAULT 7;
ALTER TABLE dist_hash DROP COLUMN id;
ALTER TABLE dist_hash ALTER COLUMN id TYPE bigint;
ALTER TABLE dist_hash RENAME COLUMN v TO val;
ALTER TABLE dist_hash RENAME TO dist_hash2;
SELECT pcrelid::regclass AS rel, pclocatortype, pcattnum FROM pgxc_class WHERE pcrelid = 'dist_hash2'::regclass;
INSERT INTO dist_hash2 (id, val) VALUES (1, 'one'), (2, 'two');
SELECT id, val, w FROM dist_hash2 ORDER BY id;
-- redistribution: Postgres-XL's ALTER TABLE ... DISTRIBUTE BY / ADD NODE / DELETE NODE / TO NODE
-- (the moves' progress notices are for terminals)
SET client_min_messages = warning;
INSERT INTO dist_hash2 (id, val) SELECT g, 'v' || g FROM generate_series(3, 200) g;
ALTER TABLE dist_hash2 DISTRIBUTE BY REPLICATION;
SELECT pclocatortype, pcnodenames FROM pgxc_class WHERE pcrelid = 'dist_hash2'::regclass;
EXPLAIN (COSTS OFF) SELECT * FROM dist_hash2 WHERE id = 7;
SELECT count(*), sum(id), count(DISTINCT xc_node_id) FROM dist_hash2;
EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM dist_hash2';
ALTER TABLE dist_hash2 DISTRIBUTE BY HASH (id), DELETE NODE (datanode2);
SELECT pclocatortype, pcnodenames FROM pgxc_class WHERE pcrelid = 'dist_hash2'::regclass;
EXPLAIN (COSTS OFF) SELECT count(*) FROM dist_hash2;
EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM dist_hash2';
ALTER TABLE dist_hash2 ADD NODE (datanode2);
EXPLAIN (COSTS OFF) SELECT count(*) FROM dist_hash2;
SELECT count(*), sum(id), count(DISTINCT xc_node_id) FROM dist_hash2;
SELECT id, val FROM dist_hash2 WHERE id IN (1, 2, 100) ORDER BY id;
ALTER TABLE dist_hash2 TO NODE (datanode2);
EXPLAIN (COSTS OFF) SELECT count(*) FROM dist_hash2;
SELECT count(*), sum(id), count(DISTINCT xc_node_id) FROM dist_hash2;
ALTER TABLE dist_hash2 DISTRIBUTE BY MODULO (id), TO NODE (datanode1, datanode2);
SELECT pclocatortype, pcnodenames FROM pgxc_class WHERE pcrelid = 'dist_hash2'::regclass;
SELECT count(*), sum(id), count(DISTINCT xc_node_id) FROM dist_hash2;
ALTER TABLE dist_hash2 DISTRIBUTE BY ROUNDROBIN;
ALTER TABLE dist_hash2 DISTRIBUTE BY HASH (id);
SELECT count(*), sum(id), count(DISTINCT xc_node_id) FROM dist_hash2;
SELECT * FROM pgxc_rebalance_status;
-- what it refuses
ALTER TABLE dist_hash2 DISTRIBUTE BY HASH (val);
ALTER TABLE dist_hash2 ADD NODE (datanode1);
ALTER TABLE dist_hash2 DELETE NODE (datanode1, datanode2);
ALTER TABLE dist_hash2 ADD NODE (nosuch);
ALTER TABLE nosuch ADD NODE (datanode1);
ALTER TABLE IF EXISTS nosuch ADD NODE (datanode1);
BEGIN;
ALTER TABLE dist_hash2 DELETE NODE (datanode2);
ROLLBACK;
RESET client_min_messages;
-- partitions are distributed as their parent
CREATE TABLE parted (k int, d date, v text) PARTITION BY RANGE (d) DISTRIBUTE BY HASH (k);
CREATE TABLE parted_2024 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO parted SELECT g, date '2024-01-01' + g, 'v' || g FROM generate_series(1, 100) g;
SELECT count(*), count(DISTINCT xc_node_id) FROM parted;
SELECT pcrelid::regclass AS rel, pclocatortype, pcattnum FROM pgxc_class WHERE pcrelid::regclass::text LIKE 'parted%' ORDER BY 1;
-- CREATE TABLE AS
CREATE TABLE ctas1 AS SELECT g AS id, g * 2 AS twice FROM generate_series(1, 50) g;
CREATE TABLE ctas2 DISTRIBUTE BY REPLICATION AS SELECT * FROM ctas1 WHERE id <= 10;
SELECT count(*), sum(twice) FROM ctas1;
SELECT count(*) FROM ctas2;
SELECT pcrelid::regclass AS rel, pclocatortype FROM pgxc_class WHERE pcrelid::regclass::text LIKE 'ctas%' ORDER BY 1;
-- TRUNCATE and DROP
TRUNCATE dist_rr, dist_repl;
DROP TABLE dist_hash2, dist_modulo, dist_rr, dist_repl, dist_one, dist_grp, def_pk, def_unique, def_first,
  def_none, def_quoted, parted, ctas1, ctas2;
SELECT count(*) FROM pgxc_class;
DROP NODE GROUP dist_group;
