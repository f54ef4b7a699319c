package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
)

// Export is a document the gateway streams to the client chunk by chunk,
// in constant memory whatever its size: an RPC that takes a page_token and
// answers a google.api.HttpBody chunk with a next_page_token, called until
// the token is empty. Each chunk is an ordinary unary call through the
// whole interceptor chain (authenticated, authorized, validated, audited).
//
// To stream another export (the case package of the evidence service, for
// one), give its RPC that shape and add an Export to exports with its
// route, its upstream and a Chunk that calls it; nothing else changes.
type Export struct {
	// Pattern is the route, a net/http ServeMux pattern ("GET /v1/…/{x}").
	Pattern string
	// RPC is the full gRPC method name, for grpc-gateway's metadata.
	RPC string
	// Upstream names the service's connection ("audit", "evidence", …).
	Upstream string
	// Chunk fetches one chunk for request r: the bytes and the next token
	// ("" after the last chunk).
	Chunk func(ctx context.Context, conn *grpc.ClientConn, r *http.Request, pageToken string) (*httpbody.HttpBody, string, error)
}

// exports are the streamed routes. They shadow grpc-gateway's own
// handlers of the same paths, which would answer only the first chunk.
var exports = []Export{{
	Pattern:  "GET /v1/cases/{case_id}/audit:csv",
	RPC:      auditv1.AuditService_ExportCaseAuditEvents_FullMethodName,
	Upstream: "audit",
	Chunk: func(ctx context.Context, conn *grpc.ClientConn, r *http.Request, token string) (*httpbody.HttpBody, string, error) {
		resp, err := auditv1.NewAuditServiceClient(conn).ExportCaseAuditEvents(ctx,
			&auditv1.ExportCaseAuditEventsRequest{CaseId: r.PathValue("case_id"), PageToken: token})
		return resp.GetBody(), resp.GetNextPageToken(), err
	},
}}

// exportChunkWrite is how long writing one chunk may take: the server's
// write deadline is moved on before each chunk, so a long download is
// fine and a reader that stops reading is cut.
const exportChunkWrite = time.Minute

// serveExport streams e for r. An error before the first byte answers in
// the JSON error shape; an error later cuts the connection (the client
// sees an incomplete transfer, never a report that looks whole but is not).
func (g *Gateway) serveExport(mux *runtime.ServeMux, e Export) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r, e.RPC, runtime.WithHTTPPathPattern(e.Pattern))
		if err != nil {
			writeError(w, r, status.Convert(err))
			return
		}
		rc := http.NewResponseController(w)
		conn := g.conns[e.Upstream]
		token, started := "", false
		for {
			body, next, err := e.Chunk(ctx, conn, r, token)
			if err != nil {
				if !started {
					errorHandler(ctx, mux, nil, w, r, err)
					return
				}
				g.logger.WarnContext(ctx, "export cut after its start", "route", e.Pattern, "err", err)
				panic(http.ErrAbortHandler)
			}
			if !started {
				w.Header().Set("Content-Type", body.GetContentType())
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusOK)
				started = true
			}
			_ = rc.SetWriteDeadline(time.Now().Add(exportChunkWrite))
			if _, err := w.Write(body.GetData()); err != nil {
				return // the client went away
			}
			_ = rc.Flush()
			if next == "" || next == token {
				return
			}
			token = next
		}
	}
}
