package evidence_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/services/evidence"
)

// BenchmarkCustodyAppend measures custody appends per second over gRPC,
// through the whole interceptor chain (validation, authentication, method
// authorization, audit): one item appended to sequentially (each append
// locks the item row), and many items appended to in parallel.
//
//	go test -run '^$' -bench CustodyAppend ./services/evidence/
func BenchmarkCustodyAppend(b *testing.B) {
	s := apptest.Start(b)
	conn, dctx := s.GRPC(b, detective)
	_, cctx := s.GRPC(b, custodian)
	ev := evidencev1.NewEvidenceServiceClient(conn)
	c, err := casesv1.NewCaseServiceClient(conn).CreateCase(dctx, &casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: "bench"}})
	require.NoError(b, err)
	newItem := func() string {
		r, err := ev.CreateEvidence(dctx, &evidencev1.CreateEvidenceRequest{CaseId: c.GetCase().GetId(), Evidence: &evidencev1.Evidence{
			Description: "image", Kind: evidencev1.Kind_KIND_DISK_IMAGE, Sha256: strings.Repeat("ab", 32)}})
		require.NoError(b, err)
		_, err = ev.CreateCustodyEvent(cctx, &evidencev1.CreateCustodyEventRequest{EvidenceId: r.GetEvidence().GetId(),
			Event: &evidencev1.CustodyEvent{Action: evidencev1.CustodyAction_CUSTODY_ACTION_CHECK_OUT, Purpose: "analysis"}})
		require.NoError(b, err)
		return r.GetEvidence().GetId()
	}
	analysis := func(id string) error {
		_, err := ev.CreateCustodyEvent(cctx, &evidencev1.CreateCustodyEventRequest{EvidenceId: id,
			Event: &evidencev1.CustodyEvent{Action: evidencev1.CustodyAction_CUSTODY_ACTION_ANALYSIS, Purpose: "carving"}})
		return err
	}

	b.Run("sequential-one-item", func(b *testing.B) {
		id := newItem()
		b.ResetTimer()
		for b.Loop() {
			if err := analysis(id); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	b.Run("parallel-distinct-items", func(b *testing.B) {
		ids := make([]string, 64)
		for i := range ids {
			ids[i] = newItem()
		}
		var next atomic.Int64
		b.SetParallelism(8) // 8 goroutines per CPU: writers wait on the database, not the CPU
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id := ids[int(next.Add(1)-1)%len(ids)]
			for pb.Next() {
				if err := analysis(id); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	b.Run("parallel-one-item", func(b *testing.B) {
		id := newItem()
		b.SetParallelism(4) // 8 concurrent writers on 2 CPUs, as in the concurrency test
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := analysis(id); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

// BenchmarkCaseExport measures building a case package over gRPC (the case,
// the disclosure report and agencies fetched from their services, every
// chain read in one snapshot, verified, rendered as CASE/UCO JSON-LD,
// zipped and signed) and verifying it offline, for a case of 20 exhibits
// with 10 custody events each.
//
//	go test -run '^$' -bench CaseExport ./services/evidence/
func BenchmarkCaseExport(b *testing.B) {
	s := apptest.Start(b)
	conn, dctx := s.GRPC(b, detective)
	_, cctx := s.GRPC(b, custodian)
	_, sctx := s.GRPC(b, supervisor)
	ev := evidencev1.NewEvidenceServiceClient(conn)
	c, err := casesv1.NewCaseServiceClient(conn).CreateCase(dctx, &casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: "bench"}})
	require.NoError(b, err)
	caseID := c.GetCase().GetId()
	for range 20 {
		r, err := ev.CreateEvidence(dctx, &evidencev1.CreateEvidenceRequest{CaseId: caseID, Evidence: &evidencev1.Evidence{
			Description: "image", Kind: evidencev1.Kind_KIND_DISK_IMAGE, Sha256: strings.Repeat("ab", 32)}})
		require.NoError(b, err)
		id := r.GetEvidence().GetId()
		_, err = ev.CreateCustodyEvent(cctx, &evidencev1.CreateCustodyEventRequest{EvidenceId: id,
			Event: &evidencev1.CustodyEvent{Action: evidencev1.CustodyAction_CUSTODY_ACTION_CHECK_OUT, Purpose: "analysis"}})
		require.NoError(b, err)
		for range 8 {
			_, err = ev.CreateCustodyEvent(cctx, &evidencev1.CreateCustodyEventRequest{EvidenceId: id,
				Event: &evidencev1.CustodyEvent{Action: evidencev1.CustodyAction_CUSTODY_ACTION_ANALYSIS, Purpose: "carving"}})
			require.NoError(b, err)
		}
	}
	var pkg []byte
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			r, err := ev.ExportCase(sctx, &evidencev1.ExportCaseRequest{CaseId: caseID, Recipient: "bench", Purpose: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			pkg = r.GetBody().GetData()
		}
		b.ReportMetric(float64(len(pkg)), "zip-bytes")
	})
	b.Run("verify-offline", func(b *testing.B) {
		for b.Loop() {
			rep, err := evidence.VerifyPackage(pkg, nil)
			if err != nil || !rep.OK() {
				b.Fatal(err, rep.Problems)
			}
		}
	})
}
