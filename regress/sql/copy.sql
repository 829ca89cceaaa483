-- COPY routes every row to the node that holds it; COPY TO gathers.
CREATE TABLE cp (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id);
COPY cp FROM STDIN;
1	one
2	two
3	three\twith a tab
4	\N
5	five
\.
SELECT count(*), count(DISTINCT xc_node_id) AS nodes FROM cp;
SELECT id, v FROM cp WHERE id = 3;
SELECT count(*) FROM cp WHERE v IS NULL;
COPY cp FROM STDIN (FORMAT csv, HEADER);
id,v
100,"a,b"
101,"multi
line"
102,
103,""
\.
SELECT id, v, v IS NULL AS isnull FROM cp WHERE id >= 100 ORDER BY id;
-- a malformed row: the error has the client's line number; nothing of that COPY stays
COPY cp FROM STDIN;
200	x
201	y
202	z
abc	bad
204	w
\.
SELECT count(*) FROM cp WHERE id >= 200;
-- a duplicate key on one node undoes the rows sent to the other node too
COPY cp FROM STDIN;
300	a
301	b
302	c
1	dup
\.
SELECT count(*) FROM cp WHERE id >= 300;
-- every row reached the node an INSERT sends it to
CREATE TABLE cp_ins (id int, v text) DISTRIBUTE BY HASH (id);
INSERT INTO cp_ins SELECT g, 'x' FROM generate_series(1, 200) g;
SELECT count(*) AS misplaced FROM cp JOIN cp_ins USING (id) WHERE cp.xc_node_id <> cp_ins.xc_node_id;
SELECT count(*) AS compared FROM cp JOIN cp_ins USING (id);

COPY (SELECT id, v FROM cp WHERE id < 100 ORDER BY id) TO STDOUT;
COPY (SELECT id, v FROM cp ORDER BY id DESC LIMIT 3) TO STDOUT (FORMAT csv, HEADER);
COPY (SELECT count(*) FROM cp) TO STDOUT;
-- a whole table, from every node
CREATE TABLE cp2 AS SELECT id FROM cp;
COPY cp2 TO STDOUT;
-- a column list without the distribution column cannot be routed
COPY cp (v) FROM STDIN;
-- replicated and round robin tables
CREATE TABLE cpr (id int, v text) DISTRIBUTE BY REPLICATION;
COPY cpr FROM STDIN (FORMAT csv);
1,a
2,b
\.
EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM cpr';
CREATE TABLE cprr (id int, v text) DISTRIBUTE BY ROUNDROBIN;
COPY cprr FROM STDIN;
1	a
2	b
3	c
4	d
\.
SELECT count(*), count(DISTINCT xc_node_id) AS nodes FROM cprr;
-- COPY in a transaction rolls back with it
BEGIN;
COPY cp FROM STDIN;
500	x
501	y
\.
SELECT count(*) FROM cp WHERE id >= 500;
ROLLBACK;
SELECT count(*) FROM cp WHERE id >= 500;
COPY cp FROM '/tmp/nothing';
DROP TABLE cp, cp2, cpr, cprr, cp_ins;
