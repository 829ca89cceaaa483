package engine

import "testing"

// TestStatementKind: a statement's kind is its first keyword's, past
// comments and parentheses, whatever its case.
func TestStatementKind(t *testing.T) {
	for text, want := range map[string]int{
		"SELECT 1":                             kindSelect,
		"  /* c */ -- x\n (select 1) union 2":  kindSelect,
		"WITH x AS (SELECT 1) SELECT * FROM x": kindSelect,
		"insert into t values (1)":             kindInsert,
		"Update t set v = 1":                   kindUpdate,
		"delete from t":                        kindDelete,
		"COPY t FROM STDIN":                    kindCopy,
		"create table t (id int)":              kindDDL,
		"BEGIN":                                kindTransaction,
		"prepare /* */ TRANSACTION 'x'":        kindTransaction,
		"PREPARE q AS SELECT 1":                kindUtility,
		"SET search_path = x":                  kindUtility,
		"":                                     kindUtility,
		"'not a keyword'":                      kindUtility,
		"averyveryverylongidentifier":          kindUtility,
	} {
		if got := statementKind(text); got != want {
			t.Errorf("statementKind(%q) = %s, want %s", text, kindNames[got], kindNames[want])
		}
	}
}
