-- Uncorrelated subqueries in WHERE: the subquery runs first, then the
-- statement, planned once, with its value as a parameter: on the value's
-- node, or the values' nodes, when it compares the distribution column.
CREATE TABLE sp (id int PRIMARY KEY, k int, v text, n numeric) DISTRIBUTE BY HASH (id);
CREATE TABLE spk (k int, id int, big int8, v text) DISTRIBUTE BY HASH (k);
INSERT INTO sp SELECT g, g % 10, 'v' || g, g / 4.0 FROM generate_series(1, 2000) g;
INSERT INTO spk SELECT g % 50, g, g, 'v' || g FROM generate_series(1, 1500) g;
INSERT INTO spk VALUES (99, NULL, NULL, NULL);
-- One node, the value's.
EXPLAIN (COSTS OFF) SELECT count(*) FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = 3);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = 3);
SELECT count(*), min(v) FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = 3);
SELECT v FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = 4);
-- No row is NULL; so is a NULL.
SELECT count(*) FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = 1000);
SELECT * FROM sp WHERE id = (SELECT id FROM spk WHERE k = 1000);
SELECT count(*) FROM sp WHERE id = (SELECT id FROM spk WHERE k = 99);
-- Two rows are an error.
SELECT * FROM sp WHERE id = (SELECT id FROM spk WHERE k = 3);
-- IN: the values' nodes; NULLs in the list.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM sp WHERE id IN (SELECT id FROM spk WHERE k = 3 AND id < 200);
SELECT v FROM sp WHERE id IN (SELECT id FROM spk WHERE k = 3 AND id < 200) ORDER BY v;
SELECT count(*) FROM sp WHERE id IN (SELECT id FROM spk WHERE k IN (3, 99));
SELECT count(*) FROM sp WHERE NOT (id IN (SELECT id FROM spk WHERE k IN (3, 99)));
SELECT count(*) FROM sp WHERE NOT (id IN (SELECT id FROM spk WHERE k = 3));
SELECT count(*) FROM sp WHERE id IN (SELECT id FROM spk WHERE k = 1000);
-- More than 1000 values.
SELECT count(*), sum(id) FROM sp WHERE id IN (SELECT id FROM spk WHERE id > 100);
-- int8, text, numeric.
SELECT count(*) FROM sp WHERE id = (SELECT max(big) FROM spk);
SELECT count(*) FROM sp WHERE id = (SELECT max(big) * 10000000000 FROM spk);
SELECT count(*) FROM sp WHERE id IN (SELECT big FROM spk WHERE big < 30);
SELECT count(*) FROM sp WHERE v IN (SELECT v FROM spk WHERE k = 7);
SELECT id FROM sp WHERE n = (SELECT max(n) FROM sp WHERE id < 10);
-- An enum and a domain.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE moods (id int, m mood, p posint) DISTRIBUTE BY HASH (id);
CREATE TABLE moodk (k int, m mood, p posint) DISTRIBUTE BY HASH (k);
INSERT INTO moods SELECT g, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, g FROM generate_series(1, 30) g;
INSERT INTO moodk VALUES (1, 'happy', 4), (2, 'ok', 5), (3, NULL, NULL);
SELECT count(*) FROM moods WHERE m = (SELECT m FROM moodk WHERE k = 1);
SELECT count(*) FROM moods WHERE m IN (SELECT m FROM moodk);
SELECT id FROM moods WHERE p = (SELECT max(p) FROM moodk);
SELECT id FROM moods WHERE id IN (SELECT p FROM moodk) ORDER BY id;
SELECT id FROM moods WHERE m > (SELECT min(m) FROM moodk) ORDER BY id LIMIT 3;
DROP TABLE sp, spk, moods, moodk;
DROP DOMAIN posint;
DROP TYPE mood;
