// Package pgbench runs pgbench for the benchmark commands and reads its
// results: TPS and failures from its report, latency percentiles from its
// per-transaction log, medians over rounds, and the README section a run
// writes. It starts nothing but pgbench.
package pgbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Measurement is what one pgbench run (or the median of several) measured.
type Measurement struct {
	TPS    float64
	MeanMS float64
	P50MS  float64
	P99MS  float64
	Failed int64
}

var (
	reTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	reFailed = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
)

// Run runs pgbench with args and env, its per-transaction log in dir (which
// must exist), and returns the TPS and failed transactions of its report.
func Run(ctx context.Context, prog string, env, args []string, dir string) (tps float64, failed int64, err error) {
	all := append(append([]string{}, args...), "-l", "--log-prefix="+filepath.Join(dir, "tx"))
	cmd := exec.CommandContext(ctx, prog, all...)
	cmd.Env = env
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("pgbench %s: %w\n%s", strings.Join(all, " "), err, LastLines(out.String(), 15))
	}
	mm := reTPS.FindStringSubmatch(out.String())
	if mm == nil {
		return 0, 0, fmt.Errorf("pgbench printed no tps:\n%s", out.String())
	}
	tps, _ = strconv.ParseFloat(mm[1], 64)
	if mm := reFailed.FindStringSubmatch(out.String()); mm != nil {
		failed, _ = strconv.ParseInt(mm[1], 10, 64)
	}
	return tps, failed, nil
}

// Args are the arguments of a timed run: workload args, then no vacuum,
// clients, threads and duration.
func Args(workload []string, clients, threads int, d time.Duration) []string {
	return append(append([]string{}, workload...), "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(int(d.Round(time.Second)/time.Second)))
}

// Summarize makes a Measurement of a TPS, failures and latencies (µs).
func Summarize(tps float64, failed int64, lat []float64) Measurement {
	m := Measurement{TPS: tps, Failed: failed}
	if len(lat) == 0 {
		return m
	}
	var sum float64
	for _, l := range lat {
		sum += l
	}
	m.MeanMS = sum / float64(len(lat)) / 1000
	sort.Float64s(lat)
	at := func(q float64) float64 { return lat[min(len(lat)-1, int(float64(len(lat))*q))] / 1000 }
	m.P50MS, m.P99MS = at(0.50), at(0.99)
	return m
}

// Latencies reads the third field (latency in microseconds) of every line
// of pgbench's per-transaction logs in dir.
func Latencies(dir string) ([]float64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	var lat []float64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 {
				continue
			}
			if v, err := strconv.ParseFloat(fs[2], 64); err == nil {
				lat = append(lat, v)
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// Median takes the median of each figure separately and sums the failures.
func Median(ms []Measurement) Measurement {
	med := func(f func(Measurement) float64) float64 {
		vs := make([]float64, len(ms))
		for i, m := range ms {
			vs[i] = f(m)
		}
		sort.Float64s(vs)
		n := len(vs)
		if n == 0 {
			return 0
		}
		if n%2 == 1 {
			return vs[n/2]
		}
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	var failed int64
	for _, m := range ms {
		failed += m.Failed
	}
	return Measurement{
		TPS:    med(func(m Measurement) float64 { return m.TPS }),
		MeanMS: med(func(m Measurement) float64 { return m.MeanMS }),
		P50MS:  med(func(m Measurement) float64 { return m.P50MS }),
		P99MS:  med(func(m Measurement) float64 { return m.P99MS }),
		Failed: failed,
	}
}

const (
	beginMarker = "<!-- %s: begin -->"
	endMarker   = "<!-- %s: end -->"
)

// WriteSection puts the report, with the command that produced it, between
// the markers named marker of path ("<!-- marker: begin -->" and its end),
// appending them when missing.
func WriteSection(path, marker, report, command string) error {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	begin, end := fmt.Sprintf(beginMarker, marker), fmt.Sprintf(endMarker, marker)
	section := fmt.Sprintf("%s\nMeasured %s with:\n\n```sh\n%s\n```\n\n%s%s", begin, time.Now().UTC().Format("2006-01-02"), command, report, end)
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i >= 0 && j > i {
		text = text[:i] + section + text[j+len(end):]
	} else {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += "\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// Publish prints a run's report and, when path is set, writes it between
// the markers named marker of path with the command that produced it.
func Publish(report, path, marker, command string) error {
	fmt.Print(report)
	if path == "" {
		return nil
	}
	if err := WriteSection(path, marker, report, command); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}
