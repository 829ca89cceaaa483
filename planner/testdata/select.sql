-- Point selects: the distribution column equals a constant.
SELECT * FROM t WHERE id = 5

SELECT v FROM t WHERE 5 = id

SELECT x.v FROM t AS x WHERE x.id = 5

SELECT t.v FROM t WHERE t.id = 5

SELECT * FROM t WHERE id = '5'

SELECT * FROM t WHERE id = 5::int8

SELECT * FROM t WHERE id = 5 AND v = 'a'

SELECT * FROM t WHERE v = 'a' AND (n > 1 AND id = 6)

SELECT * FROM t WHERE id IN (1, 2, 3)

SELECT * FROM t WHERE id IN (5, 5)

SELECT * FROM t WHERE id IN (1, 7)

SELECT * FROM m WHERE a = 7

SELECT * FROM m WHERE a IN (2, 4)

SELECT * FROM tn WHERE k = 5.0

SELECT * FROM tc WHERE code = 'ab'

SELECT * FROM t3

-- Not pinned: not a constant of the column's type, or not an AND term.
SELECT * FROM t WHERE id = 5.5

SELECT * FROM t WHERE id = $1

SELECT * FROM t WHERE id = 5 OR id = 6

SELECT * FROM t WHERE id = n

SELECT * FROM t WHERE id = abs(-5)

SELECT * FROM t WHERE id = 5::numeric

SELECT * FROM t WHERE id = NULL

SELECT * FROM t WHERE id IN (1, NULL)

SELECT * FROM t WHERE id NOT IN (1, 2)

SELECT * FROM t WHERE NOT (id = 5)

SELECT * FROM t WHERE id::text = '5'

SELECT * FROM t AS x WHERE t.id = 5

-- Plain scans: every node, rows concatenated.
SELECT * FROM t

SELECT id, v FROM t WHERE v LIKE 'a%'

SELECT * FROM ONLY t

SELECT * FROM rr

SELECT y FROM rr WHERE x = 5

SELECT * FROM m WHERE b = 'x'

-- xc_node_id: a constant per node.
SELECT xc_node_id, id FROM t

SELECT xc_node_id, * FROM t

SELECT id FROM t WHERE xc_node_id = 1

SELECT xc_node_id, count(*) FROM t GROUP BY xc_node_id

SELECT xc_node_id, count(*) FROM t GROUP BY 1 ORDER BY 1

SELECT xc_node_id, * FROM t GROUP BY xc_node_id, id

SELECT xc_node_id, v FROM t WHERE id = 5

-- Aggregates, grouping, ordering, limits, DISTINCT, windows.
SELECT count(*) FROM t

SELECT count(*) FROM t WHERE id = 5

SELECT count(*) FROM t WHERE id IN (1, 2, 3)

SELECT count(*) FROM t WHERE id IN (1, 7)

SELECT sum(n), avg(n), min(v), max(v) FROM t

SELECT v, count(*) FROM t GROUP BY v

SELECT v, count(*) FROM t GROUP BY v HAVING count(*) > 1

SELECT 1 FROM t HAVING true

SELECT * FROM t ORDER BY id

SELECT * FROM t ORDER BY id LIMIT 10

SELECT * FROM t LIMIT 10

SELECT * FROM t OFFSET 5

SELECT * FROM t FETCH FIRST 3 ROWS ONLY

SELECT DISTINCT v FROM t

SELECT DISTINCT ON (v) v, id FROM t ORDER BY v, id

SELECT id, row_number() OVER (ORDER BY id) FROM t

SELECT id, sum(n) OVER w FROM t WINDOW w AS (PARTITION BY v)

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM t

SELECT count(DISTINCT v) FROM t

SELECT string_agg(v, ',' ORDER BY id) FROM t

SELECT count(*) FILTER (WHERE n > 0) FROM t

SELECT v, count(*) FROM t GROUP BY ROLLUP (v)

SELECT id, (SELECT count(*) FROM r) FROM t

SELECT id, generate_series(1, 2) FROM t

-- Set operations.
SELECT id FROM t UNION SELECT a FROM m

SELECT id FROM t UNION ALL SELECT id FROM t

SELECT id FROM t WHERE id = 5 UNION ALL SELECT id FROM t WHERE id = 5

SELECT id FROM t INTERSECT SELECT id FROM r

SELECT id FROM t EXCEPT SELECT x FROM rr

-- Joins.
SELECT * FROM t JOIN m ON t.id = m.a

SELECT * FROM t JOIN m ON t.id = m.a WHERE t.id = 5 AND m.a = 5

SELECT * FROM t JOIN m ON t.id = m.a WHERE t.id = 4 AND m.a = 4

SELECT * FROM t JOIN t3 ON t.id = t3.id

SELECT * FROM t3 a JOIN t3 b ON a.id = b.id

SELECT * FROM t, m WHERE t.id = m.a AND t.v = 'x' AND m.b = 'y'

SELECT t.v, r.name FROM t JOIN r ON t.id = r.id

SELECT t.v, r.name FROM t JOIN r ON t.id = r.id WHERE t.id = 5

SELECT t.v, r.name FROM t LEFT JOIN r ON t.id = r.id

-- A replicated or non-table relation on the outer side of an outer join
-- with a distributed table. Every node holds all of r (and makes all of the
-- VALUES or function rows), so each node returns the rows it cannot match
-- itself: the unmatched rows must appear once, not once per node.
SELECT r.name, t.v FROM r LEFT JOIN t ON t.id = r.id

SELECT r.name, t.v FROM t RIGHT JOIN r ON t.id = r.id

SELECT r.name, t.v FROM r FULL JOIN t ON t.id = r.id

SELECT g, t.v FROM generate_series(1, 3) AS g LEFT JOIN t ON t.id = g

SELECT s.x, t.v FROM (VALUES (1), (2)) AS s(x) LEFT JOIN t ON t.id = s.x WHERE t.v IS NULL

-- A WHERE term on the nullable side of an outer join removes rows after
-- the join; run inside the scan of t it no longer removes the NULL-extended
-- rows.
SELECT count(*) FROM (VALUES (1), (2)) AS s(x) LEFT JOIN t ON t.id = s.x WHERE t.v IS NULL

SELECT count(*) FROM (VALUES (1), (2)) AS s(x) LEFT JOIN t ON t.id = s.x WHERE t.v = 'a'

SELECT r.name, t.v FROM r WHERE EXISTS (SELECT 1 FROM t WHERE t.id = r.id)

-- Subqueries: gathered and evaluated at one node; the WHERE terms of a
-- level whose only relation is a distributed table are run remotely.
SELECT * FROM (SELECT * FROM t WHERE v = 'a') AS s

SELECT count(*) FROM (SELECT id FROM t WHERE n > 1 AND v = 'a') AS s

SELECT * FROM t WHERE id IN (SELECT a FROM m WHERE b = 'x')

SELECT * FROM t WHERE v = 'a' AND id IN (SELECT a FROM m)

SELECT * FROM t WHERE n > (SELECT avg(n) FROM t)

SELECT * FROM r WHERE id IN (SELECT id FROM t WHERE v = 'a' AND id > now()::date - '2000-01-01'::date)

SELECT * FROM (SELECT * FROM t WHERE id = 5) AS s

SELECT * FROM (SELECT * FROM t WHERE id IN (1, 2, 3)) AS s

SELECT * FROM (SELECT * FROM t WHERE id IN (1, 7)) AS s

WITH c AS (SELECT * FROM t WHERE v = 'a') SELECT count(*) FROM c

WITH c AS (SELECT * FROM t WHERE id = 5) SELECT * FROM c

SELECT * FROM (SELECT xc_node_id, id FROM t WHERE xc_node_id = 1) AS s

-- $1 is the client's parameter, not a gathered column.
SELECT * FROM (SELECT * FROM t WHERE id = $1) AS s

SELECT * FROM (SELECT * FROM t WHERE length(v) > 3) AS s

SELECT * FROM t WHERE EXISTS (SELECT 1 FROM m WHERE m.a = t.id AND m.b = 'x')

-- No table, replicated tables only, local tables: one node.
SELECT 1

SELECT now(), current_user

SELECT * FROM r

SELECT count(*) FROM r GROUP BY name ORDER BY 1

SELECT * FROM r a JOIN r b ON a.id = b.id

SELECT xc_node_id, * FROM r

SELECT * FROM pg_class WHERE relname = 't'

SELECT * FROM localtab

-- Catalog views answered by the coordinator.
SELECT node_name, node_type, nodeis_primary, nodeis_preferred FROM pgxc_node ORDER BY 1

SELECT * FROM pg_catalog.pgxc_node n WHERE n.node_type = 'D'

SELECT * FROM pgxc_group

SELECT node_name, pid, session_id FROM pgxc_stat_activity WHERE state IS NOT NULL ORDER BY node_name

SELECT * FROM pgxc_class

SELECT count(*) FROM pgxc_node n JOIN t ON t.id = n.node_port

SELECT s.id FROM (SELECT xc_node_id AS nid, id FROM t WHERE xc_node_id = 1) AS s

SELECT * FROM t3 JOIN r2 ON t3.id = r2.id

SELECT * FROM r JOIN r2 ON r.id = r2.id

-- Outer joins and USING with a pinned distribution column.
SELECT * FROM r LEFT JOIN t ON t.id = r.id WHERE t.id = 5

SELECT * FROM r LEFT JOIN t USING (id) WHERE id = 5

SELECT * FROM r FULL JOIN t USING (id) WHERE id = 5

SELECT * FROM r LEFT JOIN t ON t.id = r.id AND t.id = 5

SELECT n.node_name, t.v FROM pgxc_node n LEFT JOIN t ON t.id = n.node_port WHERE t.v IS NULL

-- TABLESAMPLE: each datanode samples its own rows, wherever the plan reads them.
SELECT * FROM t TABLESAMPLE SYSTEM (10)

SELECT count(*) FROM t TABLESAMPLE BERNOULLI (10) REPEATABLE (1)

SELECT t.v, m.b FROM t TABLESAMPLE SYSTEM (10) JOIN m ON m.b = t.v WHERE t.id > 3

SELECT t.v, count(*) FROM t TABLESAMPLE SYSTEM (5) GROUP BY t.v

-- Co-located joins (same locator, equality of the distribution columns):
-- each node joins its own rows, one remote query per node.
SELECT t.v, tco.w FROM t JOIN tco ON t.id = tco.id

SELECT * FROM t JOIN tco USING (id)

SELECT t.v, x.w FROM t, tco x WHERE x.id = t.id AND t.v = 'a'

SELECT t.v, tco.w FROM t LEFT JOIN tco ON t.id = tco.id

SELECT t.v, tco.w FROM t JOIN tco ON t.id = tco.id WHERE t.id = 5

SELECT a.v, b.v FROM t a JOIN t b ON a.id = b.id

-- Not co-located: the rows meet at the coordinator.
SELECT t.v, tco.w FROM t JOIN tco ON t.v = tco.w

SELECT t.v, t3.v FROM t JOIN t3 ON t.id = t3.id

SELECT t.v, m.b FROM t JOIN m ON t.id = m.a

SELECT t.v, tn.w FROM t JOIN tn ON t.id = tn.k

SELECT t.v, tco.w FROM t JOIN tco ON t.id = tco.id + 1

SELECT count(*) FROM t JOIN tco ON t.id = tco.id

SELECT t.v, tco.w FROM t JOIN tco ON t.id = tco.id ORDER BY t.v LIMIT 3

SELECT r.name, t.v FROM r LEFT JOIN t ON r.id = t.id LEFT JOIN tco ON t.id = tco.id

SELECT * FROM t WHERE id IN (SELECT id FROM tco)

-- A LIMIT inside a subquery, volatile functions and DISTINCT aggregates are
-- not pushed below the merge.
SELECT * FROM (SELECT * FROM t LIMIT 5) s

SELECT count(DISTINCT v) FROM t

SELECT * FROM t WHERE random() < 0.5

-- ORDER BY ... LIMIT over one table: each node sends only its first rows;
-- the coordinator orders and limits again.
SELECT id, v FROM t WHERE n > 1 ORDER BY v DESC, id LIMIT 5 OFFSET 2

SELECT id, upper(v) AS u FROM t ORDER BY u LIMIT 3

SELECT id, v FROM t ORDER BY 2 LIMIT 3

-- Not when a WHERE term stays at the coordinator, or rows are merged first.
SELECT id FROM t WHERE id IN (SELECT x FROM rr) ORDER BY id LIMIT 3

SELECT v, count(*) FROM t GROUP BY v ORDER BY v LIMIT 3

SELECT DISTINCT v FROM t ORDER BY v LIMIT 3

SELECT id, upper(v) AS v FROM t ORDER BY v LIMIT 3

-- Groups keyed by the distribution column never span nodes: each node
-- aggregates its own groups.
SELECT id, count(*), sum(n) FROM t GROUP BY id

SELECT t.id, count(tco.w) FROM t JOIN tco ON t.id = tco.id GROUP BY t.id HAVING count(*) > 1

SELECT xc_node_id, count(*) FROM t GROUP BY xc_node_id

-- ... but not when they are ordered or limited across nodes.
SELECT id, count(*) FROM t GROUP BY id ORDER BY 2 DESC LIMIT 3

SELECT v, count(*) FROM t GROUP BY v

-- Terms on one table of a join filter its rows on the datanodes, and an
-- equality carries a term to the other table.
SELECT t.v, tco.w FROM t JOIN tco ON tco.id = t.id WHERE t.id BETWEEN 10 AND 20 ORDER BY t.v LIMIT 5

SELECT t.v, m.b FROM t, m WHERE m.a = t.id AND m.a < 5 AND t.v = 'x'

SELECT t.v, tco.w FROM t LEFT JOIN tco ON tco.id = t.id WHERE tco.w = 'x' ORDER BY 1

-- Partial aggregation also groups by expressions of the table's columns.
SELECT id % 10, count(*), sum(n) FROM t GROUP BY 1 ORDER BY 1

SELECT upper(v) AS u, max(n) FROM t GROUP BY upper(v) HAVING count(*) > 1

-- Coordinator primitives: each node sends its rows ordered (with binary
-- copies of the keys), the coordinator merges the streams and re-applies
-- DISTINCT and the limit.
SELECT * FROM t ORDER BY id

SELECT id, v FROM t WHERE n > 1 ORDER BY 2, 1 DESC NULLS LAST LIMIT 3 OFFSET 2

SELECT DISTINCT ON (v) v, id FROM t ORDER BY v, id DESC

SELECT v FROM t LIMIT 3

-- Not merged at the coordinator: a key it cannot compare (an expression,
-- a collation that is not bytewise).
SELECT * FROM t ORDER BY lower(v) LIMIT 2

-- Joins of tables that are not co-located: a hash join at the coordinator
-- above one remote scan per table.
SELECT t.v, m.b FROM t JOIN m ON t.id = m.a

SELECT * FROM t LEFT JOIN rr ON t.id = rr.x WHERE t.n > 0 ORDER BY t.id, rr.y LIMIT 5

SELECT t.v, tn.w FROM t, tn WHERE t.id = tn.k AND tn.w = 'x'

SELECT DISTINCT m.b FROM t RIGHT JOIN m ON m.a = t.id AND t.v = 'x'

SELECT t.id, rr.x FROM t FULL JOIN rr ON t.id = rr.x

SELECT t.id, rr.y FROM t, rr WHERE rr.x < 3

-- ... but gathered when the coordinator cannot: a condition over both
-- tables other than key equality, an expression over the NULL-extended
-- side, a WHERE term over it.
SELECT * FROM t JOIN m ON t.id < m.a

SELECT coalesce(rr.y, 'none') FROM t LEFT JOIN rr ON t.id = rr.x

SELECT t.id FROM t LEFT JOIN rr ON t.id = rr.x WHERE rr.x IS NULL

-- Final aggregation at the coordinator over the nodes' partial groups.
SELECT v, count(*), sum(id), min(n), max(v) AS top FROM t GROUP BY v ORDER BY v LIMIT 10

SELECT count(*), sum(n), bool_and(n > 0) FROM t

SELECT count(*), bool_and(v = 'x') FROM t WHERE id > 3

-- Ranking windows at the coordinator: the nodes send rows ordered by the
-- partition and the window's order; the coordinator merges and numbers.
SELECT id, v, row_number() OVER (PARTITION BY v ORDER BY id DESC) FROM t

SELECT *, rank() OVER (ORDER BY n), dense_rank() OVER (ORDER BY n) AS d FROM t ORDER BY id LIMIT 5

-- ... not for other window functions, or windows over expressions.
SELECT id, sum(n) OVER (ORDER BY id) FROM t

SELECT id, row_number() OVER (ORDER BY lower(v)) FROM t

-- Aggregates over a join of tables that are not co-located: the joined
-- rows are grouped at the coordinator.
SELECT rr.y, count(*), count(t.v), sum(t.id), max(t.n) FROM t JOIN rr ON rr.x = t.id WHERE t.id > 10 GROUP BY rr.y ORDER BY rr.y LIMIT 5

SELECT count(*), min(m.b) FROM t LEFT JOIN m ON t.id = m.a

-- HAVING on counts and sums: a Filter above the final aggregation.
SELECT v, count(*) FROM t GROUP BY v HAVING count(*) > 1 AND 100 >= sum(n) ORDER BY v

-- ... other HAVING conditions are evaluated at a PostgreSQL.
SELECT v, count(*) FROM t GROUP BY v HAVING max(n) > 1

-- Uncorrelated subqueries in WHERE: an init-plan whose value replaces the
-- subquery before the statement is planned.
SELECT * FROM t WHERE n > (SELECT avg(b::numeric) FROM m)

SELECT v FROM t WHERE id IN (SELECT x FROM rr WHERE y = 'a') ORDER BY v

SELECT v FROM t WHERE id NOT IN (SELECT a FROM m) AND n > 0

SELECT * FROM tco WHERE w = (SELECT max(v) FROM t)

-- A scalar compared with the distribution column, of its type: the
-- statement is planned for one node, the value's, found when it runs.
SELECT count(*) FROM t WHERE id = (SELECT max(a) FROM m)

SELECT v FROM t WHERE id = (SELECT min(x) FROM rr WHERE y = 'a') ORDER BY v

-- ... not of another type's value: every node.
SELECT count(*) FROM t WHERE id = (SELECT max(k) FROM tn)

-- An IN's values: the nodes of the values, when the statement runs on
-- each node alone.
SELECT v FROM t WHERE id IN (SELECT a FROM m) AND v <> 'z'

-- A second subquery stays in the statement.
SELECT v FROM t WHERE id IN (SELECT a FROM m) AND n > (SELECT max(k) FROM tn)

-- ... not correlated ones.
SELECT v FROM t WHERE id IN (SELECT x FROM rr WHERE rr.y = t.v)

-- Co-located joins that must be ordered or limited: each node joins,
-- orders and limits its rows; the coordinator merges.
SELECT t.id, tco.w, r.name FROM t JOIN tco ON t.id = tco.id JOIN r ON r.id = t.id ORDER BY tco.w DESC, t.id LIMIT 4

SELECT DISTINCT tco.w FROM t JOIN tco ON t.id = tco.id ORDER BY tco.w
