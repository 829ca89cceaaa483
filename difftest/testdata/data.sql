-- Deterministic data: generate_series and expressions only. The same
-- statements run through the coordinator and on plain PostgreSQL.

INSERT INTO regions
SELECT r,
       (ARRAY['north','South','east','West','Nord','Süd','Est','Ouest','centre','Centre'])[r],
       (ARRAY['FR','DE','FR','US','DE','US','BR','FR','CH','PL'])[r],
       r * 0.125,
       date '2000-01-01' + r * 400
FROM generate_series(1, 10) AS r;

-- 600 rows: cust_id 581..590 repeat 1..10, 591..600 are NULL.
INSERT INTO customers
SELECT CASE WHEN i > 590 THEN NULL WHEN i > 580 THEN i - 580 ELSE i END,
       nm, nm, nm,
       (ARRAY['Paris','berlin','Łódź','New York','são paulo','Zürich',NULL])[1 + i % 7],
       CASE WHEN i % 19 = 0 THEN NULL ELSE 1 + i % 12 END,
       date '2020-01-01' + (i * 37) % 1500,
       CASE i % 5 WHEN 0 THEN true WHEN 1 THEN NULL ELSE false END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7919) % 100000) / 100.0 - 200 END,
       CASE WHEN i % 9 = 0 THEN NULL WHEN i % 9 = 1 THEN '{}'::text[]
            ELSE ARRAY[(ARRAY['red','green','blue','Gold'])[1 + i % 4], (ARRAY['x','y'])[1 + i % 2]] END,
       CASE WHEN i % 13 = 0 THEN NULL
            ELSE jsonb_build_object('age', 18 + i % 60, 'lang', (ARRAY['en','fr','de'])[1 + i % 3],
                                    'kids', i % 4, 'vip', i % 5 = 0) END
FROM generate_series(1, 600) AS i,
     LATERAL (SELECT CASE WHEN i % 23 = 0 THEN NULL
                 ELSE (ARRAY['alice','Bob','carol','Dave','éric','Émile','zoë','Zed','åsa','Øyvind',
                             'ANNA','anna',' lead','x-ray','o''brien'])[1 + i % 15]
                      || CASE WHEN i % 7 = 0 THEN '' ELSE ' ' || (i % 40) END END AS nm) AS n;

-- 4000 rows: a quarter for cust_id 7 (skew), every 50th without a customer,
-- some cust_id and sku values that match no customer / product.
INSERT INTO orders
SELECT j,
       CASE WHEN j % 50 = 0 THEN NULL WHEN j % 4 = 0 THEN 7 ELSE 1 + (j * 31) % 620 END,
       CASE WHEN j % 97 = 0 THEN NULL ELSE 'SKU-' || lpad(((j * 13) % 450)::text, 4, '0') END,
       CASE WHEN j % 41 = 0 THEN NULL ELSE ((j * 7907) % 100000) / 100.0 END,
       1 + j % 9,
       (ARRAY['new','paid','shipped','Cancelled','returned'])[1 + (j * 3) % 5],
       timestamp '2023-01-01 00:00' + ((j * 3571) % 525600) * interval '1 minute',
       CASE WHEN j % 6 = 0 THEN NULL
            ELSE timestamptz '2023-01-01 00:00+00' + ((j * 3571) % 525600 + 1440 * (1 + j % 5)) * interval '1 minute' END,
       CASE WHEN j % 6 = 0 THEN NULL
            ELSE (timestamp '2023-01-01 00:00' + ((j * 3571) % 525600 + 1440 * (1 + j % 5)) * interval '1 minute')::date END,
       CASE WHEN j % 17 = 0 THEN NULL ELSE j % 3 <> 0 END,
       ARRAY[j % 10, j % 7, j % 3],
       json_build_object('src', (ARRAY['web','app','phone'])[1 + j % 3], 'n', j % 8),
       (j % 100) / 8.0
FROM generate_series(1, 4000) AS j;

INSERT INTO products
SELECT 'SKU-' || lpad(p::text, 4, '0'),
       (ARRAY['widget','Gadget','doohickey','Gizmo','thingamajig','Ünit','écrou'])[1 + p % 7] || ' ' || p,
       (ARRAY['widget','Gadget','doohickey','Gizmo','thingamajig','Ünit','écrou'])[1 + p % 7] || ' ' || p,
       (ARRAY['tools','toys','Garden','books',NULL])[1 + p % 5],
       CASE WHEN p % 29 = 0 THEN NULL ELSE (p * 37 % 5000) / 10.0 + 0.99 END,
       (p % 40) * 0.25,
       p % 4 <> 0,
       timestamptz '2022-06-01 12:00+02' + p * interval '17 hours',
       jsonb_build_object('color', (ARRAY['red','blue',NULL])[1 + p % 3], 'size', p % 5,
                          'dims', jsonb_build_array(p % 3, p % 4))
FROM generate_series(0, 399) AS p;

-- m: the same numbers written with scales 0, 1 and 3 (they hash alike), and NULLs.
INSERT INTO measures
SELECT CASE WHEN i % 61 = 0 THEN NULL
            ELSE CASE i % 4 WHEN 0 THEN ((i / 4) % 100)::numeric
                            WHEN 1 THEN ((i / 4) % 100)::numeric(10,1)
                            WHEN 2 THEN ((i / 4) % 100)::numeric(10,3)
                            ELSE (i % 100) / 8.0 END END,
       1 + i % 13,
       ((i * 7) % 1000) / 3.0,
       timestamp '2024-02-28 22:00' + i * interval '37 minutes',
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'n' || (i % 17) END
FROM generate_series(1, 800) AS i;

-- event_id from -19 to 1480, with a few NULLs.
INSERT INTO events
SELECT CASE WHEN e % 211 = 0 THEN NULL ELSE e - 20 END,
       1 + (e * 17) % 600,
       (ARRAY['click','view','buy','Click','VIEW','refund'])[1 + e % 6],
       timestamptz '2024-03-30 23:00:00+00' + e * interval '53 minutes',
       (timestamp '2024-03-30 23:00:00' + e * interval '53 minutes')::date,
       e % 7 <> 3,
       CASE WHEN e % 10 = 0 THEN NULL
            ELSE jsonb_build_object('v', e % 10, 'tags', jsonb_build_array('a', 'b'), 'price', (e % 50) / 4.0) END,
       ARRAY['c' || (e % 3), 'd' || (e % 4)]
FROM generate_series(1, 1500) AS e;

-- every row twice
INSERT INTO logs
SELECT x,
       (ARRAY['INFO','WARN','ERROR','debug','info'])[1 + x % 5],
       'message ' || (x % 37) || CASE WHEN x % 5 = 0 THEN ' — ünïcode' ELSE '' END,
       timestamp '2024-01-01' + x * interval '1 hour 7 minutes',
       string_to_array('w' || (x % 3) || ' w' || (x % 5), ' '),
       x * interval '13 seconds'
FROM generate_series(1, 1000) AS l, LATERAL (SELECT 1 + (l - 1) % 500 AS x) AS s;

INSERT INTO pinned
SELECT id, 1 + (id * 7) % 650, 'p' || (id % 25), ((id * 313) % 10000) / 100.0,
       timestamp '2024-05-01' + id * interval '2 hours'
FROM generate_series(1, 300) AS id;

-- 240 rows; id is unique, u repeats (i and i + 150), every other column
-- has NULLs and values equal under = but written differently.
INSERT INTO typed
SELECT i,
       CASE WHEN i % 17 = 0 THEN NULL ELSE md5((i % 150)::text)::uuid END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE ((i * 37) % 200 - 100)::int2 END,
       CASE WHEN i % 14 = 0 THEN NULL WHEN i % 2 = 0 THEN 2147483647 - i ELSE -2147483647 + i END,
       CASE WHEN i % 11 = 0 THEN NULL
            WHEN i % 3 = 0 THEN -9223372036854775807 + i
            WHEN i % 3 = 1 THEN 9223372036854775000 + i
            ELSE i::int8 * 1000000007 END,
       CASE WHEN i % 19 = 0 THEN NULL
            WHEN i % 23 = 0 THEN 'NaN'::numeric
            WHEN i = 50 THEN 'Infinity'::numeric
            WHEN i = 51 THEN '-Infinity'::numeric
            WHEN i % 3 = 0 THEN ((i % 40) - 20)::numeric
            WHEN i % 3 = 1 THEN ((i % 40) - 20)::numeric(10,2)
            ELSE ((i % 40) - 20)::numeric(12,5) END,
       CASE WHEN i % 29 = 0 THEN NULL ELSE (((i % 20) - 10) / 10.0)::float4 END,
       CASE WHEN i % 31 = 0 THEN NULL
            WHEN i % 10 = 0 THEN 'NaN'::float8
            WHEN i % 10 = 1 THEN '-0'::float8
            WHEN i % 10 = 2 THEN '0'::float8
            WHEN i % 10 = 3 THEN 'Infinity'::float8
            WHEN i % 10 = 4 THEN '-Infinity'::float8
            ELSE ((i % 8) - 4) / 10.0 END,
       (ARRAY['a', 'B', 'a ', 'ä', 'Z', '', 'ab', NULL, 'b'])[1 + i % 9],
       (ARRAY['a', 'B', 'a ', 'ä', 'Z', '', 'ab', NULL, 'b'])[1 + (i * 5) % 9],
       (ARRAY['x', 'x ', 'x  ', 'y', ' y', NULL, ''])[1 + i % 7]::bpchar,
       (ARRAY['alpha', 'Beta', 'gamma', '_x', 'Ä', NULL])[1 + i % 6]::name,
       CASE WHEN i % 16 = 0 THEN NULL WHEN i % 16 = 1 THEN '\x'::bytea WHEN i % 16 = 2 THEN '\xff'::bytea
            WHEN i % 16 = 3 THEN '\x00'::bytea ELSE decode(lpad(to_hex((i * 7) % 40), 4, '0'), 'hex') END,
       CASE WHEN i % 18 = 0 THEN NULL WHEN i = 77 THEN time '24:00' ELSE time '00:00' + ((i * 97) % 1440) * interval '1 minute' END,
       CASE WHEN i % 37 = 0 THEN timestamp 'infinity' WHEN i % 41 = 0 THEN timestamp '-infinity' WHEN i % 43 = 0 THEN NULL
            ELSE timestamp '2024-01-01' + (i % 50) * interval '1 hour 1 minute' END,
       CASE WHEN i % 37 = 1 THEN date 'infinity' WHEN i % 41 = 1 THEN date '-infinity' WHEN i % 43 = 1 THEN NULL
            ELSE date '1999-12-25' + (i * 3) % 30 END,
       (ARRAY['1 day', '24 hours', '1 mon', '30 days', '720 hours', '-1 day', '00:00:00', '1 day -24 hours', NULL,
              '1 year', '12 mons', '360 days'])[1 + i % 12]::interval,
       CASE WHEN i % 21 = 0 THEN NULL ELSE (((i % 30) - 10) * 1.25)::numeric::money END,
       CASE WHEN i % 22 = 0 THEN NULL ELSE (ARRAY['a', 'B', 'z', 'é', '~', ' '])[1 + i % 6]::"char" END,
       CASE WHEN i % 24 = 0 THEN NULL ELSE ((i % 9)::int8 * 500000000)::oid END,
       CASE i % 3 WHEN 0 THEN true WHEN 1 THEN false END,
       (ARRAY['a', 'B', 'ä', 'Z', NULL, 'b'])[1 + i % 6],
       (ARRAY['b', 'A', 'é', 'Ö', NULL, 'a'])[1 + (i * 7) % 6],
       (ARRAY['b', 'A', 'é', 'Ö', NULL, 'a', 'B'])[1 + i % 7]
FROM generate_series(1, 240) AS i;
