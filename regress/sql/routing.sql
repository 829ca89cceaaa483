-- DML routing: each row to its node, reads to one node when the
-- distribution column is pinned, else to every node of the table.
CREATE TABLE rt (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id);
INSERT INTO rt SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SELECT count(*), count(DISTINCT xc_node_id) FROM rt;
-- the spread is even
SELECT count(*) BETWEEN 400 AND 600 AS balanced FROM rt GROUP BY xc_node_id;
-- each row is on the node its hash says, whatever form the value takes
SELECT xc_node_id = (SELECT xc_node_id FROM rt WHERE id = 42) AS same FROM rt WHERE id = '42';
SELECT xc_node_id = (SELECT xc_node_id FROM rt WHERE id = 42) AS same FROM rt WHERE id = 42::int8;
SELECT v FROM rt WHERE id = 42;
SELECT v FROM rt WHERE id IN (1, 2, 3) ORDER BY v;
EXPLAIN (COSTS OFF) SELECT v FROM rt WHERE id = 42;
EXPLAIN (COSTS OFF) SELECT v FROM rt WHERE id = 42 OR id = 43;
EXPLAIN (COSTS OFF) SELECT v FROM rt WHERE v = 'v1';
EXPLAIN (COSTS OFF) SELECT count(*) FROM rt;
-- multi-row VALUES, RETURNING, defaults and expressions
INSERT INTO rt VALUES (1001, 'a'), (1002, 'b'), (1003, upper('c')) RETURNING id, v;
INSERT INTO rt (v, id) VALUES ('x', 1000 + 4) RETURNING *;
INSERT INTO rt VALUES (1, 'dup');
SELECT v FROM rt WHERE id = 1;
-- UPDATE and DELETE
UPDATE rt SET v = 'changed' WHERE id = 7 RETURNING *;
UPDATE rt SET v = v || '!' WHERE id <= 5;
SELECT id, v FROM rt WHERE id <= 7 ORDER BY id;
UPDATE rt SET id = 99999 WHERE id = 1;
DELETE FROM rt WHERE id > 1000 RETURNING id;
DELETE FROM rt WHERE id % 2 = 0;
SELECT count(*) FROM rt;
EXPLAIN (COSTS OFF) UPDATE rt SET v = 'y' WHERE id = 3;
EXPLAIN (COSTS OFF) DELETE FROM rt WHERE v = 'y';
-- NULL distribution values have a fixed home
CREATE TABLE rtn (k text, v int) DISTRIBUTE BY HASH (k);
INSERT INTO rtn VALUES (NULL, 1), (NULL, 2), ('a', 3);
SELECT count(DISTINCT xc_node_id) FROM rtn WHERE k IS NULL;
-- text: char(n) trailing blanks do not change the node
CREATE TABLE rtc (k char(5), v int) DISTRIBUTE BY HASH (k);
INSERT INTO rtc VALUES ('ab', 1), ('ab   ', 2);
SELECT count(DISTINCT xc_node_id) FROM rtc;
SELECT count(*) FROM rtc WHERE k = 'ab';
-- numeric: 1.0 and 1.00 are the same value
CREATE TABLE rtm (k numeric, v int) DISTRIBUTE BY HASH (k);
INSERT INTO rtm VALUES (1.0, 1), (1.00, 2), ('1', 3), (1, 4);
SELECT count(DISTINCT xc_node_id), count(*) FROM rtm;
SELECT count(*) FROM rtm WHERE k = 1;
-- timestamps in any spelling
CREATE TABLE rtt (k timestamptz, v int) DISTRIBUTE BY HASH (k);
SET TimeZone = 'Europe/Paris';
INSERT INTO rtt VALUES ('2024-03-01 10:00:00+01', 1), ('2024-03-01 09:00:00Z', 2), ('2024-03-01 10:00:00', 3);
SELECT count(DISTINCT xc_node_id), count(*) FROM rtt;
RESET TimeZone;
-- modulo
CREATE TABLE rmod (a int, b text) DISTRIBUTE BY MODULO (a);
INSERT INTO rmod SELECT g, 'b' || g FROM generate_series(-5, 5) g;
SELECT a, xc_node_id = (SELECT min(xc_node_id) FROM rmod) AS first_node FROM rmod ORDER BY a;
-- round robin
CREATE TABLE rrr (a int, b text) DISTRIBUTE BY ROUNDROBIN;
INSERT INTO rrr SELECT g, 'b' FROM generate_series(1, 10) g;
SELECT count(*), count(DISTINCT xc_node_id) FROM rrr;
-- replicated: reads from one node, writes to all
CREATE TABLE rrep (id int PRIMARY KEY, v text) DISTRIBUTE BY REPLICATION;
INSERT INTO rrep VALUES (1, 'a'), (2, 'b') RETURNING *;
UPDATE rrep SET v = 'bb' WHERE id = 2;
INSERT INTO rrep VALUES (3, md5('x'));
EXECUTE DIRECT ON (datanode1) 'SELECT id, v FROM rrep ORDER BY id';
EXECUTE DIRECT ON (datanode2) 'SELECT id, v FROM rrep ORDER BY id';
EXPLAIN (COSTS OFF) SELECT * FROM rrep;
-- a join of a distributed and a replicated table
SELECT rt.id, rrep.v FROM rt JOIN rrep ON rt.id = rrep.id ORDER BY rt.id;
DROP TABLE rt, rtn, rtc, rtm, rtt, rmod, rrr, rrep;
-- EXPLAIN VERBOSE shows every datanode's plan; EXPLAIN ANALYZE runs the statement
CREATE TABLE rx (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id);
CREATE TABLE rxc (id int PRIMARY KEY, w text) DISTRIBUTE BY HASH (id);
INSERT INTO rx SELECT g, 'v' || g FROM generate_series(1, 20) g;
INSERT INTO rxc SELECT g, 'w' || g FROM generate_series(1, 20) g;
EXPLAIN (VERBOSE, COSTS OFF) SELECT v FROM rx WHERE v > 'v5';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE rx SET v = v WHERE id = 3;
-- a co-located join: one remote query per node; a join on other columns: the
-- rows meet at the coordinator
EXPLAIN (COSTS OFF) SELECT rx.v, rxc.w FROM rx JOIN rxc ON rx.id = rxc.id;
SELECT rx.v, rxc.w FROM rx JOIN rxc ON rx.id = rxc.id WHERE rx.id <= 3 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT rx.v, rxc.w FROM rx JOIN rxc ON rx.v = rxc.w;
-- the coordinator's primitives: run with ANALYZE (rows per datanode), and
-- with VERBOSE each datanode's plan of its part
CREATE TABLE rz (k int, v text) DISTRIBUTE BY HASH (k);
INSERT INTO rz SELECT g, 'v' || (g % 7) FROM generate_series(1, 20) g;
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT rx.id, rz.k FROM rx JOIN rz ON rx.v = rz.v ORDER BY 1, 2 LIMIT 4;
SELECT rx.id, rz.k FROM rx JOIN rz ON rx.v = rz.v ORDER BY 1, 2 LIMIT 4;
EXPLAIN (COSTS OFF) SELECT id, v FROM rx ORDER BY v DESC, id LIMIT 3;
SELECT id, v FROM rx ORDER BY v DESC, id LIMIT 3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM rx WHERE id IN (SELECT id FROM rxc WHERE w = 'w2');
SELECT v FROM rx WHERE id IN (SELECT id FROM rxc WHERE w = 'w2');
DROP TABLE rx, rxc, rz;
