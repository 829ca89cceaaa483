// The node-postgres row of the driver matrix (npm pg): connects to a
// coordinator (PGHOST, PGPORT, PGUSER, PGDATABASE), binds parameters of common
// types to named and unnamed prepared statements, reads them back, runs a
// committed and a rolled-back transaction and reads SQLSTATEs of errors. It
// prints each check and exits non-zero on the first failure.
'use strict';

const assert = require('assert');
const { Client, types } = require('pg');

// Dates as their text, so that the check does not depend on the time zone.
types.setTypeParser(1082, (v) => v);

const TBL = 'drv_node';
const COLS = 'id, b, n, t, by, bo, d, ts, u, j, arr';

const ROWS = [
  {
    id: 1, b: '9007199254740993', n: '12345678901234.567890', t: "héllo, wörld ✓ 'quoted' \\ back",
    by: Buffer.from([0x00, 0x01, 0xff, 0x27, 0x5c]), bo: true, d: '2024-02-29',
    ts: '2024-03-10T12:34:56.123456Z', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    j: { k: [1, 2, { x: null }], s: 'v' }, arr: [1, -2, 3],
  },
  {
    id: 2, b: '-9223372036854775808', n: '-0.000001', t: '', by: Buffer.alloc(0), bo: false, d: '1999-12-31',
    ts: '1970-01-01T00:00:00Z', u: '00000000-0000-0000-0000-000000000000', j: [], arr: [],
  },
  { id: 3, b: null, n: null, t: null, by: null, bo: null, d: null, ts: null, u: null, j: null, arr: null },
];

function ok(msg) {
  console.log('node-postgres: ok: ' + msg);
}

function values(r) {
  // node-postgres sends JavaScript arrays as PostgreSQL arrays, so a JSON
  // array value is passed as its JSON text.
  return [r.id, r.b, r.n, r.t, r.by, r.bo, r.d, r.ts, r.u, r.j === null ? null : JSON.stringify(r.j), r.arr];
}

function compare(want, got) {
  const p = `row ${want.id}: `;
  assert.strictEqual(got.id, want.id, p + 'id');
  assert.strictEqual(got.b, want.b, p + 'bigint');
  if (want.n === null) {
    assert.strictEqual(got.n, null, p + 'numeric');
  } else {
    assert.strictEqual(Number(got.n), Number(want.n), p + `numeric ${got.n}, want ${want.n}`);
    assert.strictEqual(got.n.replace(/0+$/, ''), want.n.replace(/0+$/, ''), p + `numeric ${got.n}, want ${want.n}`);
  }
  assert.strictEqual(got.t, want.t, p + 'text');
  if (want.by === null) {
    assert.strictEqual(got.by, null, p + 'bytea');
  } else {
    assert.ok(Buffer.isBuffer(got.by) && got.by.equals(want.by), p + `bytea ${got.by && got.by.toString('hex')}, want ${want.by.toString('hex')}`);
  }
  assert.strictEqual(got.bo, want.bo, p + 'bool');
  assert.strictEqual(got.d, want.d, p + 'date');
  if (want.ts === null) {
    assert.strictEqual(got.ts, null, p + 'timestamptz');
  } else {
    // JavaScript dates hold milliseconds; the microseconds are checked by a filter below.
    assert.strictEqual(got.ts.getTime(), new Date(want.ts).getTime(), p + `timestamptz ${got.ts}, want ${want.ts}`);
  }
  assert.strictEqual(got.u, want.u, p + 'uuid');
  assert.deepStrictEqual(got.j, want.j, p + 'json');
  assert.deepStrictEqual(got.arr, want.arr, p + 'int[]');
}

function sqlstate(e) {
  return e && e.code;
}

async function expectCode(client, query, code, what) {
  try {
    await client.query(query);
  } catch (e) {
    assert.strictEqual(sqlstate(e), code, `${what}: SQLSTATE ${sqlstate(e)} (${e.message}), want ${code}`);
    return;
  }
  assert.fail(`${what}: no error, want SQLSTATE ${code}`);
}

async function main() {
  const client = new Client();
  await client.connect();
  try {
    await client.query('DROP TABLE IF EXISTS ' + TBL);
    await client.query(`CREATE TABLE ${TBL} (id int PRIMARY KEY, b bigint, n numeric(20,6), t text, by bytea,
      bo bool, d date, ts timestamptz, u uuid, j json, arr int[]) DISTRIBUTE BY HASH (id)`);
    ok('create table DISTRIBUTE BY HASH');

    const ins = `INSERT INTO ${TBL} (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;
    for (const r of ROWS) {
      const res = await client.query({ name: 'drv_ins', text: ins, values: values(r) });
      assert.strictEqual(res.rowCount, 1, `insert id ${r.id}: rowCount ${res.rowCount}`);
    }
    ok(`inserted ${ROWS.length} rows with a named prepared statement and bound parameters of 11 types`);

    for (const want of ROWS) {
      for (const name of ['drv_sel', undefined]) {
        const res = await client.query({ name, text: `SELECT ${COLS} FROM ${TBL} WHERE id = $1`, values: [want.id] });
        assert.strictEqual(res.rows.length, 1, `select id = ${want.id}: ${res.rows.length} rows`);
        compare(want, res.rows[0]);
      }
    }
    ok('read back every row by its distribution key (named and unnamed statements), values equal');

    const all = await client.query(`SELECT ${COLS} FROM ${TBL} ORDER BY id`);
    assert.strictEqual(all.rows.length, ROWS.length, 'select all ORDER BY id: row count');
    ROWS.forEach((want, i) => compare(want, all.rows[i]));
    ok('read back all rows from every datanode, ORDER BY id');

    const filters = [
      ['u = $1', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1],
      ['t = $1', '', 1],
      ['b > $1', '0', 1],
      ['ts = $1', '2024-03-10 12:34:56.123456+00', 1],
      ['ts < $1', new Date(Date.UTC(2000, 0, 1)), 1],
      ['$1 = ANY(arr)', -2, 1],
      ['id = ANY($1)', [1, 2, 3, 4], 3],
      ['by = $1', Buffer.from([0x00, 0x01, 0xff, 0x27, 0x5c]), 1],
      ['n = $1', '-0.000001', 1],
      ['d = $1', '2024-02-29', 1],
      ['bo = $1', true, 1],
    ];
    for (const [where, arg, want] of filters) {
      const res = await client.query(`SELECT count(*)::int AS n FROM ${TBL} WHERE ${where}`, [arg]);
      assert.strictEqual(res.rows[0].n, want, `WHERE ${where} [${arg}]: count ${res.rows[0].n}, want ${want}`);
    }
    ok('filters with bound parameters on uuid, text, bigint, timestamptz, int[], bytea, numeric, date, bool columns');

    await client.query('BEGIN');
    for (let id = 100; id < 104; id++) {
      await client.query(`INSERT INTO ${TBL} (id, t) VALUES ($1, $2)`, [id, 'tx']);
    }
    await client.query('COMMIT');
    let res = await client.query(`SELECT count(*)::int AS n FROM ${TBL} WHERE t = 'tx'`);
    assert.strictEqual(res.rows[0].n, 4, `after COMMIT: ${res.rows[0].n} rows, want 4`);
    ok('transaction with COMMIT: 4 rows visible');

    await client.query('BEGIN');
    for (let id = 200; id < 204; id++) {
      await client.query(`INSERT INTO ${TBL} (id, t) VALUES ($1, $2)`, [id, 'rb']);
    }
    await client.query(`UPDATE ${TBL} SET t = 'changed' WHERE id = $1`, [1]);
    await client.query('ROLLBACK');
    res = await client.query(`SELECT count(*)::int AS n FROM ${TBL} WHERE t IN ('rb', 'changed')`);
    assert.strictEqual(res.rows[0].n, 0, `after ROLLBACK: ${res.rows[0].n} rows, want 0`);
    ok('transaction with ROLLBACK: nothing visible');

    await expectCode(client, { text: `INSERT INTO ${TBL} (id) VALUES ($1)`, values: [1] }, '23505', 'duplicate key insert');
    ok('unique violation reported as 23505');
    await expectCode(client, 'SELEC 1', '42601', 'SELEC 1');
    ok('syntax error reported as 42601');

    await client.query('BEGIN');
    await expectCode(client, { text: `INSERT INTO ${TBL} (id) VALUES ($1)`, values: [2] }, '23505', 'duplicate key insert in a transaction');
    await expectCode(client, { text: 'SELECT $1::int', values: [1] }, '25P02', 'statement after an error in a transaction');
    await client.query('ROLLBACK');
    ok('error inside a transaction: 23505, then 25P02, then ROLLBACK');

    res = await client.query(`SELECT count(*)::int AS n FROM ${TBL}`);
    assert.strictEqual(res.rows[0].n, 7, `after errors: ${res.rows[0].n} rows, want 7`);
    ok('session usable after errors');
    await client.query('DROP TABLE ' + TBL);
  } finally {
    await client.end();
  }
}

main().then(
  () => console.log('node-postgres: all checks passed'),
  (e) => {
    console.log('node-postgres: FAIL: ' + (e && e.message));
    if (e && e.code) {
      console.log('SQLSTATE ' + e.code);
    }
    process.exitCode = 1;
  },
);
