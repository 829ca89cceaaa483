-- The differential corpus: SELECT statements separated by ';' (a statement may
-- span lines). A line "-- section: NAME" names the construct of the statements
-- that follow; other comment lines are ignored. Every query must be
-- deterministic in PostgreSQL itself: a LIMIT needs an ORDER BY that orders
-- totally, array_agg/string_agg an ORDER BY inside, floating-point aggregates
-- a round or a cast to numeric.

-- section: point lookup
SELECT * FROM customers WHERE cust_id = 42;
SELECT name, city, score FROM customers WHERE cust_id = 3;
SELECT * FROM customers WHERE cust_id IS NULL;
SELECT order_id, amount FROM orders WHERE cust_id = 7 AND order_id < 200;
SELECT count(*) FROM orders WHERE cust_id = 7;
SELECT * FROM orders WHERE cust_id IN (1, 2, 3);
SELECT * FROM products WHERE sku = 'SKU-0042';
SELECT name, price FROM products WHERE sku IN ('SKU-0001', 'SKU-0399', 'SKU-9999');
SELECT sensor, reading FROM measures WHERE m = 3;
SELECT sensor, reading FROM measures WHERE m = 3.000;
SELECT count(*) FROM measures WHERE m = 12.5;
SELECT * FROM events WHERE event_id = -5;
SELECT * FROM events WHERE event_id = 100;
SELECT * FROM events WHERE event_id IS NULL;
SELECT * FROM pinned WHERE id = 10;
SELECT * FROM regions WHERE region_id = 4;
SELECT * FROM logs WHERE line = 17;
SELECT cust_id, name FROM customers WHERE cust_id = 1 OR cust_id = 2;
SELECT * FROM products WHERE sku = 'nope';
SELECT * FROM customers WHERE cust_id = 42 AND vip;
SELECT order_id FROM orders WHERE cust_id = 7 ORDER BY order_id DESC LIMIT 5;

-- section: scan and filter
SELECT * FROM regions;
SELECT * FROM pinned;
SELECT * FROM products;
SELECT * FROM events;
SELECT * FROM logs;
SELECT * FROM measures;
SELECT cust_id, name FROM customers WHERE city = 'Paris';
SELECT cust_id FROM customers WHERE city IS NULL;
SELECT order_id FROM orders WHERE amount > 900;
SELECT order_id FROM orders WHERE amount IS NULL OR qty = 9;
SELECT order_id, status FROM orders WHERE status IN ('new', 'Cancelled') AND paid;
SELECT order_id FROM orders WHERE paid IS NOT TRUE AND cust_id < 20;
SELECT sku, name FROM products WHERE name ILIKE 'g%';
SELECT sku FROM products WHERE name LIKE '%1_';
SELECT cust_id FROM customers WHERE name ~ '^[A-Z]';
SELECT cust_id, name FROM customers WHERE name_c < 'B';
SELECT cust_id, name FROM customers WHERE name_icu < 'B';
SELECT order_id FROM orders WHERE ordered_at BETWEEN '2023-03-01' AND '2023-03-05';
SELECT order_id FROM orders WHERE shipped_at >= '2023-06-01 00:00+00' AND shipped_at < '2023-06-03 00:00+00';
SELECT event_id FROM events WHERE day = date '2024-04-10';
SELECT event_id FROM events WHERE payload->>'v' = '3' AND ok;
SELECT event_id FROM events WHERE payload @> '{"v": 7}';
SELECT cust_id FROM customers WHERE profile->>'lang' = 'fr' AND (profile->>'age')::int > 70;
SELECT cust_id FROM customers WHERE tags @> ARRAY['red'];
SELECT cust_id FROM customers WHERE 'x' = ANY (tags);
SELECT order_id FROM orders WHERE 9 = ALL (items);
SELECT order_id FROM orders WHERE items[1] = 3 AND items[2] = 3;
SELECT cust_id FROM customers WHERE cardinality(tags) = 0;
SELECT line FROM logs WHERE 'w2' = ANY (words) AND level = 'ERROR';
SELECT sku FROM products WHERE attrs->>'color' IS NULL;
SELECT sku FROM products WHERE attrs->'dims'->>0 = '2' AND in_stock;
SELECT order_id FROM orders WHERE fval > 12.0;
SELECT m, sensor FROM measures WHERE m BETWEEN 1 AND 2;
SELECT note FROM measures WHERE note LIKE 'n1%' AND sensor = 4;
SELECT line FROM logs WHERE dur > interval '1 hour 45 minutes';
SELECT * FROM customers WHERE score < -190;
SELECT * FROM customers WHERE created > '2023-12-01';
SELECT cust_id FROM customers WHERE NOT vip;
SELECT cust_id FROM customers WHERE vip IS UNKNOWN;
SELECT order_id FROM orders WHERE meta->>'src' = 'phone' AND (meta->>'n')::int = 5;
SELECT event_id FROM events WHERE kind = 'Click' AND codes[1] = 'c2';
SELECT order_id FROM orders WHERE cust_id NOT IN (1, 2, 3, 7) AND order_id < 60;
SELECT order_id, amount * qty AS total FROM orders WHERE order_id % 97 = 1;

-- section: projection and expressions
SELECT cust_id, upper(name), length(name), coalesce(city, '?') FROM customers;
SELECT order_id, amount::text || ' EUR', round(amount * 1.19, 2) FROM orders WHERE order_id <= 300;
SELECT sku, price, CASE WHEN price > 300 THEN 'high' WHEN price > 100 THEN 'mid' ELSE 'low' END FROM products;
SELECT order_id, date_trunc('month', ordered_at), extract(dow FROM ordered_at) FROM orders WHERE order_id < 500;
SELECT event_id, at AT TIME ZONE 'America/New_York', to_char(at, 'YYYY-MM-DD HH24:MI') FROM events;
SELECT event_id, payload->'tags', jsonb_typeof(payload->'price') FROM events WHERE event_id < 100;
SELECT cust_id, profile - 'kids', jsonb_set(profile, '{age}', '0') FROM customers WHERE cust_id < 50;
SELECT order_id, array_length(items, 1), items || 99, array_to_string(items, '-') FROM orders WHERE order_id < 100;
SELECT order_id, meta, meta->'src' FROM orders WHERE order_id < 120;
SELECT line, dur, dur * 2, justify_interval(dur * 100) FROM logs;
SELECT m, m * 2, m::numeric(10,2), trunc(m), sensor FROM measures;
SELECT sku, weight, weight * 2.5, weight::numeric FROM products;
SELECT cust_id, created + 30, created - date '2020-01-01', age(date '2025-01-01', created) FROM customers;
SELECT order_id, shipped_at - ordered_at::timestamptz FROM orders WHERE shipped_at IS NOT NULL AND order_id < 400;
SELECT cust_id, name || ' of ' || coalesce(city, 'nowhere'), nullif(region_id, 5) FROM customers;
SELECT sku, greatest(price, 100), least(price, 100) FROM products;
SELECT cust_id, md5(coalesce(name, '')), left(name_c, 3), reverse(name_icu) FROM customers;
SELECT order_id, fval, fval::text, (fval / 3)::numeric(20,6) FROM orders WHERE order_id < 200;
SELECT region_id, region, upper(region), lower(country), rate * 100 FROM regions;
SELECT 1 AS one, 'two', 3.0, NULL::int, true;
SELECT now() IS NOT NULL, current_date > '2020-01-01';

-- section: aggregate
SELECT count(*), count(city), count(DISTINCT city) FROM customers;
SELECT sum(amount), avg(amount), min(amount), max(amount) FROM orders;
SELECT sum(qty), avg(qty), min(ordered_at), max(shipped_at) FROM orders;
SELECT bool_and(paid), bool_or(paid), every(qty > 0) FROM orders;
SELECT string_agg(region, ', ' ORDER BY region) FROM regions;
SELECT string_agg(DISTINCT status, '|' ORDER BY status) FROM orders;
SELECT array_agg(region_id ORDER BY region_id DESC) FROM regions;
SELECT array_agg(order_id ORDER BY order_id) FROM orders WHERE cust_id = 3;
SELECT count(DISTINCT cust_id), count(DISTINCT sku), count(DISTINCT (cust_id, sku)) FROM orders;
SELECT stddev(amount), variance(amount), stddev_pop(amount), var_pop(amount) FROM orders;
SELECT stddev_samp(qty), var_samp(qty) FROM orders;
SELECT round(stddev(fval)::numeric, 6), round(variance(weight)::numeric, 6) FROM orders, (SELECT 1.0::float8 AS weight) w;
SELECT round(avg(fval)::numeric, 8), sum(fval) FROM orders;
SELECT sum(weight), avg(weight), max(weight) FROM products;
SELECT min(name), max(name), min(name_c), max(name_c), min(name_icu), max(name_icu) FROM customers;
SELECT min(label), max(label) FROM products;
SELECT min(created), max(created), min(score), max(score), sum(score) FROM customers;
SELECT count(*) FILTER (WHERE vip), count(*) FILTER (WHERE vip IS NULL), sum(score) FILTER (WHERE city = 'Paris') FROM customers;
SELECT sum(m), avg(m), min(m)::numeric(10,3), max(m)::numeric(10,3), count(m) FROM measures;
SELECT count(*), min(event_id), max(event_id), sum(event_id) FROM events;
SELECT count(*), sum(amount), avg(amount) FROM pinned;
SELECT jsonb_agg(region ORDER BY region_id) FROM regions;
SELECT json_object_agg(region_id, rate ORDER BY region_id) FROM regions;
SELECT max(dur), min(dur), sum(dur), avg(dur) FROM logs;
SELECT count(*) FROM orders WHERE false;
SELECT sum(amount), max(order_id) FROM orders WHERE order_id < 0;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), percentile_disc(0.9) WITHIN GROUP (ORDER BY qty) FROM orders;
SELECT mode() WITHIN GROUP (ORDER BY status) FROM orders;
SELECT bit_and(qty), bit_or(qty) FROM orders;
SELECT count(*) + 1, sum(qty) * 2, max(amount) - min(amount) FROM orders;
SELECT corr(qty, amount)::numeric(20,10) IS NOT NULL, regr_count(qty, amount) FROM orders;

-- section: group by
SELECT status, count(*), sum(amount) FROM orders GROUP BY status;
SELECT cust_id, count(*), sum(amount), avg(qty) FROM orders GROUP BY cust_id;
SELECT sku, count(*) FROM orders GROUP BY sku;
SELECT city, count(*), string_agg(name, ';' ORDER BY name, cust_id) FROM customers GROUP BY city;
SELECT region_id, vip, count(*), bool_or(vip) FROM customers GROUP BY region_id, vip;
SELECT category, count(*), avg(price), max(weight) FROM products GROUP BY category;
SELECT kind, ok, count(*), min(at), max(day) FROM events GROUP BY kind, ok;
SELECT level, count(*), count(DISTINCT line), min(msg) FROM logs GROUP BY level;
SELECT sensor, count(*), sum(reading), avg(m) FROM measures GROUP BY sensor;
SELECT m::numeric(10,3) AS mm, count(*) FROM measures GROUP BY mm;
SELECT date_trunc('month', ordered_at) AS month, count(*), sum(amount) FROM orders GROUP BY 1;
SELECT extract(year FROM created) AS y, count(*) FROM customers GROUP BY y;
SELECT paid, count(*), count(DISTINCT cust_id), count(DISTINCT status) FROM orders GROUP BY paid;
SELECT cust_id % 10 AS bucket, array_agg(DISTINCT status ORDER BY status) FROM orders GROUP BY 1;
SELECT name_c, count(*) FROM customers GROUP BY name_c;
SELECT name_icu, count(*) FROM customers GROUP BY name_icu;
SELECT profile->>'lang' AS lang, count(*), avg((profile->>'age')::int) FROM customers GROUP BY 1;
SELECT payload->>'v', count(*) FROM events GROUP BY payload->>'v';
SELECT tags, count(*) FROM customers GROUP BY tags;
SELECT items[1], count(*), sum(qty) FROM orders GROUP BY items[1];
SELECT day, count(*) FROM events GROUP BY day;
SELECT status, stddev(amount), variance(qty) FROM orders GROUP BY status;
SELECT v, count(*), sum(amount) FROM pinned GROUP BY v;
SELECT country, count(*), sum(rate) FROM regions GROUP BY country;
SELECT cust_id, min(order_id), max(order_id) FROM orders WHERE cust_id < 30 GROUP BY cust_id;
SELECT status, paid, count(*) FROM orders GROUP BY status, paid;
SELECT qty, count(*) FROM orders GROUP BY qty;
SELECT attrs->>'color', count(*), sum(price) FROM products GROUP BY 1;
SELECT words, count(*) FROM logs GROUP BY words;
SELECT ship_day, count(*) FROM orders GROUP BY ship_day;
SELECT count(*) FROM (SELECT cust_id FROM orders GROUP BY cust_id) s;

-- section: having
SELECT cust_id, count(*) FROM orders GROUP BY cust_id HAVING count(*) > 10;
SELECT status, sum(amount) FROM orders GROUP BY status HAVING sum(amount) > 100000;
SELECT city, count(*) FROM customers GROUP BY city HAVING count(*) BETWEEN 80 AND 90;
SELECT sku, count(*) FROM orders GROUP BY sku HAVING count(*) = 1;
SELECT category, avg(price) FROM products GROUP BY category HAVING avg(price) > 250 OR category IS NULL;
SELECT kind, count(*) FROM events GROUP BY kind HAVING bool_and(ok) = false;
SELECT sensor FROM measures GROUP BY sensor HAVING max(reading) > 332;
SELECT level FROM logs GROUP BY level HAVING count(DISTINCT line) = 100;
SELECT count(*) FROM orders HAVING count(*) > 0;
SELECT cust_id, sum(qty) FROM orders GROUP BY cust_id HAVING sum(qty) > 40 AND cust_id IS NOT NULL;

-- section: grouping sets
SELECT status, paid, count(*) FROM orders GROUP BY GROUPING SETS ((status), (paid), ());
SELECT status, paid, count(*), grouping(status, paid) FROM orders GROUP BY ROLLUP (status, paid);
SELECT status, paid, sum(amount) FROM orders GROUP BY CUBE (status, paid);
SELECT city, vip, count(*) FROM customers GROUP BY ROLLUP (city, vip);
SELECT category, in_stock, count(*), avg(price) FROM products GROUP BY CUBE (category, in_stock);
SELECT kind, ok, count(*) FROM events GROUP BY GROUPING SETS ((kind, ok), (kind), ());
SELECT level, count(*) FROM logs GROUP BY ROLLUP (level);
SELECT country, region, sum(rate) FROM regions GROUP BY ROLLUP (country, region);
SELECT status, qty, count(*) FROM orders GROUP BY GROUPING SETS ((status), (qty)) HAVING count(*) > 400;
SELECT status, paid, count(*) FROM orders GROUP BY ROLLUP (status, paid) ORDER BY status NULLS FIRST, paid NULLS FIRST;

-- section: order by
SELECT region_id, region FROM regions ORDER BY region;
SELECT region_id, region FROM regions ORDER BY region COLLATE "C";
SELECT region_id, region FROM regions ORDER BY region COLLATE "en-x-icu", region_id;
SELECT cust_id, name FROM customers ORDER BY name, cust_id;
SELECT cust_id, name FROM customers ORDER BY name NULLS FIRST, cust_id;
SELECT cust_id, name FROM customers ORDER BY name DESC NULLS LAST, cust_id DESC;
SELECT cust_id, name_c FROM customers ORDER BY name_c, cust_id NULLS LAST;
SELECT cust_id, name_icu FROM customers ORDER BY name_icu, cust_id NULLS LAST;
SELECT cust_id, name FROM customers ORDER BY name COLLATE "en-x-icu", cust_id NULLS LAST;
SELECT cust_id, name FROM customers ORDER BY name COLLATE "C" DESC, cust_id NULLS FIRST;
SELECT sku, label FROM products ORDER BY label;
SELECT sku, label FROM products ORDER BY label COLLATE "en-x-icu";
SELECT order_id, amount FROM orders ORDER BY amount DESC NULLS LAST, order_id;
SELECT order_id, amount FROM orders ORDER BY amount NULLS FIRST, order_id;
SELECT order_id, amount * qty FROM orders ORDER BY amount * qty, order_id;
SELECT order_id, ordered_at FROM orders ORDER BY ordered_at DESC, order_id;
SELECT order_id, shipped_at FROM orders ORDER BY shipped_at NULLS FIRST, order_id;
SELECT event_id, at FROM events ORDER BY at, event_id NULLS LAST;
SELECT event_id, day, kind FROM events ORDER BY day DESC, kind, event_id;
SELECT event_id FROM events ORDER BY event_id NULLS FIRST;
SELECT event_id FROM events ORDER BY event_id DESC;
SELECT m::numeric(10,3), sensor, taken FROM measures ORDER BY 1 NULLS FIRST, 2, 3;
SELECT line, msg, at FROM logs ORDER BY line, msg, at;
SELECT sku, price FROM products ORDER BY price DESC NULLS LAST, sku;
SELECT sku, weight FROM products ORDER BY weight, sku DESC;
SELECT cust_id, score FROM customers ORDER BY score NULLS FIRST, cust_id NULLS FIRST;
SELECT cust_id, created FROM customers ORDER BY created DESC, cust_id;
SELECT cust_id, vip FROM customers ORDER BY vip NULLS FIRST, cust_id;
SELECT cust_id, tags FROM customers ORDER BY tags NULLS LAST, cust_id;
SELECT order_id, items FROM orders ORDER BY items DESC, order_id LIMIT 50;
SELECT cust_id, profile FROM customers ORDER BY profile, cust_id;
SELECT cust_id, profile->>'age' AS age FROM customers ORDER BY (profile->>'age')::int NULLS LAST, cust_id, age;
SELECT line, dur FROM logs ORDER BY dur DESC, line;
SELECT order_id, fval FROM orders ORDER BY fval, order_id;
SELECT id, v FROM pinned ORDER BY v, id;
SELECT order_id, status FROM orders ORDER BY status COLLATE "en-x-icu", order_id;
SELECT cust_id, lower(name) FROM customers ORDER BY lower(name), cust_id;
SELECT order_id, cust_id FROM orders ORDER BY cust_id % 7, order_id, cust_id;
SELECT cust_id, name FROM customers ORDER BY length(name) DESC NULLS LAST, name, cust_id;
SELECT cust_id, city FROM customers ORDER BY CASE WHEN city IS NULL THEN 0 ELSE 1 END, city, cust_id;

-- section: limit and offset
SELECT order_id, amount FROM orders ORDER BY order_id LIMIT 10;
SELECT order_id, amount FROM orders ORDER BY order_id LIMIT 10 OFFSET 100;
SELECT order_id FROM orders ORDER BY order_id DESC OFFSET 3990;
SELECT order_id, amount FROM orders ORDER BY amount DESC NULLS LAST, order_id LIMIT 7;
SELECT cust_id, name FROM customers ORDER BY name, cust_id LIMIT 20 OFFSET 5;
SELECT cust_id, name FROM customers ORDER BY name COLLATE "C", cust_id LIMIT 15;
SELECT sku, price FROM products ORDER BY price NULLS FIRST, sku LIMIT 12;
SELECT event_id, at FROM events ORDER BY at DESC, event_id LIMIT 5;
SELECT line, level FROM logs ORDER BY line, level LIMIT 6;
SELECT id FROM pinned ORDER BY id LIMIT 3 OFFSET 297;
SELECT region FROM regions ORDER BY region LIMIT 3;
SELECT order_id FROM orders ORDER BY order_id FETCH FIRST 4 ROWS ONLY;
SELECT order_id FROM orders WHERE cust_id = 7 ORDER BY order_id LIMIT 10 OFFSET 10;
SELECT order_id FROM orders ORDER BY order_id LIMIT 0;
SELECT order_id FROM orders ORDER BY order_id LIMIT ALL OFFSET 3995;
SELECT count(*) FROM (SELECT order_id FROM orders ORDER BY order_id LIMIT 100) s;
SELECT cust_id, count(*) FROM orders GROUP BY cust_id ORDER BY count(*) DESC, cust_id NULLS FIRST LIMIT 5;
SELECT status, sum(amount) AS s FROM orders GROUP BY status ORDER BY s DESC LIMIT 2;
SELECT DISTINCT city FROM customers ORDER BY city LIMIT 3;
SELECT m::numeric(10,3) AS mm FROM measures ORDER BY mm DESC NULLS LAST LIMIT 5;
SELECT order_id, cust_id FROM orders ORDER BY cust_id NULLS FIRST, order_id LIMIT 25;
SELECT name FROM customers ORDER BY name_icu, cust_id LIMIT 10;

-- section: distinct
SELECT DISTINCT status FROM orders;
SELECT DISTINCT city FROM customers;
SELECT DISTINCT cust_id FROM orders;
SELECT DISTINCT status, paid FROM orders;
SELECT DISTINCT level, msg FROM logs;
SELECT DISTINCT * FROM logs;
SELECT DISTINCT kind FROM events ORDER BY kind;
SELECT DISTINCT name_c FROM customers ORDER BY name_c;
SELECT DISTINCT name_icu FROM customers ORDER BY name_icu;
SELECT DISTINCT m::numeric(10,3) FROM measures;
SELECT DISTINCT tags FROM customers;
SELECT DISTINCT profile->>'lang' FROM customers;
SELECT DISTINCT date_trunc('day', at) FROM events ORDER BY 1;
SELECT DISTINCT category FROM products ORDER BY category NULLS FIRST;
SELECT DISTINCT v FROM pinned;
SELECT DISTINCT country FROM regions;
SELECT DISTINCT qty % 3, paid FROM orders ORDER BY 1, 2;
SELECT count(*) FROM (SELECT DISTINCT sku FROM orders) s;
SELECT DISTINCT items FROM orders WHERE cust_id = 7;

-- section: distinct on
SELECT DISTINCT ON (cust_id) cust_id, order_id, amount FROM orders ORDER BY cust_id, order_id;
SELECT DISTINCT ON (cust_id) cust_id, order_id, amount FROM orders ORDER BY cust_id, amount DESC NULLS LAST, order_id;
SELECT DISTINCT ON (status) status, order_id FROM orders ORDER BY status, ordered_at, order_id;
SELECT DISTINCT ON (city) city, name, cust_id FROM customers ORDER BY city, cust_id;
SELECT DISTINCT ON (kind) kind, event_id, at FROM events ORDER BY kind, at DESC, event_id;
SELECT DISTINCT ON (level) level, line FROM logs ORDER BY level, line DESC;
SELECT DISTINCT ON (category) category, sku, price FROM products ORDER BY category, price DESC NULLS LAST, sku;
SELECT DISTINCT ON (sensor) sensor, taken, reading FROM measures ORDER BY sensor, taken;
SELECT DISTINCT ON (name_icu) name_icu, cust_id FROM customers ORDER BY name_icu, cust_id LIMIT 10;
SELECT DISTINCT ON (v) v, id FROM pinned ORDER BY v, id;

-- section: set operations
SELECT cust_id FROM customers UNION SELECT cust_id FROM orders;
SELECT cust_id FROM customers UNION ALL SELECT cust_id FROM orders;
SELECT cust_id FROM customers INTERSECT SELECT cust_id FROM orders;
SELECT cust_id FROM customers INTERSECT ALL SELECT cust_id FROM orders;
SELECT cust_id FROM orders EXCEPT SELECT cust_id FROM customers;
SELECT cust_id FROM orders EXCEPT ALL SELECT cust_id FROM customers;
SELECT cust_id FROM customers EXCEPT SELECT cust_id FROM orders;
SELECT city FROM customers UNION SELECT region FROM regions ORDER BY 1;
SELECT name FROM customers UNION SELECT name FROM products ORDER BY 1 NULLS FIRST;
SELECT line FROM logs INTERSECT SELECT event_id FROM events;
SELECT line FROM logs EXCEPT ALL SELECT line FROM logs WHERE level = 'INFO';
SELECT cust_id FROM events UNION SELECT cust_id FROM pinned;
SELECT region_id FROM regions UNION ALL SELECT region_id FROM customers WHERE cust_id < 30;
SELECT sku FROM products EXCEPT SELECT sku FROM orders;
SELECT sku FROM orders INTERSECT SELECT sku FROM products ORDER BY sku LIMIT 10;
SELECT m FROM measures WHERE sensor = 1 UNION ALL SELECT m FROM measures WHERE sensor = 2;
SELECT 'c' AS src, count(*) FROM customers UNION ALL SELECT 'o', count(*) FROM orders UNION ALL SELECT 'p', count(*) FROM products;
SELECT status FROM orders UNION SELECT level FROM logs UNION SELECT kind FROM events;
(SELECT order_id FROM orders ORDER BY order_id LIMIT 3) UNION ALL (SELECT order_id FROM orders ORDER BY order_id DESC LIMIT 3);
SELECT cust_id, name FROM customers WHERE cust_id < 10 UNION SELECT cust_id, v FROM pinned WHERE id < 10 ORDER BY 1, 2;
SELECT name_icu FROM customers UNION SELECT region FROM regions ORDER BY 1 LIMIT 20;
SELECT id FROM pinned INTERSECT SELECT order_id FROM orders EXCEPT SELECT event_id FROM events;

-- section: co-located join
SELECT c.cust_id, c.name, o.order_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id;
SELECT c.cust_id, count(o.order_id), sum(o.amount) FROM customers c JOIN orders o ON o.cust_id = c.cust_id GROUP BY c.cust_id;
SELECT c.cust_id, o.order_id FROM customers c LEFT JOIN orders o ON o.cust_id = c.cust_id;
SELECT c.cust_id, o.order_id FROM customers c RIGHT JOIN orders o ON o.cust_id = c.cust_id;
SELECT c.cust_id, o.order_id FROM customers c FULL JOIN orders o ON o.cust_id = c.cust_id;
SELECT c.cust_id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cust_id = c.cust_id AND o.amount > 990);
SELECT c.cust_id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.cust_id = c.cust_id);
SELECT c.cust_id, o.order_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id WHERE c.cust_id = 7 AND o.order_id < 100;
SELECT c.city, count(*) FROM customers c JOIN orders o USING (cust_id) GROUP BY c.city;
SELECT c.name, o.amount FROM customers c JOIN orders o ON o.cust_id = c.cust_id ORDER BY o.amount DESC NULLS LAST, o.order_id, c.name LIMIT 10;
SELECT c.cust_id, o.order_id FROM customers c LEFT JOIN orders o ON o.cust_id = c.cust_id AND o.qty > 8 WHERE c.cust_id < 100;
SELECT count(*) FROM customers c NATURAL JOIN orders o;
SELECT c1.cust_id, c2.name FROM customers c1 JOIN customers c2 ON c1.cust_id = c2.cust_id WHERE c1.cust_id <= 12;
SELECT o1.order_id, o2.order_id FROM orders o1 JOIN orders o2 ON o1.cust_id = o2.cust_id AND o1.order_id < o2.order_id WHERE o1.cust_id = 3;

-- section: join with replicated table
SELECT c.cust_id, r.region FROM customers c JOIN regions r ON r.region_id = c.region_id;
SELECT c.cust_id, r.region FROM customers c LEFT JOIN regions r ON r.region_id = c.region_id;
SELECT r.region, count(c.cust_id) FROM regions r LEFT JOIN customers c ON c.region_id = r.region_id GROUP BY r.region;
SELECT r.region, c.cust_id FROM regions r RIGHT JOIN customers c ON c.region_id = r.region_id;
SELECT r.region_id, c.cust_id FROM regions r FULL JOIN customers c ON c.region_id = r.region_id;
SELECT r.country, sum(o.amount) FROM orders o JOIN customers c ON c.cust_id = o.cust_id JOIN regions r ON r.region_id = c.region_id GROUP BY r.country;
SELECT e.event_id, r.region FROM events e JOIN regions r ON r.region_id = e.cust_id WHERE e.event_id < 200;
SELECT l.line, r.region FROM logs l JOIN regions r ON r.region_id = l.line;
SELECT r.region_id FROM regions r WHERE EXISTS (SELECT 1 FROM customers c WHERE c.region_id = r.region_id AND c.vip);
SELECT r.region_id FROM regions r WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.region_id = r.region_id AND c.score > 790);
SELECT p.id, r.region FROM pinned p JOIN regions r ON r.region_id = p.id % 10;
SELECT a.region, b.region FROM regions a JOIN regions b ON a.country = b.country AND a.region_id < b.region_id;

-- section: non-co-located join
SELECT o.order_id, p.name FROM orders o JOIN products p ON p.sku = o.sku;
SELECT o.order_id, p.price FROM orders o LEFT JOIN products p ON p.sku = o.sku;
SELECT o.order_id, p.sku FROM orders o RIGHT JOIN products p ON p.sku = o.sku;
SELECT o.order_id, p.sku FROM orders o FULL JOIN products p ON p.sku = o.sku;
SELECT p.category, sum(o.amount), count(*) FROM orders o JOIN products p ON p.sku = o.sku GROUP BY p.category;
SELECT p.sku FROM products p WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.sku = p.sku);
SELECT p.sku FROM products p WHERE EXISTS (SELECT 1 FROM orders o WHERE o.sku = p.sku AND o.cust_id = 7);
SELECT e.event_id, c.name FROM events e JOIN customers c ON c.cust_id = e.cust_id;
SELECT e.event_id, c.name FROM events e LEFT JOIN customers c ON c.cust_id = e.cust_id AND c.vip;
SELECT c.cust_id, count(e.event_id) FROM customers c LEFT JOIN events e ON e.cust_id = c.cust_id GROUP BY c.cust_id;
SELECT o.order_id, e.event_id FROM orders o JOIN events e ON e.event_id = o.order_id WHERE o.cust_id = 7;
SELECT o.order_id, c.name FROM orders o JOIN customers c ON c.region_id = o.qty WHERE o.order_id < 30;
SELECT p.id, c.name FROM pinned p JOIN customers c ON c.cust_id = p.cust_id;
SELECT p.id, c.name FROM pinned p LEFT JOIN customers c ON c.cust_id = p.cust_id;
SELECT p.id, o.order_id FROM pinned p JOIN orders o ON o.order_id = p.id;
SELECT p.id, o.order_id FROM pinned p FULL JOIN orders o ON o.order_id = p.id WHERE o.order_id IS NULL OR o.order_id < 20;
SELECT m.sensor, l.line FROM measures m JOIN logs l ON l.line = m.sensor WHERE l.level = 'WARN';
SELECT m.m::numeric(10,3), p.sku FROM measures m JOIN products p ON p.weight = m.m WHERE m.sensor < 3;
SELECT l.level, count(*) FROM logs l JOIN events e ON e.event_id = l.line GROUP BY l.level;
SELECT c.cust_id, o.order_id, p.name FROM customers c JOIN orders o ON o.cust_id = c.cust_id JOIN products p ON p.sku = o.sku WHERE c.cust_id < 40;
SELECT o.order_id FROM orders o WHERE o.cust_id IN (SELECT cust_id FROM events WHERE kind = 'buy');
SELECT o.order_id FROM orders o WHERE o.sku NOT IN (SELECT sku FROM products WHERE sku IS NOT NULL);
SELECT c.name, o.order_id FROM customers c CROSS JOIN orders o WHERE c.cust_id = 5 AND o.order_id < 5;
SELECT c.cust_id, o.order_id FROM customers c JOIN orders o ON o.cust_id > c.cust_id WHERE c.cust_id > 615 OR (c.cust_id = 590 AND o.order_id < 50);
SELECT a.name, b.name FROM customers a JOIN customers b ON a.name_icu = b.name_icu AND a.cust_id < b.cust_id WHERE a.cust_id < 60;
SELECT o.order_id, p.name FROM orders o JOIN products p ON p.sku = o.sku ORDER BY p.name, o.order_id LIMIT 20;
SELECT count(*) FROM orders o JOIN events e ON e.cust_id = o.cust_id;
SELECT o.order_id, e.event_id FROM orders o LEFT JOIN LATERAL (SELECT event_id FROM events e WHERE e.cust_id = o.cust_id ORDER BY event_id LIMIT 1) e ON true WHERE o.order_id < 100;

-- section: subquery in FROM
SELECT s.cust_id, s.n FROM (SELECT cust_id, count(*) AS n FROM orders GROUP BY cust_id) s WHERE s.n > 8;
SELECT avg(n)::numeric(10,4), max(n) FROM (SELECT cust_id, count(*) AS n FROM orders GROUP BY cust_id) s;
SELECT s.status, s.total FROM (SELECT status, sum(amount) AS total FROM orders GROUP BY status) s ORDER BY s.total DESC;
SELECT x.city, x.c FROM (SELECT city, count(*) AS c FROM customers GROUP BY city) x JOIN (SELECT DISTINCT city FROM customers WHERE vip) y USING (city);
SELECT t.sku, t.cnt, p.price FROM (SELECT sku, count(*) AS cnt FROM orders GROUP BY sku) t JOIN products p ON p.sku = t.sku WHERE t.cnt > 10;
SELECT * FROM (SELECT order_id, amount FROM orders ORDER BY amount DESC NULLS LAST, order_id LIMIT 5) top ORDER BY order_id;
SELECT count(*) FROM (SELECT DISTINCT ON (cust_id) cust_id, order_id FROM orders ORDER BY cust_id, order_id) d;
SELECT q.kind, q.n FROM (SELECT kind, count(*) n FROM events WHERE ok GROUP BY kind) q WHERE q.n > 150;
SELECT sum(x) FROM (SELECT amount * qty AS x FROM orders WHERE cust_id = 7) s;
SELECT r.region, s.n FROM regions r, LATERAL (SELECT count(*) AS n FROM customers c WHERE c.region_id = r.region_id) s;
SELECT c.cust_id, s.last FROM customers c, LATERAL (SELECT max(order_id) AS last FROM orders o WHERE o.cust_id = c.cust_id) s WHERE c.cust_id < 50;
SELECT u.v, count(*) FROM (SELECT v FROM pinned UNION ALL SELECT status FROM orders) u GROUP BY u.v;

-- section: subquery in WHERE
SELECT cust_id, name FROM customers WHERE cust_id IN (SELECT cust_id FROM orders WHERE amount > 995);
SELECT cust_id FROM customers WHERE cust_id NOT IN (SELECT cust_id FROM orders WHERE cust_id IS NOT NULL);
SELECT cust_id FROM customers WHERE cust_id NOT IN (SELECT cust_id FROM orders);
SELECT order_id FROM orders WHERE amount > (SELECT avg(amount) * 1.9 FROM orders);
SELECT order_id FROM orders WHERE amount = (SELECT max(amount) FROM orders);
SELECT sku FROM products WHERE price > ALL (SELECT amount FROM orders WHERE cust_id = 3);
SELECT sku FROM products WHERE price < ANY (SELECT amount / 100 FROM orders WHERE cust_id = 5);
SELECT event_id FROM events WHERE cust_id IN (SELECT cust_id FROM customers WHERE city = 'Zürich') AND kind = 'buy';
SELECT order_id FROM orders o WHERE amount > (SELECT avg(amount) FROM orders i WHERE i.cust_id = o.cust_id) * 1.8;
SELECT c.cust_id FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.cust_id = c.cust_id) > 12;
SELECT p.sku FROM products p WHERE p.price > (SELECT avg(price) FROM products q WHERE q.category = p.category) * 1.7;
SELECT e.event_id FROM events e WHERE EXISTS (SELECT 1 FROM orders o WHERE o.order_id = e.event_id AND o.status = 'Cancelled') AND e.kind = 'view';
SELECT line FROM logs l WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = l.line);
SELECT id FROM pinned WHERE cust_id IN (SELECT cust_id FROM customers WHERE vip);
SELECT id FROM pinned p WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cust_id = p.cust_id AND o.qty = 9);
SELECT region_id FROM regions WHERE region_id IN (SELECT region_id FROM customers GROUP BY region_id HAVING count(*) > 50);
SELECT cust_id FROM customers WHERE (cust_id, region_id) IN (SELECT cust_id, qty FROM orders);
SELECT m::numeric(10,3) FROM measures WHERE m IN (SELECT weight FROM products WHERE weight > 9);
SELECT order_id FROM orders WHERE sku IN (SELECT sku FROM products WHERE category = 'Garden') AND cust_id = 7;
SELECT order_id FROM orders WHERE cust_id = (SELECT min(cust_id) FROM customers);
SELECT cust_id FROM customers c WHERE score > (SELECT avg(score) FROM customers d WHERE d.city IS NOT DISTINCT FROM c.city);

-- section: subquery in SELECT
SELECT c.cust_id, (SELECT count(*) FROM orders o WHERE o.cust_id = c.cust_id) FROM customers c;
SELECT r.region_id, (SELECT count(*) FROM customers c WHERE c.region_id = r.region_id) AS n FROM regions r;
SELECT p.sku, (SELECT max(o.amount) FROM orders o WHERE o.sku = p.sku) FROM products p;
SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM customers), (SELECT max(event_id) FROM events);
SELECT o.order_id, (SELECT name FROM customers c WHERE c.cust_id = o.cust_id ORDER BY c.name NULLS LAST LIMIT 1) FROM orders o WHERE o.order_id < 300;
SELECT c.cust_id, EXISTS (SELECT 1 FROM events e WHERE e.cust_id = c.cust_id AND e.kind = 'refund') FROM customers c;
SELECT e.event_id, (SELECT region FROM regions r WHERE r.region_id = e.cust_id % 10 + 1) FROM events e;
SELECT id, amount - (SELECT avg(amount) FROM pinned) FROM pinned;
SELECT c.cust_id, ARRAY(SELECT o.order_id FROM orders o WHERE o.cust_id = c.cust_id ORDER BY o.order_id) FROM customers c WHERE c.cust_id < 40;

-- section: with
WITH t AS (SELECT cust_id, sum(amount) AS s FROM orders GROUP BY cust_id) SELECT cust_id, s FROM t WHERE s > 5000;
WITH t AS (SELECT cust_id, sum(amount) AS s FROM orders GROUP BY cust_id) SELECT c.name, t.s FROM t JOIN customers c USING (cust_id);
WITH a AS (SELECT * FROM regions), b AS (SELECT region_id, count(*) n FROM customers GROUP BY region_id) SELECT a.region, b.n FROM a LEFT JOIN b USING (region_id);
WITH big AS MATERIALIZED (SELECT * FROM orders WHERE amount > 900) SELECT status, count(*) FROM big GROUP BY status;
WITH big AS NOT MATERIALIZED (SELECT * FROM orders WHERE amount > 900) SELECT count(*) FROM big WHERE cust_id = 7;
WITH x AS (SELECT sku, price FROM products WHERE in_stock) SELECT o.order_id, x.price FROM orders o JOIN x USING (sku) WHERE o.cust_id = 11;
WITH e AS (SELECT cust_id, count(*) AS n FROM events GROUP BY cust_id), o AS (SELECT cust_id, count(*) AS n FROM orders GROUP BY cust_id) SELECT e.cust_id, e.n, o.n FROM e FULL JOIN o USING (cust_id);
WITH t AS (SELECT order_id FROM orders WHERE cust_id = 7) SELECT count(*) FROM t;
WITH p AS (SELECT * FROM pinned) SELECT v, count(*) FROM p GROUP BY v HAVING count(*) > 11;
WITH d AS (SELECT DISTINCT city FROM customers) SELECT count(*) FROM d;

-- section: with recursive
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT o.order_id FROM n JOIN orders o ON o.order_id = n.i;
WITH RECURSIVE chain(id, depth) AS (SELECT cust_id, 0 FROM customers WHERE cust_id = 5 UNION ALL SELECT c.cust_id, chain.depth + 1 FROM chain JOIN customers c ON c.cust_id = chain.id * 2 WHERE chain.depth < 6) SELECT id, depth FROM chain;
WITH RECURSIVE r(region_id, path) AS (SELECT region_id, region FROM regions WHERE region_id = 1 UNION ALL SELECT g.region_id, r.path || '>' || g.region FROM r JOIN regions g ON g.region_id = r.region_id + 1) SELECT * FROM r;
WITH RECURSIVE d(day) AS (SELECT date '2024-04-01' UNION ALL SELECT day + 1 FROM d WHERE day < date '2024-04-10') SELECT d.day, count(e.event_id) FROM d LEFT JOIN events e ON e.day = d.day GROUP BY d.day;
WITH RECURSIVE fib(a, b, n) AS (SELECT 0::numeric, 1::numeric, 1 UNION ALL SELECT b, a + b, n + 1 FROM fib WHERE n < 60) SELECT n, a FROM fib;
WITH RECURSIVE o(id) AS (SELECT order_id FROM orders WHERE order_id = 1 UNION SELECT order_id FROM orders, o WHERE orders.order_id = o.id * 3 AND orders.order_id < 4000) SELECT id FROM o;

-- section: window
SELECT order_id, cust_id, row_number() OVER (PARTITION BY cust_id ORDER BY order_id) FROM orders;
SELECT order_id, rank() OVER (ORDER BY amount DESC NULLS LAST), dense_rank() OVER (ORDER BY qty) FROM orders;
SELECT cust_id, order_id, sum(amount) OVER (PARTITION BY cust_id ORDER BY order_id) FROM orders;
SELECT cust_id, order_id, sum(amount) OVER (PARTITION BY cust_id) FROM orders;
SELECT order_id, amount, avg(amount) OVER (ORDER BY order_id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING)::numeric(14,4) FROM orders;
SELECT order_id, lag(amount) OVER (ORDER BY order_id), lead(amount, 2) OVER (ORDER BY order_id) FROM orders;
SELECT order_id, first_value(order_id) OVER w, last_value(order_id) OVER w FROM orders WINDOW w AS (PARTITION BY status ORDER BY order_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);
SELECT cust_id, ntile(4) OVER (ORDER BY cust_id NULLS LAST, name) FROM customers;
SELECT cust_id, name, rank() OVER (PARTITION BY city ORDER BY name COLLATE "C", cust_id) FROM customers;
SELECT cust_id, name_icu, row_number() OVER (ORDER BY name_icu, cust_id) FROM customers;
SELECT event_id, count(*) OVER (PARTITION BY kind), percent_rank() OVER (PARTITION BY kind ORDER BY event_id) FROM events;
SELECT status, count(*), sum(count(*)) OVER () FROM orders GROUP BY status;
SELECT status, sum(amount), rank() OVER (ORDER BY sum(amount) DESC) FROM orders GROUP BY status;
SELECT * FROM (SELECT order_id, cust_id, row_number() OVER (PARTITION BY cust_id ORDER BY amount DESC NULLS LAST, order_id) AS rn FROM orders) s WHERE rn <= 2;
SELECT line, level, count(*) OVER (PARTITION BY line, level) FROM logs;
SELECT sku, price, cume_dist() OVER (ORDER BY price) FROM products;
SELECT sensor, taken, sum(reading) OVER (PARTITION BY sensor ORDER BY taken RANGE BETWEEN interval '1 day' PRECEDING AND CURRENT ROW) FROM measures;
SELECT id, amount, max(amount) OVER (ORDER BY id ROWS 3 PRECEDING) FROM pinned;
SELECT region_id, rate, sum(rate) OVER (ORDER BY region_id) FROM regions;
SELECT order_id, nth_value(order_id, 3) OVER (PARTITION BY qty ORDER BY order_id) FROM orders WHERE order_id < 500;
SELECT cust_id, count(*) OVER (ORDER BY created GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM customers;
SELECT order_id, sum(fval) OVER (PARTITION BY cust_id ORDER BY order_id) FROM orders WHERE cust_id < 50;
SELECT order_id, row_number() OVER (ORDER BY order_id) FROM orders ORDER BY order_id LIMIT 10 OFFSET 20;
SELECT DISTINCT status, count(*) OVER (PARTITION BY status) FROM orders;

-- section: set-returning functions
SELECT generate_series(1, 5);
SELECT * FROM generate_series(1, 10) g JOIN orders o ON o.order_id = g;
SELECT cust_id, unnest(tags) FROM customers;
SELECT order_id, unnest(items) AS item FROM orders WHERE order_id < 100;
SELECT t, count(*) FROM customers, unnest(tags) AS t GROUP BY t;
SELECT e.event_id, j.key, j.value FROM events e, jsonb_each(e.payload) j WHERE e.event_id < 50;
SELECT jsonb_array_elements_text(payload->'tags'), count(*) FROM events GROUP BY 1;
SELECT sku, jsonb_object_keys(attrs) FROM products;
SELECT cust_id, regexp_split_to_table(name, ' ') FROM customers WHERE cust_id < 100;
SELECT o.order_id, s.i FROM orders o, generate_series(1, o.qty) AS s(i) WHERE o.cust_id = 3;
SELECT d::date, count(o.order_id) FROM generate_series(timestamp '2023-02-01', timestamp '2023-02-10', interval '1 day') d LEFT JOIN orders o ON o.ordered_at::date = d::date GROUP BY d;
SELECT line, w, ord FROM logs, unnest(words) WITH ORDINALITY AS u(w, ord) WHERE line < 20;
SELECT * FROM unnest(ARRAY[1, 2, 3], ARRAY['a', 'b', 'c']) AS u(n, s) JOIN pinned p ON p.id = u.n;
SELECT json_array_elements(json_build_array(order_id, qty)) FROM orders WHERE cust_id = 5;

-- section: values
VALUES (1, 'one'), (2, 'two'), (3, NULL);
SELECT * FROM (VALUES (1, 'one'), (2, 'two')) AS v(n, s) ORDER BY n DESC;
SELECT v.n, r.region FROM (VALUES (1), (3), (5), (11)) AS v(n) LEFT JOIN regions r ON r.region_id = v.n;
SELECT v.n, c.name FROM (VALUES (1), (42), (599)) AS v(n) JOIN customers c ON c.cust_id = v.n;
SELECT v.s, count(o.order_id) FROM (VALUES ('new'), ('paid'), ('lost')) AS v(s) LEFT JOIN orders o ON o.status = v.s GROUP BY v.s;
SELECT * FROM orders WHERE (cust_id, qty) IN (VALUES (7, 1), (3, 4), (5, 5));
SELECT v.k, p.name FROM (VALUES ('SKU-0001'), ('SKU-0100'), (NULL)) AS v(k) LEFT JOIN products p ON p.sku = v.k;
VALUES (1.5::numeric, date '2024-01-01', true), (2.25, NULL, false) ORDER BY 1;

-- section: for update
SELECT * FROM customers WHERE cust_id = 5 FOR UPDATE;
SELECT order_id, amount FROM orders WHERE cust_id = 3 FOR UPDATE;
SELECT * FROM products WHERE sku = 'SKU-0007' FOR SHARE;
SELECT * FROM pinned WHERE id < 5 FOR UPDATE;
SELECT * FROM events WHERE event_id = 10 FOR NO KEY UPDATE;
SELECT * FROM orders WHERE cust_id = 11 ORDER BY order_id FOR UPDATE;

-- section: views
SELECT count(*), sum(amount) FROM big_orders;
SELECT * FROM big_orders WHERE cust_id = 7;
SELECT region, count(*) FROM customer_regions GROUP BY region;
SELECT * FROM region_names ORDER BY region_id;
SELECT b.status, count(*) FROM big_orders b JOIN customers c USING (cust_id) GROUP BY b.status;

-- section: misc
SELECT count(*) FROM orders o, customers c WHERE o.cust_id = c.cust_id AND c.name_c > c.name_icu;
SELECT cust_id FROM customers WHERE name_icu > 'b' AND name_icu < 'c';
SELECT max(name_icu || '') FROM customers;
SELECT cust_id, name_icu < 'B' FROM customers WHERE cust_id < 40;
SELECT count(*) FILTER (WHERE name_icu < 'b'), count(*) FILTER (WHERE name_c < 'b') FROM customers;
SELECT status, count(*) FROM orders WHERE status > 'Z' GROUP BY status;
SELECT order_id FROM orders WHERE ordered_at::date = ship_day - 3;
SELECT cust_id, score::int, score::text, to_char(score, 'FM9999.00') FROM customers;
SELECT sum(amount)::numeric(20,2) / nullif(count(*), 0) FROM orders GROUP BY paid;
SELECT CASE WHEN count(*) > 0 THEN 'some' END FROM events WHERE payload IS NULL;
SELECT array_agg(DISTINCT kind ORDER BY kind) FROM events;
SELECT jsonb_agg(jsonb_build_object('id', id, 'v', v) ORDER BY id) FROM pinned WHERE id < 6;
SELECT string_agg(name_icu, ',' ORDER BY name_icu, cust_id) FROM customers WHERE cust_id < 30;
SELECT count(*) FROM orders WHERE meta::text LIKE '%phone%';
SELECT sum(qty) FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE name_icu < 'B');
SELECT min(at), max(at) FROM events WHERE at > '2024-04-01 00:00:00+02';
SELECT date_part('epoch', max(ordered_at) - min(ordered_at)) FROM orders;
SELECT xmin IS NOT NULL FROM regions WHERE region_id = 1;

-- section: merge sort
SELECT cust_id, score FROM customers ORDER BY score DESC NULLS FIRST, cust_id NULLS LAST;
SELECT cust_id, score FROM customers ORDER BY score NULLS LAST, cust_id DESC NULLS FIRST LIMIT 15;
SELECT cust_id, vip, created FROM customers ORDER BY vip DESC NULLS LAST, created, cust_id NULLS FIRST;
SELECT region_id, cust_id FROM customers ORDER BY region_id DESC, cust_id DESC;
SELECT region_id, cust_id FROM customers ORDER BY 1 NULLS FIRST, 2 DESC NULLS LAST LIMIT 30 OFFSET 5;
SELECT order_id, paid, ship_day FROM orders ORDER BY paid NULLS FIRST, ship_day DESC NULLS LAST, order_id LIMIT 40;
SELECT order_id, shipped_at FROM orders ORDER BY shipped_at DESC NULLS LAST, order_id DESC LIMIT 25 OFFSET 10;
SELECT order_id FROM orders WHERE cust_id = 7 ORDER BY order_id OFFSET 950;
SELECT order_id FROM orders ORDER BY order_id OFFSET 5000;
SELECT order_id, amount FROM orders ORDER BY amount, order_id LIMIT 0;
SELECT order_id, amount FROM orders ORDER BY amount DESC, order_id LIMIT ALL;
SELECT order_id FROM orders WHERE qty = 3 ORDER BY order_id DESC OFFSET 400;
SELECT order_id FROM orders ORDER BY order_id LIMIT NULL OFFSET 3998;
SELECT order_id, amount FROM orders ORDER BY amount NULLS FIRST, order_id LIMIT 10 OFFSET 95;
SELECT order_id, fval FROM orders ORDER BY fval DESC, order_id LIMIT 12;
SELECT sku, weight, price FROM products ORDER BY weight DESC, price NULLS FIRST, sku LIMIT 20;
SELECT sku, added FROM products ORDER BY added DESC LIMIT 7;
SELECT m, sensor, taken FROM measures ORDER BY m NULLS FIRST, taken LIMIT 30;
SELECT m, taken FROM measures ORDER BY m DESC, taken DESC LIMIT 25 OFFSET 3;
SELECT m, reading, taken FROM measures WHERE m BETWEEN 12 AND 13 ORDER BY m, reading DESC, taken;
SELECT event_id, kind, at FROM events ORDER BY event_id DESC NULLS LAST LIMIT 10;
SELECT event_id, day FROM events ORDER BY day, event_id NULLS FIRST LIMIT 15;
SELECT line, dur, level FROM logs ORDER BY dur, line, level LIMIT 9;
SELECT line, level FROM logs ORDER BY level DESC, line OFFSET 990;
SELECT id, at FROM pinned ORDER BY at DESC LIMIT 4;
SELECT * FROM orders ORDER BY order_id LIMIT 3;
SELECT o.* FROM orders o ORDER BY o.amount NULLS FIRST, o.order_id LIMIT 5;
SELECT order_id AS cust_id, cust_id AS order_id FROM orders ORDER BY order_id NULLS FIRST, cust_id LIMIT 20;
SELECT order_id AS cust_id, cust_id AS order_id FROM orders o ORDER BY o.order_id DESC LIMIT 10;
SELECT 'x' AS tag, order_id, 42 AS answer, NULL::text AS nothing FROM orders ORDER BY order_id DESC LIMIT 3;
SELECT order_id, amount * 2 AS dbl FROM orders ORDER BY amount NULLS FIRST, order_id LIMIT 8;
SELECT order_id, upper(status) AS status FROM orders ORDER BY status, order_id LIMIT 10;
SELECT order_id, status AS s FROM orders ORDER BY s DESC, 1 LIMIT 10;
SELECT cust_id, name FROM customers WHERE cust_id < 40 ORDER BY 2 DESC NULLS FIRST, 1;
SELECT name_c, cust_id FROM customers ORDER BY name_c DESC NULLS LAST, cust_id LIMIT 12;
SELECT cust_id, name_icu FROM customers ORDER BY name_icu DESC, cust_id LIMIT 12;
SELECT sku, label FROM products ORDER BY label DESC LIMIT 10;
SELECT sku, name FROM products ORDER BY name COLLATE "C" DESC LIMIT 10;
SELECT status, order_id FROM orders ORDER BY status, order_id DESC LIMIT 7;
SELECT order_id FROM orders WHERE amount IS NULL ORDER BY order_id DESC;
SELECT order_id FROM orders WHERE false ORDER BY order_id LIMIT 5;
SELECT id, f8 FROM typed ORDER BY f8, id;
SELECT id, f8 FROM typed ORDER BY f8 DESC NULLS LAST, id LIMIT 20;
SELECT id, f4 FROM typed ORDER BY f4 DESC, id LIMIT 15;
SELECT id, n FROM typed ORDER BY n NULLS FIRST, id;
SELECT id, n FROM typed ORDER BY n DESC, id DESC LIMIT 12;
SELECT id, i2, i8 FROM typed ORDER BY i2 DESC NULLS LAST, i8, id LIMIT 25;
SELECT id, i8, i4 FROM typed ORDER BY i8, id LIMIT 10 OFFSET 60;
SELECT id, vc FROM typed ORDER BY vc, id;
SELECT id, bp FROM typed ORDER BY bp DESC, id;
SELECT id, bpu FROM typed ORDER BY bpu, id;
SELECT id, nm FROM typed ORDER BY nm NULLS FIRST, id LIMIT 30;
SELECT id, ba FROM typed ORDER BY ba DESC NULLS LAST, id LIMIT 30;
SELECT id, tm FROM typed ORDER BY tm DESC, id LIMIT 10;
SELECT id, ts, dt FROM typed ORDER BY ts NULLS FIRST, dt DESC, id;
SELECT id, iv FROM typed ORDER BY iv, id;
SELECT id, mo FROM typed ORDER BY mo DESC, id LIMIT 20;
SELECT id, ch FROM typed ORDER BY ch, id;
SELECT id, o FROM typed ORDER BY o DESC NULLS LAST, id LIMIT 20;
SELECT id, u FROM typed ORDER BY u, id LIMIT 40;
SELECT id, b FROM typed ORDER BY b NULLS FIRST, id DESC LIMIT 50;
SELECT id, t_posix, t_ucs FROM typed ORDER BY t_posix, t_ucs DESC, id;
SELECT id, t_icu FROM typed ORDER BY t_icu, id;
SELECT * FROM typed ORDER BY id DESC LIMIT 4;

SELECT cust_id, cust_id FROM customers ORDER BY cust_id NULLS FIRST LIMIT 5;
SELECT name AS city, city FROM customers ORDER BY city LIMIT 5;
SELECT order_id FROM orders ORDER BY order_id LIMIT 3000000000 OFFSET 3997;
SELECT order_id FROM orders ORDER BY order_id OFFSET -1;
SELECT order_id FROM orders ORDER BY order_id LIMIT 2 + 3;
SELECT order_id, qty FROM orders ORDER BY qty FETCH FIRST 2 ROWS WITH TIES;
SELECT order_id FROM orders ORDER BY order_id USING > LIMIT 4;
SELECT * FROM big_orders ORDER BY amount DESC, order_id LIMIT 5;
SELECT order_id FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE vip) ORDER BY order_id LIMIT 5;
SELECT id, amount FROM pinned ORDER BY amount DESC, id LIMIT 6 OFFSET 2;

-- section: merge distinct
SELECT DISTINCT region_id, vip FROM customers;
SELECT DISTINCT region_id, vip FROM customers ORDER BY vip NULLS FIRST, region_id DESC;
SELECT DISTINCT city, vip FROM customers ORDER BY city DESC, vip LIMIT 10;
SELECT DISTINCT paid, qty FROM orders ORDER BY 1, 2 DESC OFFSET 5;
SELECT DISTINCT status FROM orders LIMIT 10;
SELECT DISTINCT ON (m) m, taken FROM measures ORDER BY m, taken;
SELECT DISTINCT ON (m) m, sensor, taken FROM measures ORDER BY m DESC, taken DESC LIMIT 20;
SELECT DISTINCT ON (cust_id) cust_id, order_id FROM orders ORDER BY cust_id DESC, order_id DESC LIMIT 15;
SELECT DISTINCT ON (paid, qty) paid, qty, order_id FROM orders ORDER BY paid DESC NULLS LAST, qty, order_id DESC;
SELECT DISTINCT ON (status) order_id, status FROM orders ORDER BY status DESC, amount NULLS FIRST, order_id;
SELECT DISTINCT ON (2) order_id, qty FROM orders ORDER BY 2, 1 DESC;
SELECT DISTINCT ON (vip) vip, cust_id, name FROM customers ORDER BY vip NULLS FIRST, cust_id NULLS FIRST, name;
SELECT DISTINCT city, region_id, vip FROM customers WHERE cust_id > 550;
SELECT DISTINCT cust_id, vip FROM customers WHERE cust_id IS NULL OR cust_id < 5;
SELECT DISTINCT name_c FROM customers ORDER BY name_c DESC NULLS LAST LIMIT 5;
SELECT DISTINCT name_icu FROM customers ORDER BY name_icu DESC LIMIT 5;
SELECT DISTINCT level, dur FROM logs ORDER BY dur DESC, level LIMIT 10;
SELECT DISTINCT kind, ok FROM events ORDER BY kind, ok;
SELECT DISTINCT ON (kind) kind, event_id FROM events ORDER BY kind DESC, event_id DESC NULLS LAST;
SELECT DISTINCT ON (day) day, event_id FROM events ORDER BY day DESC, event_id LIMIT 5 OFFSET 2;
SELECT DISTINCT ON (f8) f8, id FROM typed ORDER BY f8 DESC, id;
SELECT DISTINCT ON (n) n, id FROM typed ORDER BY n, id;
SELECT DISTINCT ON (iv) iv, id FROM typed ORDER BY iv DESC NULLS LAST, id;
SELECT DISTINCT ON (bpu) bpu, id FROM typed ORDER BY bpu, id DESC;
SELECT DISTINCT b, ch FROM typed;
SELECT DISTINCT u FROM typed ORDER BY u DESC LIMIT 10;
SELECT DISTINCT ba, b FROM typed ORDER BY ba NULLS FIRST, b;
SELECT DISTINCT vc, nm FROM typed;
SELECT DISTINCT bp FROM typed;
SELECT DISTINCT tm, b FROM typed ORDER BY tm DESC NULLS LAST, b LIMIT 10;
SELECT DISTINCT mo, o FROM typed ORDER BY o, mo;
SELECT DISTINCT i2 FROM typed ORDER BY i2 DESC NULLS LAST OFFSET 150;
SELECT DISTINCT t_ucs, t_posix FROM typed ORDER BY 1, 2;
SELECT DISTINCT t_icu FROM typed ORDER BY t_icu;
SELECT DISTINCT status FROM orders ORDER BY qty;

SELECT DISTINCT qty, status FROM orders ORDER BY status DESC, qty LIMIT 7;
SELECT DISTINCT ON (order_id) * FROM orders ORDER BY order_id DESC LIMIT 3;
SELECT DISTINCT ON (region_id, vip) region_id, vip, score FROM customers ORDER BY region_id NULLS FIRST, vip DESC, score NULLS FIRST, cust_id;
SELECT DISTINCT paid, ship_day FROM orders WHERE order_id < 200 ORDER BY ship_day NULLS FIRST, paid DESC LIMIT 12 OFFSET 3;

-- section: coordinator join
SELECT e.event_id, m.m, m.taken FROM events e JOIN measures m ON m.m = e.event_id;
SELECT m.m, m.taken, t.id FROM measures m JOIN typed t ON t.n = m.m;
SELECT t.id, t.i2, e.event_id FROM typed t JOIN events e ON e.event_id = t.i2;
SELECT t.id, t.n, o.order_id FROM typed t JOIN orders o ON o.order_id = t.n WHERE o.order_id < 20;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.n = b.n WHERE a.id < 60 AND b.id > 200;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.f8 = b.f8 WHERE a.id <= 20 AND b.id > 220;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.f4 = b.f8 WHERE a.id < 100;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.iv = b.iv WHERE a.id < 25 AND b.id > 228;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.bpu = b.bpu WHERE a.id < 15 AND b.id > 225;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.bp = b.bp WHERE a.id < 10;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.vc = b.bp WHERE a.id < 10;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.u = b.u WHERE a.id < 30;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.ba = b.ba AND a.ch = b.ch WHERE a.id < 40 AND b.id > 120;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.tm = b.tm WHERE a.id <> 77;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.mo = b.mo AND a.o = b.o;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.nm = b.nm WHERE a.id < 8 AND b.id > 200;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.ts = b.ts AND a.dt = b.dt;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.i2 = b.n WHERE a.id < 50;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.t_posix = b.t_posix WHERE a.id < 10 AND b.id < 30;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.t_ucs = b.t_posix WHERE a.id < 10;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.t_icu = b.t_icu WHERE a.id < 12 AND b.id < 40;
SELECT a.id, b.id, b.n FROM typed a JOIN typed b ON a.n = b.n WHERE a.n::text = '3';
SELECT a.id, b.id, b.n FROM typed a JOIN typed b ON b.n = a.n WHERE b.n::text = '3.00';
SELECT a.id, a.f8, b.id FROM typed a JOIN typed b ON a.f8 = b.f8 WHERE b.f8::text = '-0' AND a.id < 50;
SELECT a.id, a.bpu, b.id FROM typed a JOIN typed b ON a.bpu = b.bpu WHERE b.bpu LIKE 'x' AND a.id < 30;
SELECT m.taken, o.order_id FROM measures m JOIN orders o ON o.amount = m.m WHERE m.m::text = '70';
SELECT c.cust_id, e.event_id FROM customers c LEFT JOIN events e ON e.event_id = c.cust_id WHERE c.cust_id IS NULL OR c.cust_id < 25;
SELECT c.cust_id, e.event_id FROM customers c RIGHT JOIN events e ON e.event_id = c.cust_id WHERE e.event_id IS NULL OR e.event_id < 5;
SELECT c.cust_id, c.name, e.event_id, e.kind FROM customers c FULL JOIN events e ON e.event_id = c.cust_id;
SELECT c.cust_id, e.event_id FROM customers c FULL JOIN events e ON e.event_id = c.cust_id AND e.kind = 'buy';
SELECT c.cust_id, e.event_id FROM customers c LEFT JOIN events e ON e.event_id = c.cust_id AND e.ok AND e.kind <> 'view' WHERE c.vip;
SELECT c.cust_id, e.event_id FROM customers c LEFT JOIN events e ON e.event_id = c.cust_id AND c.vip;
SELECT c.cust_id FROM customers c LEFT JOIN events e ON e.event_id = c.cust_id WHERE e.event_id IS NULL;
SELECT e.event_id FROM customers c RIGHT JOIN events e ON e.event_id = c.cust_id WHERE c.cust_id IS NULL AND e.event_id < 700;
SELECT o.order_id, p.sku, p.category FROM orders o LEFT JOIN products p ON p.sku = o.sku AND p.category IS NULL WHERE o.cust_id = 7 AND o.order_id < 400;
SELECT o.order_id, p.sku FROM orders o RIGHT JOIN products p ON p.sku = o.sku AND o.qty = 9 WHERE p.price IS NULL;
SELECT o.order_id, o.sku, p.sku FROM orders o FULL JOIN products p ON p.sku = o.sku WHERE o.sku IS NULL OR p.sku IS NULL;
SELECT * FROM pinned p JOIN orders o ON o.order_id = p.id WHERE p.id < 6;
SELECT * FROM products p RIGHT JOIN orders o ON o.sku = p.sku WHERE o.order_id < 6;
SELECT p.*, o.status FROM pinned p LEFT JOIN orders o ON o.order_id = p.cust_id WHERE p.id < 20;
SELECT p.id, o.status FROM pinned p LEFT JOIN orders o ON o.order_id = p.id * 20 WHERE p.id < 20;
SELECT o.*, p.* FROM orders o JOIN products p ON p.sku = o.sku WHERE o.order_id < 8;
SELECT e.*, c.name FROM events e LEFT JOIN customers c ON c.cust_id = e.event_id WHERE e.event_id < 0;
SELECT 1 AS one, 'k' AS k, e.event_id, c.name FROM events e JOIN customers c ON c.cust_id = e.event_id WHERE e.event_id < 12;
SELECT 1 AS one, e.event_id, c.name FROM events e LEFT JOIN customers c ON c.cust_id = e.event_id WHERE e.event_id < 12;
SELECT e.event_id, upper(c.name) FROM events e LEFT JOIN customers c ON c.cust_id = e.event_id WHERE e.event_id < 12;
SELECT e.event_id AS cust_id, c.cust_id AS event_id FROM events e JOIN customers c ON c.cust_id = e.event_id ORDER BY cust_id, event_id;
SELECT c.cust_id AS name, c.name AS cust_id, e.kind FROM customers c JOIN events e ON e.event_id = c.cust_id ORDER BY cust_id NULLS FIRST, name, 3 LIMIT 20;
SELECT e.event_id, c.name FROM events e JOIN customers c ON c.cust_id = e.event_id ORDER BY 2 DESC NULLS LAST, 1 LIMIT 10 OFFSET 5;
SELECT DISTINCT c.city, e.kind FROM customers c JOIN events e ON e.event_id = c.cust_id;
SELECT DISTINCT c.city, e.kind FROM customers c JOIN events e ON e.event_id = c.cust_id ORDER BY e.kind DESC, c.city NULLS FIRST LIMIT 8;
SELECT DISTINCT ON (e.kind) e.kind, c.cust_id, c.name FROM customers c JOIN events e ON e.event_id = c.cust_id ORDER BY e.kind, c.cust_id DESC, c.name;
SELECT DISTINCT ON (c.region_id) c.region_id, e.event_id FROM customers c LEFT JOIN events e ON e.event_id = c.cust_id ORDER BY c.region_id NULLS FIRST, e.event_id DESC;
SELECT c.cust_id, p.sku FROM customers c CROSS JOIN products p WHERE c.cust_id < 3 AND p.sku < 'SKU-0004';
SELECT c.cust_id, p.sku FROM customers c, products p WHERE c.cust_id IS NULL AND p.price IS NULL ORDER BY p.sku, c.cust_id LIMIT 7;
SELECT o.order_id, p.name FROM orders o, products p WHERE p.sku = o.sku AND o.order_id < 100 AND o.cust_id <> 7 AND p.in_stock;
SELECT o.order_id, p.name FROM orders o JOIN products p ON true WHERE p.sku = o.sku AND o.order_id < 100 AND o.cust_id <> 7;
SELECT a.cust_id, b.cust_id FROM customers a JOIN customers b ON a.name_c = b.name_c WHERE a.cust_id < 50 AND b.cust_id > 500;
SELECT a.sku, b.sku FROM products a JOIN products b ON a.label = b.label WHERE a.price IS NULL;
SELECT a.sku, b.sku FROM products a JOIN products b ON a.label = b.name WHERE a.price IS NULL;
SELECT l.line, o.order_id FROM logs l LEFT JOIN orders o ON o.status = l.level WHERE l.line < 4;
SELECT l.line, l2.line FROM logs l JOIN logs l2 ON l2.level = l.level AND l2.line = l.line WHERE l.line < 6;
SELECT a.id, b.id FROM typed a FULL JOIN typed b ON a.i2 = b.i4 ORDER BY a.id NULLS FIRST, b.id NULLS FIRST;
SELECT a.id, e.event_id FROM typed a FULL JOIN events e ON e.event_id = a.i2 ORDER BY e.event_id NULLS FIRST, a.id NULLS FIRST LIMIT 40;
SELECT a.id, b.id FROM typed a LEFT JOIN typed b ON b.n = a.n AND b.id > 230 WHERE a.id < 30 ORDER BY a.id, b.id NULLS FIRST;
SELECT a.id, b.id FROM typed a RIGHT JOIN typed b ON b.f8 = a.f8 AND a.id < 15 ORDER BY b.id, a.id;
SELECT p.id, o.order_id FROM pinned p FULL JOIN orders o ON o.order_id = p.cust_id ORDER BY o.order_id DESC NULLS FIRST, p.id LIMIT 15;
SELECT o.order_id, p.price FROM orders o JOIN products p ON p.sku = o.sku ORDER BY p.price DESC NULLS LAST, o.order_id LIMIT 10 OFFSET 200;
SELECT o.order_id, p.sku FROM orders o JOIN products p ON p.sku = o.sku AND p.sku = 'SKU-0013' ORDER BY o.order_id LIMIT ALL;
SELECT o.order_id, p.sku FROM orders o JOIN products p ON p.sku = o.sku ORDER BY o.order_id LIMIT 0;
SELECT o.order_id, p.sku FROM orders o JOIN products p ON p.sku = o.sku ORDER BY o.order_id OFFSET 3500;
SELECT c.cust_id, o.order_id FROM customers c JOIN orders o ON o.order_id = c.cust_id AND o.qty = c.region_id WHERE c.cust_id < 300;

SELECT a.taken, b.taken FROM measures a JOIN measures b ON a.m = b.m WHERE b.m::text = '3';
SELECT a.taken, b.taken FROM measures a JOIN measures b ON a.m = b.m WHERE b.m::text = '3' ORDER BY 1, 2;
SELECT c.cust_id, o.order_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id WHERE c.cust_id IS NULL OR c.cust_id < 3 ORDER BY o.order_id DESC, c.cust_id LIMIT 12;
SELECT m.taken, o.order_id, r.region FROM measures m JOIN orders o ON o.amount = m.m JOIN regions r ON r.region_id = o.qty WHERE m.m::text = '70';
SELECT DISTINCT p.category FROM orders o LEFT JOIN products p ON p.sku = o.sku;
SELECT DISTINCT p.category, o.paid FROM orders o LEFT JOIN products p ON p.sku = o.sku ORDER BY p.category DESC, o.paid NULLS FIRST;
SELECT o.order_id FROM orders o JOIN products p ON p.sku = o.sku ORDER BY p.price DESC NULLS LAST, o.order_id LIMIT 5;
SELECT a.id, b.id FROM typed a JOIN typed b ON a.n = b.n AND a.i2 = b.n WHERE a.id < 120;
SELECT a.id, b.id FROM typed a LEFT JOIN typed b ON a.nm = b.nm AND b.id > 235 WHERE a.id < 20;
SELECT a.id, b.id, b.i8 FROM typed a JOIN typed b ON a.i8 = b.i8 WHERE a.id < 40;
SELECT a.id, b.id FROM typed a JOIN typed b USING (u) WHERE a.id < 20;
SELECT count(*) FROM typed a NATURAL JOIN typed b;
SELECT o.order_id, e.event_id FROM orders o JOIN events e ON e.event_id = o.order_id WHERE 1 = 1 AND o.qty = 4 AND e.kind = 'buy';
SELECT o.order_id, e.kind FROM orders o FULL JOIN events e ON e.event_id = o.order_id AND e.cust_id = o.cust_id WHERE o.order_id IS NULL;

-- section: final aggregate
SELECT status, count(*), count(amount), sum(amount), min(amount), max(amount) FROM orders GROUP BY status ORDER BY status;
SELECT paid, count(*), sum(qty), bool_and(paid), bool_or(paid), every(paid) FROM orders GROUP BY paid;
SELECT cust_id, count(*), count(sku), min(sku), max(ordered_at), min(shipped_at) FROM orders GROUP BY cust_id ORDER BY cust_id NULLS FIRST LIMIT 20;
SELECT cust_id, sum(amount) FROM orders GROUP BY cust_id ORDER BY cust_id DESC LIMIT 10 OFFSET 3;
SELECT ship_day, count(*), max(order_id) FROM orders GROUP BY ship_day ORDER BY ship_day DESC NULLS LAST LIMIT 10;
SELECT qty, status, count(*), sum(amount) FROM orders GROUP BY qty, status ORDER BY qty DESC, status;
SELECT status, min(fval), max(fval) FROM orders GROUP BY status;
SELECT city, count(*), count(vip), bool_and(vip), bool_or(vip), min(name), max(name_c) FROM customers GROUP BY city;
SELECT vip, min(created), max(created), sum(score), min(score), max(score) FROM customers GROUP BY vip ORDER BY vip NULLS FIRST;
SELECT region_id, count(*) FROM customers WHERE cust_id > 10000 GROUP BY region_id;
SELECT count(*), sum(amount), min(amount), max(order_id), bool_and(paid) FROM orders WHERE order_id < 0;
SELECT count(*), count(cust_id), sum(cust_id), max(name) FROM customers WHERE cust_id IS NULL;
SELECT cust_id, count(*), count(name), sum(score) FROM customers WHERE cust_id IS NULL OR cust_id <= 3 GROUP BY cust_id;
SELECT count(*) FROM orders GROUP BY paid;
SELECT count(*) AS n, paid FROM orders GROUP BY 2 ORDER BY 2 NULLS FIRST;
SELECT paid AS p, count(*) FROM orders GROUP BY p;
SELECT status AS paid, count(*) FROM orders GROUP BY paid;
SELECT kind, count(*), min(at), max(at), min(day), bool_or(ok) FROM events GROUP BY kind ORDER BY kind DESC;
SELECT ok, count(event_id), sum(event_id), min(event_id), max(event_id) FROM events GROUP BY ok;
SELECT level, count(*), min(dur), max(dur), min(at), max(msg) FROM logs GROUP BY level ORDER BY level LIMIT 3;
SELECT sensor, count(m), sum(m), sum(reading), min(reading), max(taken) FROM measures GROUP BY sensor ORDER BY sensor;
SELECT note, count(*), sum(sensor) FROM measures GROUP BY note ORDER BY note NULLS FIRST;
SELECT v, count(*), sum(amount), min(at) FROM pinned GROUP BY v ORDER BY v DESC LIMIT 5;
SELECT category, in_stock, count(*), sum(price), min(weight), max(added) FROM products GROUP BY category, in_stock ORDER BY category NULLS FIRST, in_stock;
SELECT name_icu, count(*) FROM customers GROUP BY name_icu ORDER BY name_icu LIMIT 5;
SELECT name_c, count(*), min(cust_id) FROM customers GROUP BY name_c ORDER BY name_c DESC LIMIT 5;
SELECT city, min(name_icu), max(name_icu) FROM customers GROUP BY city;
SELECT status, count(*) FROM orders GROUP BY status, status ORDER BY status;
SELECT b, count(*), count(i8), sum(i8), sum(i4), sum(i2), min(i8), max(i8) FROM typed GROUP BY b ORDER BY b NULLS LAST;
SELECT sum(i8), sum(i4), sum(i2), count(*) FROM typed;
SELECT sum(i8), count(i8) FROM typed WHERE i8 > 0;
SELECT ch, count(*), sum(n), min(vc), max(nm) FROM typed GROUP BY ch;
SELECT b, min(n), max(n), sum(f4) IS NULL FROM typed GROUP BY b;
SELECT count(*), min(id) FROM typed GROUP BY iv;
SELECT count(*), min(id), max(id) FROM typed GROUP BY f8;
SELECT count(*), min(id) FROM typed GROUP BY n;
SELECT count(*), min(id) FROM typed GROUP BY bpu;
SELECT count(*), min(id) FROM typed GROUP BY f4, b;
SELECT u, count(*), min(ts), max(dt), min(tm), max(i2) FROM typed GROUP BY u ORDER BY u LIMIT 10;
SELECT ba, count(*), max(mo), min(o) FROM typed GROUP BY ba ORDER BY ba NULLS FIRST;
SELECT ch, o, count(*) FROM typed GROUP BY ch, o ORDER BY ch DESC, o NULLS FIRST LIMIT 25;
SELECT nm, min(f4), max(f4), min(i2) FROM typed GROUP BY nm;
SELECT b, min(f8), max(f8) FROM typed GROUP BY b;
SELECT tm, count(*) FROM typed GROUP BY tm ORDER BY tm DESC LIMIT 3;
SELECT t_posix, count(*), min(t_ucs), max(t_posix) FROM typed GROUP BY t_posix ORDER BY t_posix;
SELECT min(t_icu), max(t_icu) FROM typed;
SELECT mo, count(*) FROM typed GROUP BY mo ORDER BY mo DESC NULLS LAST LIMIT 4;
SELECT dt, ts, count(*) FROM typed WHERE dt = 'infinity' OR ts = '-infinity' GROUP BY dt, ts;
SELECT bp, count(*), sum(i2) FROM typed GROUP BY bp ORDER BY bp;
SELECT vc, count(*) FROM typed GROUP BY vc ORDER BY vc NULLS FIRST;
SELECT count(*), sum(n), min(n), max(i2), bool_and(b), bool_or(b) FROM typed WHERE id > 1000;
SELECT count(*), sum(n) FROM typed WHERE n <> 'NaN' AND n > '-Infinity' AND n < 'Infinity';
SELECT sum(n), count(n) FROM typed WHERE n IN (-3, 3);
SELECT count(*), sum(n) FROM typed WHERE n = 'Infinity' OR n = '-Infinity';
SELECT b, bool_and(b), bool_or(b), every(b), count(b) FROM typed GROUP BY b;
SELECT i2, count(*), sum(i2) FROM typed WHERE i2 IS NULL OR i2 < -95 GROUP BY i2 ORDER BY i2 NULLS FIRST;
SELECT nm, count(*) FROM typed WHERE false GROUP BY nm;
SELECT status, count(*) FROM orders GROUP BY status ORDER BY count(*) DESC, status;
SELECT qty AS status, count(*) FROM orders GROUP BY status;
SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 1 DESC OFFSET 2;
SELECT status AS s, count(*) FROM orders GROUP BY s ORDER BY s;
SELECT min(iv), count(iv) FROM typed;
SELECT ch, sum(mo), max(mo), min(mo) FROM typed GROUP BY ch;
SELECT u, count(u), count(*) FROM typed WHERE u IS NULL GROUP BY u;
SELECT count(*), count(DISTINCT status), sum(amount) FROM orders WHERE cust_id = 7;
SELECT paid, count(*), sum(amount), min(ship_day), max(ship_day) FROM orders WHERE ship_day IS NULL GROUP BY paid ORDER BY paid DESC;
SELECT in_stock, bool_and(in_stock), bool_or(price > 400), count(price) FROM products GROUP BY in_stock;

-- section: coordinator window
SELECT order_id, cust_id, row_number() OVER (PARTITION BY cust_id ORDER BY order_id) FROM orders;
SELECT order_id, amount, rank() OVER (ORDER BY amount DESC NULLS LAST), dense_rank() OVER (ORDER BY amount DESC NULLS LAST) FROM orders;
SELECT order_id, status, rank() OVER (PARTITION BY status ORDER BY qty, order_id) AS r FROM orders WHERE order_id < 300 ORDER BY order_id;
SELECT m, sensor, dense_rank() OVER (ORDER BY m) FROM measures ORDER BY sensor, m, 3;
SELECT m, row_number() OVER (PARTITION BY m ORDER BY sensor, reading, taken, note) FROM measures ORDER BY 1, 2;
SELECT cust_id, name, rank() OVER (PARTITION BY vip ORDER BY created NULLS FIRST) FROM customers ORDER BY cust_id NULLS FIRST, name LIMIT 40;
SELECT event_id, dense_rank() OVER (PARTITION BY day ORDER BY at DESC) FROM events ORDER BY event_id NULLS LAST OFFSET 3;
SELECT line, level, rank() OVER (PARTITION BY level ORDER BY dur) FROM logs ORDER BY line, level, 3;
SELECT name, rank() OVER (ORDER BY name_icu) FROM customers ORDER BY name NULLS FIRST, 2;
SELECT order_id, row_number() OVER (ORDER BY order_id) FROM orders WHERE order_id BETWEEN 100 AND 140;

-- section: distinct and order errors
SELECT DISTINCT status FROM orders ORDER BY qty;
SELECT DISTINCT ON (status) status, order_id FROM orders ORDER BY order_id;
SELECT DISTINCT ON (status, qty) status, qty, order_id FROM orders ORDER BY qty, status, order_id;
SELECT DISTINCT o.status FROM orders o JOIN products p ON p.sku = o.sku ORDER BY p.name;
SELECT DISTINCT ON (p.category) p.category, o.order_id FROM orders o JOIN products p ON p.sku = o.sku ORDER BY p.category, o.order_id DESC;

-- section: having filter
SELECT cust_id, count(*) FROM orders GROUP BY cust_id HAVING count(*) > 3;
SELECT status, count(*), sum(amount) FROM orders GROUP BY status HAVING sum(amount) >= 1000.5 ORDER BY status;
SELECT status, sum(qty) FROM orders GROUP BY status HAVING 100 < sum(qty) AND count(*) <> 7 ORDER BY status;
SELECT count(*) FROM orders HAVING count(*) > 1000000;
SELECT count(*) FROM orders HAVING count(*) > 1;
SELECT m, count(*) FROM measures GROUP BY m HAVING count(*) = 3 ORDER BY m;
SELECT region_id, sum(score) FROM customers GROUP BY region_id HAVING sum(score) < 0 ORDER BY region_id NULLS FIRST;
SELECT kind, count(cust_id) FROM events GROUP BY kind HAVING count(cust_id) >= 0.5 ORDER BY kind;
SELECT day, count(*) FROM events GROUP BY day HAVING count(*) <= 2 ORDER BY day NULLS LAST LIMIT 5;

-- section: init-plan subquery
SELECT order_id FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE city = 'Paris') ORDER BY order_id;
SELECT order_id FROM orders WHERE cust_id NOT IN (SELECT cust_id FROM customers WHERE city = 'Paris') ORDER BY order_id;
SELECT order_id FROM orders WHERE cust_id NOT IN (SELECT cust_id FROM customers WHERE cust_id > 580 AND cust_id < 600) ORDER BY order_id;
SELECT count(*) FROM orders WHERE amount > (SELECT avg(amount) FROM orders);
SELECT order_id, amount FROM orders WHERE amount = (SELECT max(amount) FROM orders) ORDER BY order_id;
SELECT * FROM customers WHERE cust_id = (SELECT min(cust_id) FROM orders WHERE status = 'nope');
SELECT order_id FROM orders WHERE cust_id = (SELECT cust_id FROM customers WHERE city = 'Paris');
SELECT name FROM customers WHERE region_id IN (SELECT region_id FROM regions WHERE country = 'FR') ORDER BY name NULLS FIRST, cust_id;
SELECT sku FROM products WHERE sku IN (SELECT sku FROM orders WHERE qty > 8) ORDER BY sku;
SELECT m, sensor FROM measures WHERE m IN (SELECT m FROM measures WHERE sensor = 3) ORDER BY sensor, m;
SELECT count(*) FROM measures WHERE m = (SELECT m FROM measures WHERE sensor = 3 ORDER BY m LIMIT 1);
SELECT id FROM typed WHERE bp IN (SELECT bp FROM typed WHERE id < 20) ORDER BY id;
SELECT id FROM typed WHERE bpu = (SELECT bpu FROM typed WHERE id = 7) ORDER BY id;
SELECT id FROM typed WHERE f8 IN (SELECT f8 FROM typed WHERE id % 3 = 0) ORDER BY id;
SELECT id FROM typed WHERE f4 > (SELECT avg(f4) FROM typed WHERE f4 <> 'NaN' AND f4 < 1e30 AND f4 > -1e30) ORDER BY id;
SELECT id FROM typed WHERE iv IN (SELECT iv FROM typed WHERE id < 30) ORDER BY id;
SELECT id FROM typed WHERE ts = ANY (SELECT ts FROM typed WHERE id < 10) ORDER BY id;
SELECT id FROM typed WHERE ba IN (SELECT ba FROM typed WHERE id < 10) ORDER BY id;
SELECT id FROM typed WHERE u IN (SELECT u FROM typed WHERE id < 10) ORDER BY id;
SELECT id FROM typed WHERE t_icu IN (SELECT t_icu FROM typed WHERE id < 10) ORDER BY id;
SELECT id FROM typed WHERE t_posix < (SELECT max(t_icu) FROM typed) ORDER BY id;
SELECT order_id FROM orders WHERE cust_id = (SELECT cust_id FROM customers WHERE city = 'nowhere') ORDER BY order_id;
SELECT count(*) FROM orders WHERE cust_id = (SELECT cust_id FROM customers WHERE city = 'nowhere');
SELECT order_id FROM orders WHERE cust_id = (SELECT cust_id FROM customers WHERE cust_id IN (1, 2));
SELECT count(*) FROM orders WHERE cust_id = (SELECT max(cust_id) FROM customers WHERE cust_id IS NULL);
SELECT count(*), sum(amount) FROM orders WHERE cust_id = (SELECT max(cust_id) FROM customers WHERE cust_id < 8);
SELECT count(*), min(order_id) FROM orders WHERE cust_id = (SELECT min(event_id) FROM events WHERE kind = 'buy');
SELECT order_id, amount FROM orders WHERE cust_id = (SELECT min(cust_id) FROM customers WHERE city = 'Paris') ORDER BY amount NULLS FIRST, order_id LIMIT 4;
SELECT count(*) FROM orders WHERE cust_id = (SELECT max(i8) FROM typed WHERE i8 < 100);
SELECT count(*) FROM orders WHERE cust_id = (SELECT max(i2) FROM typed);
SELECT name FROM products WHERE sku = (SELECT max(sku) FROM orders WHERE qty = 3);
SELECT count(*), max(price) FROM products WHERE sku = (SELECT min(sku) FROM orders);
SELECT sensor, reading FROM measures WHERE m = (SELECT max(m) FROM measures WHERE sensor = 2) ORDER BY sensor, reading;
SELECT count(*) FROM measures WHERE m = (SELECT min(m) FROM measures);
SELECT id FROM typed WHERE u = (SELECT u FROM typed WHERE id = 3) ORDER BY id;
SELECT count(*) FROM typed WHERE u = (SELECT u FROM typed WHERE id = 17);
SELECT order_id FROM orders WHERE cust_id IN (SELECT region_id FROM customers WHERE cust_id < 40) ORDER BY order_id;
SELECT count(*) FROM customers WHERE NOT (cust_id IN (SELECT region_id FROM customers WHERE cust_id < 40));
SELECT count(*) FROM orders WHERE cust_id IN (SELECT order_id FROM orders WHERE order_id < 1500);
SELECT count(*) FROM orders WHERE order_id IN (SELECT order_id FROM orders WHERE qty > 1);
SELECT order_id FROM orders WHERE cust_id IN (SELECT order_id FROM orders WHERE order_id < 1500) AND qty = 2 ORDER BY order_id;
SELECT count(*) FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE city = 'nowhere');
SELECT order_id FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE city = 'nowhere');
SELECT order_id FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE cust_id IS NULL);
SELECT sku, name FROM products WHERE sku IN (SELECT sku FROM orders WHERE qty = 9 AND amount > 900) ORDER BY sku;
SELECT count(*) FROM measures WHERE m IN (SELECT m FROM measures WHERE sensor < 3);
SELECT count(*) FROM orders WHERE cust_id IN (SELECT i8 FROM typed WHERE id < 50);
SELECT count(*) FROM measures WHERE m IN (SELECT n FROM typed);
SELECT count(*) FROM measures WHERE m = (SELECT max(n) FROM typed);
SELECT order_id FROM orders WHERE cust_id IN (SELECT cust_id FROM customers WHERE city = 'Paris') AND amount > (SELECT avg(amount) FROM orders) ORDER BY order_id;
SELECT status, count(*), sum(qty) FROM orders WHERE amount > (SELECT avg(amount) FROM orders) GROUP BY status ORDER BY status;
SELECT o.order_id, c.name FROM orders o JOIN customers c ON c.name = o.sku WHERE o.cust_id IN (SELECT event_id FROM events WHERE kind = 'buy') ORDER BY 1, 2;
SELECT c.city, count(*) FROM customers c JOIN orders o ON o.qty = c.region_id WHERE c.cust_id = (SELECT max(event_id) FROM events WHERE event_id < 40) GROUP BY c.city ORDER BY 1 NULLS FIRST;
SELECT cust_id, count(*) FROM orders WHERE cust_id IN (SELECT event_id FROM events WHERE kind = 'buy') GROUP BY cust_id ORDER BY 2 DESC, 1 LIMIT 5;
SELECT DISTINCT status FROM orders WHERE sku = (SELECT max(sku) FROM products WHERE category = 'toys') ORDER BY 1;
SELECT id FROM typed WHERE mo > (SELECT min(mo) FROM typed) ORDER BY id;
SELECT id FROM typed WHERE nm IN (SELECT nm FROM typed WHERE id < 15) ORDER BY id;
SELECT e.event_id FROM events e WHERE e.cust_id IN (SELECT o.cust_id FROM orders o WHERE o.qty = 1) AND e.ok ORDER BY 1 NULLS LAST;
SELECT line FROM logs WHERE dur > (SELECT avg(dur) FROM logs) ORDER BY line LIMIT 10;
SELECT count(*) FROM customers WHERE tags = (SELECT tags FROM customers WHERE cust_id = 3);

-- section: co-located merge
SELECT c.cust_id, c.name, o.order_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id ORDER BY o.order_id LIMIT 15;
SELECT c.name, o.amount FROM customers c JOIN orders o ON o.cust_id = c.cust_id WHERE o.qty > 3 ORDER BY o.amount DESC NULLS LAST, o.order_id LIMIT 10 OFFSET 5;
SELECT DISTINCT c.city FROM customers c JOIN orders o ON o.cust_id = c.cust_id ORDER BY c.city NULLS FIRST;
SELECT c.cust_id, r.region, o.order_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id JOIN regions r ON r.region_id = c.region_id ORDER BY o.order_id DESC LIMIT 7;
SELECT c.cust_id, o.order_id FROM customers c LEFT JOIN orders o ON o.cust_id = c.cust_id ORDER BY c.cust_id NULLS FIRST, o.order_id NULLS FIRST LIMIT 30;
SELECT DISTINCT ON (c.cust_id) c.cust_id, o.amount FROM customers c JOIN orders o ON o.cust_id = c.cust_id ORDER BY c.cust_id, o.amount DESC NULLS LAST, o.order_id;

-- section: repeated shapes
-- The same text with other constants: the coordinator plans it once, then
-- sends its constants as parameters of a statement the datanode prepares.
SELECT * FROM customers WHERE cust_id = 41;
SELECT * FROM customers WHERE cust_id = 42;
SELECT * FROM customers WHERE cust_id = 43;
SELECT name, score + 1, score * 2 FROM customers WHERE cust_id = 5 AND score > -100;
SELECT name, score + 1, score * 2 FROM customers WHERE cust_id = 6 AND score > -150;
SELECT name, score + 1, score * 2 FROM customers WHERE cust_id = 7 AND score > - 250;
SELECT name FROM customers WHERE cust_id = 8 AND name LIKE 'B%';
SELECT name FROM customers WHERE cust_id = 9 AND name LIKE 'c%';
SELECT name FROM customers WHERE cust_id = 10 AND name LIKE '%o%';
SELECT cust_id, created FROM customers WHERE cust_id = 11 AND created > '2020-03-01';
SELECT cust_id, created FROM customers WHERE cust_id = 12 AND created > '2021-03-01';
SELECT cust_id, created FROM customers WHERE cust_id = 13 AND created > '2019-03-01';
SELECT cust_id, created FROM customers WHERE cust_id = 14 AND created > 'not a date';
SELECT * FROM customers WHERE cust_id = 15 AND region_id BETWEEN 2 AND 9;
SELECT * FROM customers WHERE cust_id = 16 AND region_id BETWEEN 2 AND 9;
SELECT * FROM customers WHERE cust_id = 17 AND region_id NOT BETWEEN 20 AND 30;
SELECT * FROM customers WHERE cust_id = 3000000000;
SELECT * FROM customers WHERE cust_id = 2147483647;
SELECT * FROM customers WHERE cust_id = 18 AND region_id IN (1, 2, 3, 4, 5, 6, 7);
SELECT * FROM customers WHERE cust_id = 19 AND region_id IN (8, 9, 10, 11, 12, 13, 14);
SELECT * FROM customers WHERE cust_id = 20 AND city IN ('Paris', 'berlin');
SELECT * FROM customers WHERE cust_id = 21 AND city IN ('Zürich', 'Łódź');
SELECT * FROM customers WHERE cust_id = 22 AND city IN ('x', 'y');
SELECT event_id, event_id + 2147483647 FROM events WHERE event_id = -5;
SELECT event_id, event_id + 2147483647 FROM events WHERE event_id = 100;
SELECT event_id, event_id + 2147483647 FROM events WHERE event_id = 7;
SELECT event_id, event_id + -2147483648 FROM events WHERE event_id = 7;
SELECT event_id, event_id + -2147483648 FROM events WHERE event_id = -7;
SELECT event_id, event_id + -2147483648 FROM events WHERE event_id = -8;
SELECT * FROM products WHERE sku = 'SKU-0042';
SELECT * FROM products WHERE sku = 'SKU-0043';
SELECT * FROM products WHERE sku = 'SKU-0044';
SELECT sku, price FROM products WHERE sku = 'SKU-0045' AND price > 3;
SELECT sku, price FROM products WHERE sku = 'SKU-0046' AND price > 3;
SELECT sku, price FROM products WHERE sku = 'SKU-0047' AND price > 'x';
SELECT sku, price FROM products WHERE sku = 'SKU-0048' AND price > '3.5';
SELECT sku, attrs -> 'color' FROM products WHERE sku = 'SKU-0049' AND attrs ->> 'color' = 'red';
SELECT sku, attrs -> 'color' FROM products WHERE sku = 'SKU-0050' AND attrs ->> 'color' = 'red';
SELECT sku, attrs -> 'color' FROM products WHERE sku = 'SKU-0051' AND attrs ->> 'color' = 'blue';
SELECT m, sensor FROM measures WHERE m = 3 AND sensor > 1;
SELECT m, sensor FROM measures WHERE m = 4 AND sensor > 1;
SELECT m, sensor FROM measures WHERE m = 5 AND sensor > 1;
SELECT * FROM events WHERE event_id = 7 AND day > '2020-01-01' AND kind = 'click';
SELECT * FROM events WHERE event_id = 8 AND day > '2020-01-01' AND kind = 'view';
SELECT * FROM events WHERE event_id = 9 AND day > '2020-01-01' AND kind = 'buy';
SELECT * FROM customers WHERE cust_id = 99991 AND 1 / 0 = 1;
SELECT * FROM customers WHERE cust_id = 99992 AND 1 / 0 = 1;
SELECT * FROM customers WHERE cust_id = 99993 AND 1 / 0 = 1;
SELECT * FROM customers WHERE 23 = cust_id AND 100 > region_id;
SELECT * FROM customers WHERE 24 = cust_id AND 100 > region_id;
SELECT * FROM customers WHERE 25 = cust_id AND 100 > region_id;

-- section: operand parentheses
-- NOT / AND / OR / comparisons as operands of IS, IN, BETWEEN, DISTINCT:
-- the SQL sent to the datanodes keeps their brackets.
SELECT count(*) FROM customers WHERE (NOT vip) IS NULL;
SELECT count(*) FROM customers WHERE (NOT vip) IS NOT NULL;
SELECT count(*) FROM customers WHERE (vip OR cust_id > 5) IN (false);
SELECT count(*) FROM customers WHERE (vip AND cust_id BETWEEN 1 AND 5) IN (true);
SELECT count(*) FROM customers WHERE (vip AND cust_id > 3) IS NOT TRUE;
SELECT count(*) FROM customers WHERE (vip OR vip IS NULL) IS DISTINCT FROM (cust_id > 10);
SELECT count(*) FROM customers WHERE (NOT vip) IS NOT DISTINCT FROM (region_id = 1);
SELECT count(*) FROM customers WHERE (cust_id > 5) NOT IN (SELECT vip FROM customers WHERE vip IS NOT NULL);
SELECT count(*) FROM customers WHERE (cust_id = region_id) = ANY (ARRAY[true]);
SELECT count(*) FROM customers WHERE (NOT vip) BETWEEN false AND (region_id > 2);
SELECT count(*) FROM orders WHERE (qty > 2) < (amount > 100);
SELECT cust_id, (NOT vip) IS NULL AS n, (vip OR cust_id > 5) IN (false) AS f FROM customers ORDER BY cust_id NULLS FIRST, n, f LIMIT 20;
SELECT count(*) FROM events WHERE (at AT TIME ZONE 'UTC') IS NULL;

-- section: constant and set-returning sort keys
SELECT cust_id, 1 FROM customers ORDER BY 2, 1 DESC NULLS LAST LIMIT 3;
SELECT cust_id, 7 FROM customers ORDER BY 2, 1 DESC NULLS LAST LIMIT 3;
SELECT cust_id, 'x' FROM customers ORDER BY 2, 1 DESC NULLS LAST LIMIT 3;
SELECT cust_id, 1 AS one FROM customers ORDER BY one, cust_id NULLS FIRST LIMIT 4 OFFSET 2;
SELECT cust_id, generate_series(1, 2) AS g FROM customers WHERE cust_id IS NOT NULL ORDER BY cust_id, g LIMIT 4;
SELECT cust_id, unnest(ARRAY[1, 2]) AS g FROM customers WHERE cust_id IS NOT NULL ORDER BY cust_id, g LIMIT 4;
SELECT event_id, generate_series(1, event_id % 3) AS g FROM events WHERE event_id > 0 ORDER BY event_id, g LIMIT 7;

-- section: literals across joined key types
SELECT c.cust_id FROM customers c JOIN typed t ON c.cust_id = t.i8 WHERE t.i8 IN ('5', '3000000000');
SELECT c.cust_id, t.i8 FROM customers c JOIN typed t ON c.cust_id = t.i8 WHERE t.i8 = '3000000000';
SELECT c.cust_id, t.i2 FROM customers c JOIN typed t ON c.cust_id = t.i2 WHERE t.i2 BETWEEN '1' AND '30000' ORDER BY 1, 2;
SELECT t.id, o.order_id FROM typed t JOIN orders o ON o.order_id = t.i8 WHERE t.i8 IN ('1', '9999999999') ORDER BY 1, 2;

-- section: system columns over several datanodes
SELECT count(*) FROM customers WHERE ctid > '(0,0)';
SELECT c.tableoid > 0, c.xmin IS NOT NULL FROM customers c JOIN orders o ON c.cust_id = o.order_id LIMIT 1;
SELECT count(*) FROM customers c JOIN orders o ON c.cust_id = o.order_id WHERE c.xmin <> '0' AND o.tableoid > 0;
SELECT count(DISTINCT ctid) > 0 FROM events;

-- section: tablesample over several datanodes
SELECT count(*) FROM customers TABLESAMPLE SYSTEM (100);
SELECT count(*) FROM customers TABLESAMPLE BERNOULLI (100) REPEATABLE (7);
SELECT count(*) FROM customers TABLESAMPLE BERNOULLI (0);
SELECT count(*) FROM customers c TABLESAMPLE BERNOULLI (100) JOIN typed t ON t.i8 = c.cust_id;
SELECT count(*) FROM (SELECT * FROM orders TABLESAMPLE SYSTEM (100)) s WHERE qty > 1;

-- section: locking over several datanodes
SELECT cust_id FROM customers WHERE cust_id < 5 ORDER BY cust_id FOR UPDATE;
SELECT cust_id, name FROM customers WHERE cust_id < 5 ORDER BY name, cust_id FOR SHARE;
SELECT order_id FROM orders WHERE order_id < 5 FOR UPDATE;
SELECT c.cust_id FROM customers c JOIN orders o ON o.cust_id = c.cust_id WHERE c.cust_id < 5 ORDER BY 1 FOR UPDATE OF c;
-- Refused (listed in refused.txt): each datanode would lock rows the limit drops.
SELECT cust_id FROM customers WHERE cust_id IS NOT NULL ORDER BY cust_id LIMIT 2 FOR UPDATE;

-- section: found by the random generator
-- A literal cast to the subquery's type (bigint) keeps it when a join copies the term to an int column.
SELECT round(nullif(t1.n, 0), 5) AS c1, substr(t1.t_ucs, 1, 3) AS c2 FROM typed t1 INNER JOIN customers c2 ON t1.i8 = c2.cust_id WHERE timestamptz '2023-03-01 00:00+00' >= t1.ts ORDER BY round(nullif(t1.n, 0), 5) DESC, substr(t1.t_ucs, 1, 3) LIMIT 17;
SELECT c.cust_id FROM customers c JOIN typed t ON c.cust_id = t.i8 WHERE t.i8 IN (CAST('9223372036854775001' AS bigint), 5);
