"""The psycopg row of the driver matrix (psycopg2).

Connects to a coordinator (PGHOST, PGPORT, PGUSER, PGDATABASE), binds
parameters of common types (client-side, and to a server-side statement made
with SQL PREPARE/EXECUTE), reads them back, runs a committed and a rolled-back
transaction and reads SQLSTATEs of errors. It prints each check and exits
non-zero on the first failure.
"""

import datetime
import decimal
import sys
import uuid

import psycopg2
import psycopg2.errorcodes
import psycopg2.extras

TBL = "drv_psycopg"
UTC = datetime.timezone.utc

ROWS = [
    (1, 9007199254740993, decimal.Decimal("12345678901234.567890"), "héllo, wörld ✓ 'quoted' \\ back %s",
     b"\x00\x01\xff\x27\x5c", True, datetime.date(2024, 2, 29),
     datetime.datetime(2024, 3, 10, 12, 34, 56, 123456, tzinfo=UTC),
     uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), {"k": [1, 2, {"x": None}], "s": "v"}, [1, -2, 3]),
    (2, -9223372036854775808, decimal.Decimal("-0.000001"), "", b"", False, datetime.date(1999, 12, 31),
     datetime.datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0), [], []),
    (3, None, None, None, None, None, None, None, None, None, None),
]
# Row 2 is inserted through a server-side statement (SQL PREPARE/EXECUTE).
PREPARED_IDS = {2, 3}


def ok(msg):
    print("psycopg2: ok: " + msg, flush=True)


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def adapt(r):
    out = list(r)
    if r[4] is not None:
        out[4] = psycopg2.Binary(r[4])
    if r[9] is not None:
        out[9] = psycopg2.extras.Json(r[9])
    return out


def normalise(r):
    r = list(r)
    if r[4] is not None:
        r[4] = bytes(r[4])
    return tuple(r)


def sqlstate(fn):
    try:
        fn()
    except psycopg2.Error as e:
        return e.pgcode
    return None


def main():
    psycopg2.extras.register_uuid()
    conn = psycopg2.connect("sslmode=disable")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS " + TBL)
    cur.execute("CREATE TABLE " + TBL + " (id int PRIMARY KEY, b bigint, n numeric(20,6), t text, by bytea,"
                " bo bool, d date, ts timestamptz, u uuid, j json, arr int[]) DISTRIBUTE BY HASH (id)")
    ok("create table DISTRIBUTE BY HASH")

    cols = "id, b, n, t, by, bo, d, ts, u, j, arr"
    cur.execute("PREPARE drv_ins (int, bigint, numeric, text, bytea, bool, date, timestamptz, uuid, json, int[]) AS "
                "INSERT INTO " + TBL + " (" + cols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
    for r in ROWS:
        if r[0] in PREPARED_IDS:
            cur.execute("EXECUTE drv_ins (" + ", ".join(["%s"] * 11) + ")", adapt(r))
        else:
            cur.execute("INSERT INTO " + TBL + " (" + cols + ") VALUES (" + ", ".join(["%s"] * 11) + ")", adapt(r))
        check(cur.rowcount == 1, "insert id %d: rowcount %d" % (r[0], cur.rowcount))
    cur.execute("DEALLOCATE drv_ins")
    ok("inserted %d rows with bound parameters of 11 types (client-side and PREPARE/EXECUTE)" % len(ROWS))

    cur.execute("PREPARE drv_sel (int) AS SELECT " + cols + " FROM " + TBL + " WHERE id = $1")
    for want in ROWS:
        for how in ("client-side", "EXECUTE"):
            if how == "EXECUTE":
                cur.execute("EXECUTE drv_sel (%s)", (want[0],))
            else:
                cur.execute("SELECT " + cols + " FROM " + TBL + " WHERE id = %s", (want[0],))
            got = cur.fetchall()
            check(len(got) == 1, "select id = %d (%s): %d rows" % (want[0], how, len(got)))
            check(normalise(got[0]) == want, "row %d read back (%s): %r, want %r" % (want[0], how, got[0], want))
    cur.execute("DEALLOCATE drv_sel")
    ok("read back every row by its distribution key, values equal")

    cur.execute("SELECT " + cols + " FROM " + TBL + " ORDER BY id")
    got = [normalise(r) for r in cur.fetchall()]
    check(got == ROWS, "select all ORDER BY id: %r" % got)
    ok("read back all rows from every datanode, ORDER BY id")

    for where, arg, want in [
        ("u = %s", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), 1),
        ("t = %s", "", 1),
        ("b > %s", 0, 1),
        ("ts < %s", datetime.datetime(2000, 1, 1, tzinfo=UTC), 1),
        ("%s = ANY(arr)", -2, 1),
        ("id = ANY(%s)", [1, 2, 3, 4], 3),
        ("by = %s", psycopg2.Binary(b"\x00\x01\xff\x27\x5c"), 1),
        ("n = %s", decimal.Decimal("-0.000001"), 1),
        ("d = %s", datetime.date(2024, 2, 29), 1),
    ]:
        cur.execute("SELECT count(*) FROM " + TBL + " WHERE " + where, (arg,))
        n = cur.fetchone()[0]
        check(n == want, "WHERE %s [%r]: count %d, want %d" % (where, arg, n, want))
    ok("filters with bound parameters on uuid, text, bigint, timestamptz, int[], bytea, numeric, date columns")

    conn.autocommit = False
    for i in range(100, 104):
        cur.execute("INSERT INTO " + TBL + " (id, t) VALUES (%s, %s)", (i, "tx"))
    conn.commit()
    cur.execute("SELECT count(*) FROM " + TBL + " WHERE t = 'tx'")
    n = cur.fetchone()[0]
    conn.commit()
    check(n == 4, "after COMMIT: %d rows, want 4" % n)
    ok("transaction with COMMIT: 4 rows visible")

    for i in range(200, 204):
        cur.execute("INSERT INTO " + TBL + " (id, t) VALUES (%s, %s)", (i, "rb"))
    cur.execute("UPDATE " + TBL + " SET t = 'changed' WHERE id = %s", (1,))
    conn.rollback()
    cur.execute("SELECT count(*) FROM " + TBL + " WHERE t IN ('rb', 'changed')")
    n = cur.fetchone()[0]
    conn.commit()
    check(n == 0, "after ROLLBACK: %d rows, want 0" % n)
    ok("transaction with ROLLBACK: nothing visible")

    code = sqlstate(lambda: cur.execute("INSERT INTO " + TBL + " (id) VALUES (%s)", (1,)))
    check(code == "23505", "duplicate key insert: SQLSTATE %r, want 23505" % code)
    code = sqlstate(lambda: cur.execute("SELECT 1"))
    check(code == "25P02", "statement after an error in a transaction: SQLSTATE %r, want 25P02" % code)
    conn.rollback()
    ok("unique violation reported as 23505, then 25P02 until ROLLBACK")
    code = sqlstate(lambda: cur.execute("SELEC 1"))
    check(code == "42601", "SELEC 1: SQLSTATE %r, want 42601" % code)
    conn.rollback()
    ok("syntax error reported as 42601")

    conn.autocommit = True
    cur.execute("SELECT count(*) FROM " + TBL)
    n = cur.fetchone()[0]
    check(n == 7, "after errors: %d rows, want 7" % n)
    ok("session usable after errors")
    cur.execute("DROP TABLE " + TBL)
    conn.close()


if __name__ == "__main__":
    try:
        main()
    except (CheckFailed, psycopg2.Error) as e:
        print("psycopg2: FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        if isinstance(e, psycopg2.Error):
            print("SQLSTATE %s" % e.pgcode)
        sys.exit(1)
    print("psycopg2: all checks passed")
