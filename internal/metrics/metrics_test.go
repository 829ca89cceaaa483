package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pprof's profiles are served only when asked for; /metrics always.
func TestServePprofOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		pprof bool
		want  map[string]int
	}{
		{false, map[string]int{"/metrics": 200, "/debug/pprof/": 404, "/debug/pprof/cmdline": 404, "/nothing": 404}},
		{true, map[string]int{"/metrics": 200, "/debug/pprof/": 200, "/debug/pprof/cmdline": 200, "/nothing": 404}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		addr, err := Serve(ctx, "127.0.0.1:0", NewRegistry(), tc.pprof, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
		client := &http.Client{Timeout: 10 * time.Second}
		for path, code := range tc.want {
			resp, err := client.Get("http://" + addr.String() + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("pprof %v: GET %s = %d, want %d", tc.pprof, path, resp.StatusCode, code)
			}
			if path == "/metrics" && !strings.Contains(string(body), "go_goroutines") {
				t.Errorf("pprof %v: /metrics lacks the Go collector's figures:\n%s", tc.pprof, body)
			}
		}
	}
}
