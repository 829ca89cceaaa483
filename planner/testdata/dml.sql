-- INSERT ... VALUES: rows routed at the coordinator.
INSERT INTO t VALUES (1, 'a', 1.5)

INSERT INTO t (id, v) VALUES (1, 'a'), (7, 'b'), (NULL, 'c')

INSERT INTO t (v, id) VALUES ('a', 1)

INSERT INTO t VALUES (DEFAULT, 'a', 1)

-- The distribution column is not given: its default is filled in.
INSERT INTO t (v, n) VALUES ('a', 1)

INSERT INTO t (v, n) VALUES ('a', 1), ('b', 2)

-- Without a column list the values name the first columns.
INSERT INTO t VALUES (1)

-- No distribution column given: its default decides the node.
INSERT INTO t DEFAULT VALUES

INSERT INTO t VALUES (1 + 1, 'x', NULL)

INSERT INTO t VALUES (1, 'a', 1) RETURNING *

INSERT INTO t AS x VALUES (1, 'a', 1) ON CONFLICT (id) DO UPDATE SET v = excluded.v

INSERT INTO m VALUES (3, 'c'), (4, 'd')

INSERT INTO m (b) VALUES ('c')

INSERT INTO tn VALUES (1.50, 'w')

INSERT INTO tc VALUES ('abc', 1)

INSERT INTO t3 VALUES (1, 'a')

INSERT INTO public.t VALUES (1, 'a', 1)

-- A value that reads a distributed table: the subquery must see the rows
-- of every node.
INSERT INTO t VALUES (1, (SELECT max(v) FROM t), 0)

INSERT INTO t VALUES ((SELECT max(id) + 1 FROM t), 'next', 0)

-- Replicated and round-robin targets.
INSERT INTO r VALUES (1, 'x')

INSERT INTO r VALUES (1, 'x'), (2, 'y')

INSERT INTO r VALUES (3, random()::text)

INSERT INTO r2 VALUES (1, 'x')

INSERT INTO rr VALUES (1, 'x'), (2, 'y'), (3, 'z')

INSERT INTO rr (y) VALUES ('only y')

-- INSERT ... SELECT: the rows come from a plan.
INSERT INTO t SELECT * FROM t3

INSERT INTO t (id, v) SELECT a, b FROM m WHERE a = 4

INSERT INTO t (id, v) SELECT a, b FROM m

INSERT INTO t SELECT * FROM t WHERE id = 5

INSERT INTO t (v) SELECT name FROM r

-- Fewer columns than the table: the last ones take their defaults.
INSERT INTO t SELECT a, b FROM m

INSERT INTO t SELECT 1, 'one', 1.0

INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2) ORDER BY 1 LIMIT 1

INSERT INTO r SELECT id, v FROM t

INSERT INTO r SELECT * FROM r2

INSERT INTO rr SELECT * FROM rr

INSERT INTO m SELECT id, v FROM t WHERE id IN (1, 7)

-- A varchar(5) target column: PostgreSQL's INSERT rejects a longer value
-- (22001), where an explicit cast to varchar(5) cuts it.
INSERT INTO tc SELECT 'abcdefgh', 1

INSERT INTO tc VALUES ('abcdefgh', 1)

-- A table outside the distribution catalog lives on the preferred node.
INSERT INTO localtab VALUES (1)

-- r is replicated: a copy is on the preferred node.
INSERT INTO localtab SELECT id FROM r

-- UPDATE and DELETE pinned to one node.
UPDATE t SET v = 'x' WHERE id = 5

UPDATE t AS x SET v = 'x' WHERE x.id = 7

UPDATE t SET n = n + 1 WHERE 5 = id RETURNING id, n

UPDATE t SET v = 'x' WHERE id IN (1, 2, 3)

UPDATE m SET b = 'x' WHERE a = 3

DELETE FROM t WHERE id = 5

DELETE FROM t WHERE id = 5 AND v = 'a'

DELETE FROM m WHERE a IN (2, 4)

DELETE FROM t3 WHERE v = 'a'

-- UPDATE and DELETE on every node.
UPDATE t SET v = 'x'

UPDATE t SET v = 'x' WHERE id IN (1, 7)

UPDATE t SET v = 'x' WHERE id = 5 OR id = 7

UPDATE t SET v = 'x' WHERE id = 5.5

DELETE FROM t

DELETE FROM t WHERE v = 'a'

UPDATE rr SET y = 'z' WHERE x = 1

DELETE FROM rr

UPDATE t SET v = 'x' WHERE xc_node_id = 1

DELETE FROM t WHERE id = 5 RETURNING xc_node_id, id

-- Reading other relations.
UPDATE t SET v = r.name FROM r WHERE r.id = t.id

DELETE FROM t USING r WHERE r.id = t.id AND r.name = 'gone'

UPDATE t SET v = (SELECT max(v) FROM t WHERE id = 5) WHERE id = 5

UPDATE t SET v = m.b FROM m WHERE t.id = m.a AND t.id = 4 AND m.a = 4

DELETE FROM t USING t3 WHERE t.id = t3.id AND t.id = 1

UPDATE t SET v = (SELECT relname FROM pg_class WHERE oid = 1259)

UPDATE t SET v = (SELECT node_name FROM pgxc_node WHERE node_id = xc_node_id)

-- Replicated targets: every copy.
UPDATE r SET name = 'x' WHERE id = 1

DELETE FROM r

DELETE FROM r WHERE id IN (SELECT id FROM r2)

UPDATE r2 SET name = 'x'

UPDATE r SET name = 'x' WHERE id IN (SELECT id FROM t3 WHERE id = 1)

-- Replicated targets with a value each copy computes itself: the copies
-- must stay identical.
UPDATE r SET name = random()::text

UPDATE r SET name = clock_timestamp()::text WHERE id = 1

DELETE FROM r WHERE id = (SELECT id FROM r ORDER BY random() LIMIT 1)

-- Tables outside the distribution catalog.
UPDATE localtab SET a = 1

DELETE FROM localtab USING r WHERE localtab.a = r.id
