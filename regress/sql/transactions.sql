-- Transactions span every datanode they touch; multi-node writes commit
-- with two-phase commit and leave nothing prepared behind.
CREATE TABLE acct (id int PRIMARY KEY, balance int) DISTRIBUTE BY HASH (id);
INSERT INTO acct SELECT g, 100 FROM generate_series(1, 20) g;
SELECT count(DISTINCT xc_node_id) FROM acct;
BEGIN;
UPDATE acct SET balance = balance - 10 WHERE id = 1;
UPDATE acct SET balance = balance + 10 WHERE id = 2;
SELECT sum(balance) FROM acct;
COMMIT;
SELECT id, balance FROM acct WHERE id IN (1, 2) ORDER BY id;
SELECT sum(balance) FROM acct;
-- ROLLBACK undoes every node
BEGIN;
UPDATE acct SET balance = 0;
SELECT sum(balance) FROM acct;
ROLLBACK;
SELECT sum(balance) FROM acct;
-- an error aborts the block until ROLLBACK, as in PostgreSQL
BEGIN;
UPDATE acct SET balance = balance + 1 WHERE id = 3;
INSERT INTO acct VALUES (3, 0);
SELECT 1;
COMMIT;
SELECT balance FROM acct WHERE id = 3;
-- a statement writing on several nodes is atomic: a failing row undoes all
INSERT INTO acct VALUES (100, 1), (101, 1), (102, 1), (1, 1);
SELECT count(*) FROM acct WHERE id >= 100;
UPDATE acct SET balance = balance / (id - 20) WHERE id > 15;
SELECT sum(balance) FROM acct;
-- several statements in one message are one transaction
INSERT INTO acct VALUES (200, 5)\; INSERT INTO acct VALUES (201, 5)\; INSERT INTO acct VALUES (200, 5);
SELECT count(*) FROM acct WHERE id >= 200;
-- no prepared transaction is left on any node
EXECUTE DIRECT ON (datanode1) 'SELECT count(*) FROM pg_prepared_xacts';
EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM pg_prepared_xacts';
-- isolation levels
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT sum(balance) FROM acct;
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SET default_transaction_isolation = 'serializable';
-- savepoints span the nodes, also those a transaction reaches after them
BEGIN;
INSERT INTO acct VALUES (300, 1);
SAVEPOINT s1;
INSERT INTO acct VALUES (301, 1), (302, 1), (304, 1), (305, 1);
SELECT count(*) FROM acct WHERE id >= 300;
ROLLBACK TO s1;
INSERT INTO acct VALUES (303, 1);
SAVEPOINT s2;
INSERT INTO acct VALUES (300, 5);
SELECT 1;
ROLLBACK TO SAVEPOINT s2;
RELEASE s2;
RELEASE s2;
ROLLBACK TO s1;
INSERT INTO acct VALUES (306, 1);
COMMIT;
SELECT id FROM acct WHERE id >= 300 ORDER BY id;
SAVEPOINT outside;
DELETE FROM acct WHERE id >= 300;
PREPARE TRANSACTION 'mine';
COMMIT;
ROLLBACK;
-- DDL inside a transaction is undone with it, catalog included
BEGIN;
CREATE TABLE tx_tmp (a int) DISTRIBUTE BY HASH (a);
INSERT INTO tx_tmp VALUES (1), (2), (3);
SELECT count(*) FROM tx_tmp;
ROLLBACK;
SELECT count(*) FROM pgxc_class WHERE pcrelid::regclass::text = 'tx_tmp';
SELECT * FROM tx_tmp;
DROP TABLE acct;
