package planner

import "github.com/xlgo/xlgo/dialect"

func quoteIdent(s string) string   { return dialect.QuoteIdent(s) }
func quoteLiteral(s string) string { return dialect.QuoteLiteral(s) }
