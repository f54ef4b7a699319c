package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/authz"
)

// Baseline is the database's own rate for the raw SQL of a case creation:
// number the case, insert it and its lead relation, append its audit record
// to the agency's hash chain — one transaction, no HTTP, gRPC, JSON,
// validation or authorization.
type Baseline struct {
	TxPerSec float64 `json:"txPerSec"`
	P50ms    float64 `json:"p50Ms"`
	P99ms    float64 `json:"p99Ms"`
}

// RunBaseline runs the raw transaction from concurrency goroutines for d;
// goroutine i acts as bench agency i mod agencies (extending that agency's
// audit chain correctly), as the API run's users spread over agencies.
func RunBaseline(ctx context.Context, pool *pgxpool.Pool, agencies, concurrency int, d time.Duration) (*Baseline, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat := make([][]time.Duration, concurrency)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range concurrency {
		wg.Go(func() {
			a := i % max(agencies, 1)
			agency, ori, email := agencyID(a), AgencyORI(a), UserEmail(a, 0)
			user := uuid.NewSHA1(namespace, []byte(email)).String()
			for ctx.Err() == nil {
				t0 := time.Now()
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					var n int64
					now := time.Now().UTC()
					if err := tx.QueryRow(ctx, `INSERT INTO cases.case_number_counters (agency_id, year, last) VALUES ($1, $2, 1)
						ON CONFLICT (agency_id, year) DO UPDATE SET last = cases.case_number_counters.last + 1 RETURNING last`,
						agency, now.Year()).Scan(&n); err != nil {
						return err
					}
					id := uuid.NewString()
					if _, err := tx.Exec(ctx, `INSERT INTO cases.cases (id, case_number, lead_agency_id, lead_agency_ori, title, status,
						priority, create_time, update_time, create_user_id, create_user_email, update_user_email)
						VALUES ($1, $2, $3, $4, 'baseline', 'OPEN', 'MEDIUM', $5, $5, $6, 'baseline', 'baseline')`,
						id, fmt.Sprintf("%s-%d-B%06d", ori, now.Year(), n), agency, ori, now, user); err != nil {
						return err
					}
					if _, err := authz.Grant(ctx, tx, nil, authz.GrantRequest{Resource: authz.Resource{Type: "case", ID: id},
						AgencyID: agency, Relation: authz.RelLead, LeadAgencyID: agency}); err != nil {
						return err
					}
					return audit.Append(ctx, tx, &audit.Event{AgencyID: agency, Time: now, RequestID: "bench-baseline", UserID: user,
						UserEmail: email, AgencyORI: ori, Roles: []string{"detective"}, Service: "bench", Method: "Baseline",
						Action: "CreateCase", ResourceType: "case", ResourceID: id, CaseID: id, Outcome: audit.OutcomeAllowed, StatusCode: "OK"})
				})
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("bench: baseline: %w", firstErr)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	return &Baseline{TxPerSec: float64(len(all)) / time.Since(start).Seconds(), P50ms: pct(all, 0.5), P99ms: pct(all, 0.99)}, nil
}
