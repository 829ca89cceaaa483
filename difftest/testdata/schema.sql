-- Tables of every distribution type. The plain PostgreSQL side gets the same
-- statements with the DISTRIBUTE BY / TO NODE clauses taken out (dialect.Parse).

-- HASH on int; orders below is co-located with it on cust_id.
CREATE TABLE customers (
    cust_id   int,
    name      text,
    name_c    text COLLATE "C",
    name_icu  text COLLATE "en-x-icu",
    city      text,
    region_id int,
    created   date,
    vip       boolean,
    score     numeric(8,2),
    tags      text[],
    profile   jsonb
) DISTRIBUTE BY HASH (cust_id);

-- HASH on int, same column as customers; skewed (cust_id 7) and with NULL keys.
CREATE TABLE orders (
    order_id   int,
    cust_id    int,
    sku        text,
    amount     numeric(12,2),
    qty        int,
    status     text COLLATE "C",
    ordered_at timestamp,
    shipped_at timestamptz,
    ship_day   date,
    paid       boolean,
    items      int[],
    meta       json,
    fval       float8
) DISTRIBUTE BY HASH (cust_id);

-- HASH on text.
CREATE TABLE products (
    sku      text,
    name     text,
    label    text COLLATE "C.utf8",
    category text,
    price    numeric(10,2),
    weight   float8,
    in_stock boolean,
    added    timestamptz,
    attrs    jsonb
) DISTRIBUTE BY HASH (sku);

-- HASH on numeric: equal values written with different scales.
CREATE TABLE measures (
    m      numeric,
    sensor int,
    reading numeric(10,4),
    taken  timestamp,
    note   text
) DISTRIBUTE BY HASH (m);

-- MODULO on int.
CREATE TABLE events (
    event_id int,
    cust_id  int,
    kind     text,
    at       timestamptz,
    day      date,
    ok       boolean,
    payload  jsonb,
    codes    text[]
) DISTRIBUTE BY MODULO (event_id);

-- ROUNDROBIN, with whole duplicate rows.
CREATE TABLE logs (
    line  int,
    level text COLLATE "C",
    msg   text,
    at    timestamp,
    words text[],
    dur   interval
) DISTRIBUTE BY ROUNDROBIN;

-- REPLICATION.
CREATE TABLE regions (
    region_id int PRIMARY KEY,
    region    text,
    country   text COLLATE "C",
    rate      numeric(5,3),
    opened    date
) DISTRIBUTE BY REPLICATION;

-- HASH on one datanode only.
CREATE TABLE pinned (
    id      int,
    cust_id int,
    v       text,
    amount  numeric(10,2),
    at      timestamp
) DISTRIBUTE BY HASH (id) TO NODE (datanode1);

-- Views over distributed and replicated tables.
CREATE VIEW big_orders AS
    SELECT order_id, cust_id, amount, status FROM orders WHERE amount > 500;
CREATE VIEW customer_regions AS
    SELECT c.cust_id, c.name, r.region, r.country
    FROM customers c LEFT JOIN regions r ON r.region_id = c.region_id;
CREATE VIEW region_names AS SELECT region_id, upper(region) AS region FROM regions;

-- HASH on uuid: the key types no other table has (int2, int8, float4 with
-- float8 NaN/-0/infinities, varchar, bpchar, name, bytea, time, money,
-- "char", oid, numeric NaN/infinities, intervals equal in span but written
-- apart), and the bytewise collations "POSIX" and ucs_basic.
CREATE TABLE typed (
    id    int,
    u     uuid,
    i2    int2,
    i4    int,
    i8    int8,
    n     numeric,
    f4    float4,
    f8    float8,
    vc    varchar(20),
    bp    char(6),
    bpu   bpchar,
    nm    name,
    ba    bytea,
    tm    time,
    ts    timestamp,
    dt    date,
    iv    interval,
    mo    money,
    ch    "char",
    o     oid,
    b     boolean,
    t_posix text COLLATE "POSIX",
    t_ucs   text COLLATE "ucs_basic",
    t_icu   text COLLATE "und-x-icu"
) DISTRIBUTE BY HASH (u);
