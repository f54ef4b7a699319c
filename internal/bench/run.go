package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Op is one kind of request in the mix.
type Op struct {
	Name   string
	Weight int
	// do performs one request; it returns the HTTP status.
	do func(ctx context.Context, w *worker) (int, error)
}

// RunOptions configures a load run.
type RunOptions struct {
	BaseURL     string
	Users       []User // simulated users; workers take them in turn
	Concurrency int
	Duration    time.Duration
	Seed        uint64
}

// OpResult is the outcome of one operation kind.
type OpResult struct {
	Name       string  `json:"name"`
	Count      int     `json:"count"`
	Errors     int     `json:"errors"`
	Throughput float64 `json:"throughputPerSec"`
	P50ms      float64 `json:"p50Ms"`
	P95ms      float64 `json:"p95Ms"`
	P99ms      float64 `json:"p99Ms"`
}

// User is a simulated user: a detective and the evidence custodian of the
// same agency (custody events are the custodians' to record).
type User struct {
	Detective, Custodian string // bearer tokens
}

// Result is a whole run.
type Result struct {
	Concurrency int        `json:"concurrency"`
	DurationSec float64    `json:"durationSec"`
	Throughput  float64    `json:"throughputPerSec"`
	Ops         []OpResult `json:"ops"`
	ServerRSS   int64      `json:"serverRssBytes,omitempty"`
	Baseline    *Baseline  `json:"baseline,omitempty"`
	// CreateVsBaseline is create-case throughput under the mix divided by
	// the database's raw create+audit transaction rate.
	CreateVsBaseline float64 `json:"createVsBaseline,omitempty"`
	// TotalVsBaseline is all API requests per second divided by the raw
	// create+audit transaction rate.
	TotalVsBaseline float64 `json:"totalVsBaseline,omitempty"`
}

type worker struct {
	base      string
	token     string
	custodian string
	client    *http.Client
	rng       *rand.Rand
	cases     []string        // ids this worker can touch
	items     []string        // evidence ids
	out       map[string]bool // evidence this worker has checked out
}

// Mix is the default operation mix.
func Mix() []Op {
	return []Op{
		{"create_case", 15, createCase},
		{"get_case", 35, getCase},
		{"list_cases", 25, listCases},
		{"add_note", 15, addNote},
		{"register_evidence", 5, registerEvidence},
		{"custody_event", 5, custodyEvent},
	}
}

// MixNamed returns a named mix: "default" (Mix) or "create" (create_case
// only: the API's equivalent of the baseline transaction).
func MixNamed(name string) ([]Op, error) {
	switch name {
	case "", "default":
		return Mix(), nil
	case "create":
		return []Op{{"create_case", 1, createCase}}, nil
	}
	return nil, fmt.Errorf("--mix: unknown mix %q (default, create)", name)
}

// Run drives the API with ops for o.Duration and reports per-operation
// latency percentiles and throughput.
func Run(ctx context.Context, o RunOptions, ops []Op) (*Result, error) {
	if len(o.Users) == 0 {
		return nil, fmt.Errorf("bench: no users")
	}
	total := 0
	for _, op := range ops {
		total += op.Weight
	}
	type sample struct {
		op  int
		d   time.Duration
		err bool
	}
	// Preflight: a world that was not seeded, or tokens from another
	// issuer, would otherwise show up only as a table full of errors.
	pre := &worker{base: strings.TrimSuffix(o.BaseURL, "/"), token: o.Users[0].Detective, client: http.DefaultClient}
	if code, err := pre.do(ctx, "GET", "/v1/cases?page_size=1", nil, nil); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("bench: a generated user cannot list cases (status %d, %v): run `casebridge bench seed` against this server's database first", code, err)
	}
	samples := make([][]sample, o.Concurrency)
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.Concurrency {
		u := o.Users[i%len(o.Users)]
		w := &worker{base: strings.TrimSuffix(o.BaseURL, "/"), token: u.Detective, custodian: u.Custodian,
			client: &http.Client{Transport: transport, Timeout: 30 * time.Second},
			rng:    rand.New(rand.NewPCG(o.Seed+uint64(i), uint64(i)*7+1)), out: map[string]bool{}}
		wg.Go(func() {
			_, _ = listCases(ctx, w) // learn some case ids
			for ctx.Err() == nil {
				pick := w.rng.IntN(total)
				k := 0
				for ; pick >= ops[k].Weight; k++ {
					pick -= ops[k].Weight
				}
				t0 := time.Now()
				code, err := ops[k].do(ctx, w)
				if ctx.Err() != nil {
					return // cut off by the end of the run: not a sample
				}
				samples[i] = append(samples[i], sample{k, time.Since(t0), err != nil || code >= 400})
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	res := &Result{Concurrency: o.Concurrency, DurationSec: elapsed}
	per := make([][]time.Duration, len(ops))
	errs := make([]int, len(ops))
	n := 0
	for _, ss := range samples {
		for _, s := range ss {
			per[s.op] = append(per[s.op], s.d)
			if s.err {
				errs[s.op]++
			}
			n++
		}
	}
	res.Throughput = float64(n) / elapsed
	for k, op := range ops {
		ds := per[k]
		slices.Sort(ds)
		res.Ops = append(res.Ops, OpResult{Name: op.Name, Count: len(ds), Errors: errs[k], Throughput: float64(len(ds)) / elapsed,
			P50ms: pct(ds, 0.50), P95ms: pct(ds, 0.95), P99ms: pct(ds, 0.99)})
	}
	res.ServerRSS = serverRSS(o.BaseURL)
	return res, nil
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds)-1) * p)
	return float64(ds[i].Microseconds()) / 1000
}

func (w *worker) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	return w.doAs(ctx, w.token, method, path, body, out)
}

func (w *worker) doAs(ctx context.Context, token, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, nil
}

func (w *worker) someCase() string {
	if len(w.cases) == 0 {
		return uuid.NewString()
	}
	return w.cases[w.rng.IntN(len(w.cases))]
}

func (w *worker) remember(id string) {
	if len(w.cases) < 500 {
		w.cases = append(w.cases, id)
	} else {
		w.cases[w.rng.IntN(len(w.cases))] = id
	}
}

func createCase(ctx context.Context, w *worker) (int, error) {
	var c struct{ ID string }
	code, err := w.do(ctx, "POST", "/v1/cases?request_id="+uuid.NewString(), map[string]any{
		"title": "Load test " + words(w.rng, 3), "summary": words(w.rng, 15), "classification": "CLASSIFICATION_WIRE_FRAUD"}, &c)
	if err == nil && code == http.StatusOK {
		w.remember(c.ID)
	}
	return code, err
}

func getCase(ctx context.Context, w *worker) (int, error) {
	return w.do(ctx, "GET", "/v1/cases/"+w.someCase(), nil, nil)
}

func listCases(ctx context.Context, w *worker) (int, error) {
	var l struct {
		Cases []struct{ ID string }
	}
	code, err := w.do(ctx, "GET", "/v1/cases?page_size=25", nil, &l)
	for _, c := range l.Cases {
		if !slices.Contains(w.cases, c.ID) {
			w.remember(c.ID)
		}
	}
	return code, err
}

func addNote(ctx context.Context, w *worker) (int, error) {
	return w.do(ctx, "POST", "/v1/cases/"+w.someCase()+"/notes?request_id="+uuid.NewString(), map[string]any{"body": words(w.rng, 12)}, nil)
}

func registerEvidence(ctx context.Context, w *worker) (int, error) {
	var e struct{ ID string }
	sha := fmt.Sprintf("%064x", w.rng.Uint64())
	code, err := w.do(ctx, "POST", "/v1/cases/"+w.someCase()+"/evidence?request_id="+uuid.NewString(), map[string]any{
		"description": "Disk image " + words(w.rng, 2), "kind": "KIND_DISK_IMAGE", "sha256": sha, "sizeBytes": "1048576"}, &e)
	if err == nil && code == http.StatusOK && len(w.items) < 200 {
		w.items = append(w.items, e.ID)
	}
	return code, err
}

func custodyEvent(ctx context.Context, w *worker) (int, error) {
	if len(w.items) == 0 {
		return registerEvidence(ctx, w)
	}
	// Alternate check-out (to the lab) and check-in, the legal cycle of
	// an item in custody.
	id := w.items[w.rng.IntN(len(w.items))]
	action, purpose := "CUSTODY_ACTION_CHECK_OUT", "imaging in the forensic lab"
	if w.out[id] {
		action, purpose = "CUSTODY_ACTION_CHECK_IN", "returned to the evidence room"
	}
	code, err := w.doAs(ctx, w.custodian, "POST", "/v1/evidence/"+id+"/custody?request_id="+uuid.NewString(), map[string]any{
		"action": action, "location": "Lab 2", "purpose": purpose}, nil)
	if err == nil && code == http.StatusOK {
		w.out[id] = !w.out[id]
	}
	return code, err
}

// serverRSS reads the server's resident memory from its Prometheus metrics
// (the Go client's process collector); 0 if unavailable.
func serverRSS(base string) int64 {
	resp, err := http.Get(strings.TrimSuffix(base, "/") + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "process_resident_memory_bytes ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, "process_resident_memory_bytes "), "%g", &v)
			return int64(v)
		}
	}
	return 0
}
