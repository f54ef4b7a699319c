package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Scale grows the world to each size in turn and measures the first page of
// ListCases for a user of bench agency 0 (which sees about 1/agencies of the
// cases) with requests sequential calls after a short warm-up.
func Scale(ctx context.Context, pool *pgxpool.Pool, base, token string, sizes []int, o SeedOptions, requests int, progress io.Writer) ([]ScalePoint, error) {
	var out []ScalePoint
	client := &http.Client{Timeout: 30 * time.Second}
	for _, size := range sizes {
		var have int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases.cases`).Scan(&have); err != nil {
			return nil, err
		}
		if size > have {
			grow := o
			grow.Cases = size - have
			grow.Seed = o.Seed + uint64(have)
			if err := Seed(ctx, pool, grow, progress); err != nil {
				return nil, err
			}
		}
		var visible int
		if err := pool.QueryRow(ctx, `SELECT count(DISTINCT resource_id) FROM authz.relations WHERE resource_type = 'case' AND agency_id = $1`, agencyID(0)).Scan(&visible); err != nil {
			return nil, err
		}
		get := func() (time.Duration, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/v1/cases?page_size=25", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("bench: list answered %d", resp.StatusCode)
			}
			return time.Since(t0), nil
		}
		for range 10 {
			if _, err := get(); err != nil {
				return nil, err
			}
		}
		var ds []time.Duration
		for range requests {
			d, err := get()
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		slices.Sort(ds)
		out = append(out, ScalePoint{Cases: size, Visible: visible, P50ms: pct(ds, 0.5), P95ms: pct(ds, 0.95), P99ms: pct(ds, 0.99), ServerRSS: serverRSS(base)})
	}
	return out, nil
}
