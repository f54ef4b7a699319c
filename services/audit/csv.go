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

	"github.com/google/uuid"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/audit/internal/store"
)

// csvHeader names the report's columns.
var csvHeader = []string{"time", "agency_ori", "agency_name", "user_email", "roles", "service", "method",
	"outcome", "status_code", "resource_type", "resource_id", "purpose", "recipient_agency_id",
	"client_addr", "user_agent", "request_id", "chain_agency_id", "chain_seq", "hash"}

// exportBatch is how many rows one chunk of the export reads, and
// exportChunkBytes the size at which a chunk ends early: a row is at most a
// few KiB (header-derived fields are truncated when recorded: user agent
// 300 bytes, purpose 500), so a chunk stays far below the 4 MiB gRPC
// message limit however the rows were filled — which a report built as one
// message did not (5,000 denied reads with long headers made it 429).
const (
	exportBatch      = 2500
	exportChunkBytes = 3 << 20
)

// ExportCaseAuditEvents is the disclosure report as CSV, chunk by chunk
// (see the .proto): the first call checks the 100,000-row cap and fixes
// the report's end at the time of the call, so the rows are the same
// however long the download takes, and records written meanwhile —
// including those of the export's own calls — are not part of it.
func (s *Server) ExportCaseAuditEvents(ctx context.Context, req *auditv1.ExportCaseAuditEventsRequest) (*auditv1.ExportCaseAuditEventsResponse, error) {
	caseID, err := caseIDOf(req.GetCaseId())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCase(ctx, caseID); err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ExportCaseAuditEvents", caseID)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	var end time.Time
	var after *store.CaseAfter
	if req.GetPageToken() == "" {
		end = time.Now().UTC()
		n, err := store.CountCase(ctx, s.pool, caseID, end, MaxExportRows+1)
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		if n > MaxExportRows {
			return nil, status.Errorf(codes.FailedPrecondition,
				"the report has more than %d rows; read it page by page from GET /v1/cases/%s/audit", MaxExportRows, caseID)
		}
		_ = w.Write(csvHeader)
	} else {
		keys, err := pagetoken.Decode(req.GetPageToken(), bind, 4)
		if err != nil || keys == nil {
			return nil, rpc.FieldError("pageToken", "invalid or issued for another case; start the export again")
		}
		e, eerr := time.Parse(time.RFC3339Nano, keys[0])
		t, terr := time.Parse(time.RFC3339Nano, keys[1])
		seq, serr := strconv.ParseInt(keys[3], 10, 64)
		if eerr != nil || terr != nil || serr != nil || uuid.Validate(keys[2]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		end, after = e, &store.CaseAfter{Time: t, AgencyID: keys[2], Seq: seq}
	}
	rows, err := store.ListCaseBefore(ctx, s.pool, caseID, after, end, exportBatch)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	var last *store.Row
	for i := range rows {
		_ = w.Write(csvRecord(rows[i]))
		last = &rows[i]
		if w.Flush(); buf.Len() >= exportChunkBytes {
			break
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &auditv1.ExportCaseAuditEventsResponse{Body: &httpbody.HttpBody{
		ContentType: "text/csv; charset=utf-8",
		Data:        buf.Bytes(),
	}}
	if last != nil && (len(rows) == exportBatch || last != &rows[len(rows)-1]) {
		resp.NextPageToken = pagetoken.Encode(bind, end.Format(time.RFC3339Nano),
			last.Time.UTC().Format(time.RFC3339Nano), last.AgencyID, strconv.FormatInt(last.Seq, 10))
	}
	return resp, nil
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
