// The JDBC row of the driver matrix (PostgreSQL JDBC driver): connects to a
// coordinator (PGHOST, PGPORT, PGUSER, PGDATABASE), binds parameters of common
// types to prepared statements, reads them back, runs a committed and a
// rolled-back transaction and reads SQLSTATEs of errors. It prints each check
// and exits non-zero on the first failure.
//
// It runs twice over the extended protocol: with the driver's defaults
// (unnamed statements until the fifth execution of one statement) and with
// named server-side statements and binary transfer from the first execution
// (prepareThreshold=1). (The driver's preferQueryMode=simple cannot bind
// bytea parameters, so it is not part of the matrix.)

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;

public class DriverCheck {
    static final String TBL = "drv_jdbc";
    static String mode;

    static final class Row {
        int id;
        Long b;
        BigDecimal n;
        String t;
        byte[] by;
        Boolean bo;
        LocalDate d;
        OffsetDateTime ts;
        UUID u;
        String j;
        Integer[] arr;
    }

    static Row[] rows() {
        Row r1 = new Row();
        r1.id = 1;
        r1.b = 9007199254740993L;
        r1.n = new BigDecimal("12345678901234.567890");
        r1.t = "héllo, wörld ✓ 'quoted' \\ back";
        r1.by = new byte[] {0x00, 0x01, (byte) 0xff, 0x27, 0x5c};
        r1.bo = true;
        r1.d = LocalDate.of(2024, 2, 29);
        r1.ts = OffsetDateTime.of(2024, 3, 10, 12, 34, 56, 123456000, ZoneOffset.UTC);
        r1.u = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        r1.j = "{\"k\": [1, 2, {\"x\": null}], \"s\": \"v\"}";
        r1.arr = new Integer[] {1, -2, 3};
        Row r2 = new Row();
        r2.id = 2;
        r2.b = Long.MIN_VALUE;
        r2.n = new BigDecimal("-0.000001");
        r2.t = "";
        r2.by = new byte[0];
        r2.bo = false;
        r2.d = LocalDate.of(1999, 12, 31);
        r2.ts = OffsetDateTime.of(1970, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
        r2.u = new UUID(0, 0);
        r2.j = "[]";
        r2.arr = new Integer[0];
        Row r3 = new Row();
        r3.id = 3;
        return new Row[] {r1, r2, r3};
    }

    static void ok(String msg) {
        System.out.println("jdbc " + mode + ": ok: " + msg);
    }

    static void check(boolean cond, String msg) {
        if (!cond) {
            throw new IllegalStateException(msg);
        }
    }

    public static void main(String[] args) {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres");
        boolean failed = false;
        for (String m : new String[] {"default", "prepareThreshold=1"}) {
            mode = m;
            Properties p = new Properties();
            p.setProperty("user", env("PGUSER", System.getProperty("user.name")));
            p.setProperty("sslmode", "disable");
            if (m.equals("prepareThreshold=1")) {
                p.setProperty("prepareThreshold", "1");
            }
            try (Connection c = DriverManager.getConnection(url, p)) {
                run(c);
            } catch (Exception e) {
                failed = true;
                System.out.println("jdbc " + mode + ": FAIL: " + e);
                if (e instanceof SQLException) {
                    System.out.println("SQLSTATE " + ((SQLException) e).getSQLState());
                }
                e.printStackTrace(System.out);
            }
        }
        if (failed) {
            System.exit(1);
        }
        System.out.println("jdbc: all checks passed");
    }

    static String env(String k, String def) {
        String v = System.getenv(k);
        return v == null || v.isEmpty() ? def : v;
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new SQLException(sql + ": " + e.getMessage(), e.getSQLState(), e);
        }
    }

    static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static void run(Connection c) throws Exception {
        exec(c, "DROP TABLE IF EXISTS " + TBL);
        exec(c, "CREATE TABLE " + TBL + " (id int PRIMARY KEY, b bigint, n numeric(20,6), t text, by bytea,"
                + " bo bool, d date, ts timestamptz, u uuid, j json, arr int[]) DISTRIBUTE BY HASH (id)");
        ok("create table DISTRIBUTE BY HASH");

        Row[] rows = rows();
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TBL
                + " (id, b, n, t, by, bo, d, ts, u, j, arr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (Row r : rows) {
                ps.setInt(1, r.id);
                ps.setObject(2, r.b, Types.BIGINT);
                ps.setBigDecimal(3, r.n);
                ps.setString(4, r.t);
                ps.setBytes(5, r.by);
                ps.setObject(6, r.bo, Types.BOOLEAN);
                ps.setObject(7, r.d, Types.DATE);
                ps.setObject(8, r.ts);
                ps.setObject(9, r.u, Types.OTHER);
                ps.setObject(10, r.j, Types.OTHER);
                if (r.arr == null) {
                    ps.setNull(11, Types.ARRAY);
                } else {
                    ps.setArray(11, c.createArrayOf("int4", r.arr));
                }
                int n = ps.executeUpdate();
                check(n == 1, "insert id " + r.id + ": update count " + n);
            }
        }
        ok("inserted " + rows.length + " rows with a prepared statement and bound parameters of 11 types");

        try (PreparedStatement ps = c.prepareStatement(
                "SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM " + TBL + " WHERE id = ?")) {
            // Repeated, so that the driver switches to a named server-side statement and binary results.
            for (int pass = 0; pass < 3; pass++) {
                for (Row want : rows) {
                    ps.setInt(1, want.id);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "select id = ? [" + want.id + "]: no row");
                        compare(want, read(rs));
                        check(!rs.next(), "select id = ? [" + want.id + "]: more than one row");
                    }
                }
            }
        }
        ok("read back every row by its distribution key with a prepared statement, values equal");

        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM " + TBL + " ORDER BY id")) {
            for (Row want : rows) {
                check(rs.next(), "select all ORDER BY id: missing row " + want.id);
                compare(want, read(rs));
            }
            check(!rs.next(), "select all ORDER BY id: extra rows");
        }
        ok("read back all rows from every datanode, ORDER BY id");

        Object[][] filters = {
            {"u = ?", UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), 1L},
            {"t = ?", "", 1L},
            {"b > ?", 0L, 1L},
            {"ts < ?", OffsetDateTime.of(2000, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC), 1L},
            {"? = ANY(arr)", -2, 1L},
            {"by = ?", new byte[] {0x00, 0x01, (byte) 0xff, 0x27, 0x5c}, 1L},
            {"d = ?", LocalDate.of(2024, 2, 29), 1L},
            {"n = ?", new BigDecimal("-0.000001"), 1L},
        };
        for (Object[] f : filters) {
            String sql = "SELECT count(*) FROM " + TBL + " WHERE " + f[0];
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                if (f[1] instanceof byte[]) {
                    ps.setBytes(1, (byte[]) f[1]);
                } else {
                    ps.setObject(1, f[1]);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long n = rs.getLong(1);
                    check(n == (Long) f[2], sql + " [" + f[1] + "]: count " + n + ", want " + f[2]);
                }
            } catch (SQLException e) {
                throw new SQLException(sql + " [" + f[1] + "]: " + e.getMessage(), e.getSQLState(), e);
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + TBL + " WHERE id = ANY(?)")) {
            ps.setArray(1, c.createArrayOf("int4", new Integer[] {1, 2, 3, 4}));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check(rs.getLong(1) == 3, "id = ANY(?) [{1,2,3,4}]: count " + rs.getLong(1) + ", want 3");
            }
        }
        ok("filters with bound parameters on uuid, text, bigint, timestamptz, int[], bytea, date, numeric columns");

        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TBL + " (id, t) VALUES (?, ?)")) {
            for (int id = 100; id < 104; id++) {
                ps.setInt(1, id);
                ps.setString(2, "tx");
                ps.executeUpdate();
            }
        }
        c.commit();
        c.setAutoCommit(true);
        long n = count(c, "SELECT count(*) FROM " + TBL + " WHERE t = 'tx'");
        check(n == 4, "after COMMIT: " + n + " rows, want 4");
        ok("transaction with COMMIT: 4 rows visible");

        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TBL + " (id, t) VALUES (?, ?)")) {
            for (int id = 200; id < 204; id++) {
                ps.setInt(1, id);
                ps.setString(2, "rb");
                ps.executeUpdate();
            }
        }
        exec(c, "UPDATE " + TBL + " SET t = 'changed' WHERE id = 1");
        c.rollback();
        c.setAutoCommit(true);
        n = count(c, "SELECT count(*) FROM " + TBL + " WHERE t IN ('rb', 'changed')");
        check(n == 0, "after ROLLBACK: " + n + " rows, want 0");
        ok("transaction with ROLLBACK: nothing visible");

        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TBL + " (id) VALUES (?)")) {
            // Batched, as applications insert many rows.
            for (int id = 300; id < 310; id++) {
                ps.setInt(1, id);
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            check(counts.length == 10, "batch: " + counts.length + " update counts");
        }
        n = count(c, "SELECT count(*) FROM " + TBL + " WHERE id >= 300");
        check(n == 10, "after batch insert: " + n + " rows, want 10");
        exec(c, "DELETE FROM " + TBL + " WHERE id >= 300");
        ok("batch of 10 inserts");

        String state = null;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TBL + " (id) VALUES (?)")) {
            ps.setInt(1, 1);
            ps.executeUpdate();
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        check("23505".equals(state), "duplicate key insert: SQLSTATE " + state + ", want 23505");
        ok("unique violation reported as 23505");
        state = null;
        try {
            exec(c, "SELEC 1");
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        check("42601".equals(state), "SELEC 1: SQLSTATE " + state + ", want 42601");
        ok("syntax error reported as 42601");

        c.setAutoCommit(false);
        state = null;
        try {
            exec(c, "INSERT INTO " + TBL + " (id) VALUES (2)");
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        check("23505".equals(state), "duplicate key insert in a transaction: SQLSTATE " + state + ", want 23505");
        state = null;
        try {
            exec(c, "SELECT 1");
        } catch (SQLException e) {
            state = e.getSQLState();
        }
        check("25P02".equals(state), "statement after an error in a transaction: SQLSTATE " + state + ", want 25P02");
        c.rollback();
        c.setAutoCommit(true);
        ok("error inside a transaction: 23505, then 25P02, then ROLLBACK");
        n = count(c, "SELECT count(*) FROM " + TBL);
        check(n == 7, "after errors: " + n + " rows, want 7");
        ok("session usable after errors");
        exec(c, "DROP TABLE " + TBL);
    }

    static Row read(ResultSet rs) throws SQLException {
        Row r = new Row();
        r.id = rs.getInt(1);
        r.b = rs.getObject(2, Long.class);
        r.n = rs.getBigDecimal(3);
        r.t = rs.getString(4);
        r.by = rs.getBytes(5);
        r.bo = rs.getObject(6, Boolean.class);
        r.d = rs.getObject(7, LocalDate.class);
        r.ts = rs.getObject(8, OffsetDateTime.class);
        r.u = rs.getObject(9, UUID.class);
        r.j = rs.getString(10);
        Array a = rs.getArray(11);
        r.arr = a == null ? null : (Integer[]) a.getArray();
        return r;
    }

    static void compare(Row want, Row got) {
        String p = "row " + want.id + ": ";
        check(want.id == got.id, p + "id " + got.id);
        check(Objects.equals(want.b, got.b), p + "bigint " + got.b + ", want " + want.b);
        check(want.n == null ? got.n == null : got.n != null && want.n.compareTo(got.n) == 0,
                p + "numeric " + got.n + ", want " + want.n);
        check(Objects.equals(want.t, got.t), p + "text " + got.t + ", want " + want.t);
        check(want.by == null ? got.by == null : Arrays.equals(want.by, got.by),
                p + "bytea " + Arrays.toString(got.by) + ", want " + Arrays.toString(want.by));
        check(Objects.equals(want.bo, got.bo), p + "bool " + got.bo + ", want " + want.bo);
        check(Objects.equals(want.d, got.d), p + "date " + got.d + ", want " + want.d);
        check(want.ts == null ? got.ts == null : got.ts != null && want.ts.isEqual(got.ts),
                p + "timestamptz " + got.ts + ", want " + want.ts);
        check(Objects.equals(want.u, got.u), p + "uuid " + got.u + ", want " + want.u);
        check(want.j == null ? got.j == null : got.j != null && want.j.replace(" ", "").equals(got.j.replace(" ", "")),
                p + "json " + got.j + ", want " + want.j);
        check(Arrays.equals(want.arr, got.arr), p + "int[] " + Arrays.toString(got.arr) + ", want " + Arrays.toString(want.arr));
    }
}
