-- CREATE and DROP DATABASE run on every datanode.
CREATE DATABASE regress_db2;
\c regress_db2
CREATE TABLE in_db2 (id int, v text);
INSERT INTO in_db2 SELECT g, 'x' FROM generate_series(1, 10) g;
SELECT count(*), count(DISTINCT xc_node_id) FROM in_db2;
SELECT current_database();
\c regression
DROP DATABASE regress_db2;
CREATE DATABASE regression;
BEGIN;
CREATE DATABASE regress_db3;
ROLLBACK;
