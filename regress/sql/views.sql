-- Schemas, views and functions are created on every datanode.
CREATE SCHEMA vs;
CREATE TABLE vs.base (id int, grp int, amount numeric) DISTRIBUTE BY HASH (id);
INSERT INTO vs.base SELECT g, g % 3, g * 1.5 FROM generate_series(1, 30) g;
CREATE FUNCTION vs.double_it(x numeric) RETURNS numeric AS 'SELECT x * 2' LANGUAGE sql IMMUTABLE;
SELECT vs.double_it(amount) FROM vs.base WHERE id = 4;
SELECT grp, sum(amount), vs.double_it(sum(amount)) FROM vs.base GROUP BY grp ORDER BY grp;
CREATE VIEW vs.v_all AS SELECT grp, amount FROM vs.base;
CREATE VIEW vs.v_const AS SELECT 1 AS one;
SELECT * FROM vs.v_const;
SELECT count(*) FROM vs.v_all;
SET search_path = vs, public;
SELECT count(*) FROM base;
SELECT id FROM base WHERE id = 7;
RESET search_path;
DROP VIEW vs.v_all;
DROP SCHEMA vs CASCADE;
SELECT count(*) FROM pgxc_class;
