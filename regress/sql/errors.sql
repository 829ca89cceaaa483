-- Bad input gets PostgreSQL's error and the session goes on.
SELEC 1;
SELECT * FROM no_such_table;
CREATE TABLE err_t (id int, v text) DISTRIBUTE BY HASH (id);
INSERT INTO err_t VALUES ('not a number', 'x');
INSERT INTO err_t VALUES (1, 'a', 'too many');
INSERT INTO err_t (nosuch) VALUES (1);
SELECT nosuch FROM err_t;
SELECT 1/0;
SELECT id FROM err_t WHERE id = 1/0;
UPDATE err_t SET id = 2;
COPY err_t FROM '/etc/passwd';
DO $$ BEGIN RAISE NOTICE 'x'; END $$;
SELECT 'still here' AS ok;
DROP TABLE err_t;
