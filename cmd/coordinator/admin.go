package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// flagSettings lists the coordinator's flags and their values, for the
// admin console's SHOW CONFIG.
func flagSettings(fs *pflag.FlagSet) func() [][2]string {
	return func() [][2]string {
		var out [][2]string
		fs.VisitAll(func(f *pflag.Flag) {
			out = append(out, [2]string{strings.ReplaceAll(f.Name, "-", "_"), f.Value.String()})
		})
		return out
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
