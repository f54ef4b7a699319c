package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintTable writes r as an aligned table.
func PrintTable(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\terrors\treq/s\tp50 ms\tp95 ms\tp99 ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", o.Name, o.Count, o.Errors, o.Throughput, o.P50ms, o.P95ms, o.P99ms)
	}
	fmt.Fprintf(tw, "total\t\t\t%.1f\t\t\t\t\n", r.Throughput)
	_ = tw.Flush()
	fmt.Fprintf(w, "\nconcurrency %d, %.1f s", r.Concurrency, r.DurationSec)
	if r.ServerRSS > 0 {
		fmt.Fprintf(w, ", server RSS %.1f MiB", float64(r.ServerRSS)/(1<<20))
	}
	fmt.Fprintln(w)
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "baseline (raw SQL: case + relation + chained audit record, one transaction): %.1f tx/s, p50 %.2f ms, p99 %.2f ms\n",
			b.TxPerSec, b.P50ms, b.P99ms)
		fmt.Fprintf(w, "create_case through the API under the mix = %.2f × baseline; all API requests = %.2f × baseline\n",
			r.CreateVsBaseline, r.TotalVsBaseline)
	}
}

// ScalePoint is one size of the scale curve.
type ScalePoint struct {
	Cases     int     `json:"cases"`
	Visible   int     `json:"visibleToUser"`
	P50ms     float64 `json:"p50Ms"`
	P95ms     float64 `json:"p95Ms"`
	P99ms     float64 `json:"p99Ms"`
	ServerRSS int64   `json:"serverRssBytes"`
}

// PrintScale writes the scale curve as a table.
func PrintScale(w io.Writer, pts []ScalePoint) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cases\tvisible to user\tp50 ms\tp95 ms\tp99 ms\tserver RSS MiB\t")
	for _, p := range pts {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t\n", p.Cases, p.Visible, p.P50ms, p.P95ms, p.P99ms, float64(p.ServerRSS)/(1<<20))
	}
	_ = tw.Flush()
}
