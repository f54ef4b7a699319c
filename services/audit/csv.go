package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	"github.com/casebridge/casebridge/services/audit/internal/store"
)

// csvHeader names the report's columns.
var csvHeader = []string{"time", "agency_ori", "agency_name", "user_email", "roles", "service", "method",
	"outcome", "status_code", "resource_type", "resource_id", "purpose", "recipient_agency_id",
	"client_addr", "user_agent", "request_id", "chain_agency_id", "chain_seq", "hash"}

// exportBatch is how many rows one query of the export reads.
const exportBatch = 5000

// ExportCaseAuditEvents is the disclosure report as one CSV document.
func (s *Server) ExportCaseAuditEvents(ctx context.Context, req *auditv1.ExportCaseAuditEventsRequest) (*auditv1.ExportCaseAuditEventsResponse, error) {
	caseID, err := caseIDOf(req.GetCaseId())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCase(ctx, caseID); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(csvHeader)
	var after *store.CaseAfter
	n := 0
	for {
		rows, err := store.ListCase(ctx, s.pool, caseID, after, exportBatch)
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		for _, r := range rows {
			if n++; n > MaxExportRows {
				return nil, status.Errorf(codes.FailedPrecondition,
					"the report has more than %d rows; read it page by page from GET /v1/cases/%s/audit", MaxExportRows, caseID)
			}
			_ = w.Write(csvRecord(r))
		}
		if len(rows) < exportBatch {
			break
		}
		last := rows[len(rows)-1]
		after = &store.CaseAfter{Time: last.Time, AgencyID: last.AgencyID, Seq: last.Seq}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &auditv1.ExportCaseAuditEventsResponse{Body: &httpbody.HttpBody{
		ContentType: "text/csv; charset=utf-8",
		Data:        buf.Bytes(),
	}}, nil
}

func csvRecord(r store.Row) []string {
	rec := []string{r.Time.UTC().Format(time.RFC3339Nano), r.AgencyORI, r.AgencyName, r.UserEmail,
		strings.Join(r.Roles, " "), r.Service, r.Method, r.Outcome, r.StatusCode, r.ResourceType,
		r.ResourceID, r.Purpose, r.RecipientAgencyID, r.ClientAddr, r.UserAgent, r.RequestID,
		r.AgencyID, strconv.FormatInt(r.Seq, 10), fmt.Sprintf("%x", r.Hash)}
	for i := range rec {
		rec[i] = defuse(rec[i])
	}
	return rec
}

// defuse keeps a spreadsheet from running a cell as a formula (CSV
// injection): caller-supplied text such as a user agent or a purpose may
// start with = + - @ or a control character.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
