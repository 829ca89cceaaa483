-- Updating the distribution column.
UPDATE t SET id = 1

UPDATE t SET id = id WHERE id = 5

UPDATE t SET (id, v) = (1, 'a')

UPDATE m SET a = a + 1 WHERE a = 3

UPDATE t3 SET id = 2

INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (id) DO UPDATE SET id = 2

-- Updating a replicated or round-robin table's columns is allowed.
UPDATE r SET id = id + 1

UPDATE rr SET x = 0

-- Views over distributed tables.
SELECT * FROM vt

SELECT * FROM public.vt WHERE id = 5

SELECT * FROM r JOIN vt ON r.id = vt.id

SELECT * FROM r WHERE id IN (SELECT id FROM vt)

UPDATE vt SET v = 'x'

DELETE FROM vt

INSERT INTO vt VALUES (1)

UPDATE r SET name = 'x' WHERE id IN (SELECT id FROM vt)

-- SELECT INTO.
SELECT * INTO newtab FROM t

SELECT 1 AS one INTO newtab

SELECT * INTO TEMP newtab FROM r

-- FOR UPDATE / FOR SHARE over rows of several datanodes that the
-- coordinator combines, or limits.
SELECT * FROM t ORDER BY id LIMIT 3 FOR UPDATE

SELECT DISTINCT id FROM t ORDER BY id FOR UPDATE

SELECT * FROM t JOIN m ON t.id = m.a FOR UPDATE

SELECT count(*) FROM (SELECT * FROM t FOR SHARE) AS s

SELECT * FROM t WHERE id IN (SELECT a FROM m) FOR UPDATE OF t

-- Locking confined to one node, or a plain scan locked on each node.
SELECT * FROM t WHERE id = 5 FOR UPDATE

SELECT * FROM r FOR UPDATE

SELECT * FROM t FOR UPDATE

SELECT * FROM t WHERE id IN (1, 7) FOR SHARE

-- Ordered: each node locks and sends its rows in order, the coordinator
-- merges them.
SELECT * FROM t ORDER BY id FOR UPDATE

SELECT t.id FROM t JOIN tco ON tco.id = t.id ORDER BY t.id FOR UPDATE OF t

-- UPDATE / DELETE that read another distributed table on other nodes.
UPDATE t SET v = m.b FROM m WHERE t.id = m.a

UPDATE t SET v = m.b FROM m WHERE t.id = m.a AND t.id = 5 AND m.a = 5

DELETE FROM t WHERE id IN (SELECT a FROM m)

DELETE FROM t WHERE id = (SELECT max(id) FROM t)

UPDATE t SET n = (SELECT avg(n) FROM t)

-- t3 lives on datanode1 only, as does t's id 5: allowed.
UPDATE t SET v = 'x' WHERE id = 5 AND EXISTS (SELECT 1 FROM t3 WHERE t3.id = 7)

UPDATE r SET name = (SELECT v FROM t WHERE id = 5)

DELETE FROM r USING t WHERE r.id = t.id

UPDATE t SET v = r2.name FROM r2 WHERE r2.id = t.id

UPDATE localtab SET a = (SELECT max(id) FROM t)

INSERT INTO localtab SELECT id FROM t

-- WHERE CURRENT OF.
UPDATE t SET v = 'x' WHERE CURRENT OF c

DELETE FROM t WHERE CURRENT OF c

DELETE FROM r WHERE CURRENT OF c

UPDATE localtab SET a = 1 WHERE CURRENT OF c

-- Data-modifying WITH: the write must reach every node that holds the
-- rows, not only the node the statement runs on.
WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d

WITH u AS (UPDATE t SET v = 'x' RETURNING id) SELECT count(*) FROM u

WITH i AS (INSERT INTO t VALUES (7, 'a', 1) RETURNING id) SELECT * FROM i

WITH d AS (DELETE FROM t WHERE id = 7 RETURNING *) SELECT * FROM d

WITH d AS (DELETE FROM r RETURNING *) SELECT * FROM d

WITH d AS (DELETE FROM m RETURNING a) UPDATE t SET v = 'x' WHERE id = 5

WITH d AS (DELETE FROM t WHERE id = 5 RETURNING id) DELETE FROM t WHERE id = 5

WITH d AS (DELETE FROM t RETURNING id) UPDATE r SET name = 'x'

WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT a, 'w', 0 FROM x

WITH d AS (DELETE FROM t RETURNING id) INSERT INTO localtab SELECT id FROM d

-- A WITH query named like a distributed table.
WITH t AS (SELECT 1 AS id) SELECT * FROM t

-- xc_node_id with * where rows of several nodes are combined.
SELECT xc_node_id, * FROM t ORDER BY 1

SELECT * FROM (SELECT xc_node_id, id FROM t WHERE xc_node_id = 1) AS s

-- Bad INSERT column lists.
INSERT INTO t (id, nosuch) VALUES (1, 2)

INSERT INTO t (id) VALUES (1, 2)

INSERT INTO t (id, v) VALUES (1)

INSERT INTO t VALUES (1, 'a'), (2)

INSERT INTO t VALUES (1, 'a', 1, 'extra')
