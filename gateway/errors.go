package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// ErrorBody is the one JSON error shape of the HTTP API, for every error:
//
//	{"code": 400, "status": "INVALID_ARGUMENT", "message": "...",
//	 "details": [{"field": "case.title", "description": "..."}],
//	 "requestId": "..."}
//
// code is the HTTP status, status the gRPC code name, details the field
// violations when the request was invalid.
type ErrorBody struct {
	Code      int           `json:"code"`
	Status    string        `json:"status"`
	Message   string        `json:"message"`
	Details   []FieldDetail `json:"details"`
	RequestID string        `json:"requestId,omitempty"`
}

// FieldDetail names one invalid field by its JSON path.
type FieldDetail struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// httpStatus maps gRPC codes to HTTP (grpc-gateway's table).
func httpStatus(c codes.Code) int { return runtime.HTTPStatusFromCode(c) }

// writeError writes st in the error shape. A 401 carries WWW-Authenticate so
// clients know to present a bearer token (RFC 6750).
func writeError(w http.ResponseWriter, r *http.Request, st *status.Status) {
	writeErrorCode(w, r, httpStatus(st.Code()), st)
}

func writeErrorCode(w http.ResponseWriter, r *http.Request, code int, st *status.Status) {
	body := ErrorBody{
		Code:      code,
		Status:    codeName(st.Code()),
		Message:   st.Message(),
		Details:   []FieldDetail{},
		RequestID: w.Header().Get(requestIDHeader),
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				body.Details = append(body.Details, FieldDetail{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	if d := rpc.RetryAfter(st.Err()); d > 0 && code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	if st.Code() == codes.Unauthenticated {
		v := `Bearer realm="casebridge"`
		if r.Header.Get("Authorization") != "" {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	w.Header().Del("Trailer")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(body.Code)
	_ = json.NewEncoder(w).Encode(body)
}

// codeName spells a gRPC code the way google.rpc.Code does (INVALID_ARGUMENT).
func codeName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
		codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
		codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return "UNKNOWN"
}

// errorHandler is grpc-gateway's error hook. Errors that are not statuses
// (e.g. a body that is not JSON) arrive already converted by the runtime;
// a connection failure to a service becomes UNAVAILABLE.
func errorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st, ok := status.FromError(err)
	if !ok {
		st = status.New(codes.InvalidArgument, err.Error())
	}
	if st.Code() == codes.Unknown {
		// The runtime reports some decoding problems as Unknown; nothing a
		// service returns is Unknown (toStatus maps everything), so this is
		// the request's fault.
		st = status.New(codes.InvalidArgument, st.Message())
	}
	if st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		st = withDecodeField(st)
	}
	if st.Code() == codes.ResourceExhausted && bodyTooLarge(r.Context()) {
		writeErrorCode(w, r, http.StatusRequestEntityTooLarge, st)
		return
	}
	writeError(w, r, st)
}

// decodeField finds the field a protojson decoding error is about. protojson
// has no typed errors, so its message is the only source; if the wording
// ever changes the error is still a 400, just without the field detail.
var decodeField = regexp.MustCompile(`(?:unknown field|invalid value for [a-z0-9]+ field|duplicate field) "?([A-Za-z0-9_]+)"?`)

func withDecodeField(st *status.Status) *status.Status {
	m := decodeField.FindStringSubmatch(st.Message())
	if m == nil {
		return st
	}
	out, err := status.New(codes.InvalidArgument, st.Message()).WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: m[1], Description: st.Message()}},
	})
	if err != nil {
		return st
	}
	return out
}

// routingErrorHandler answers unknown routes and wrong methods in the same
// shape.
func routingErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeErrorCode(w, r, http.StatusMethodNotAllowed, status.New(codes.Unimplemented, "method not allowed"))
	case http.StatusBadRequest:
		writeError(w, r, status.New(codes.InvalidArgument, "bad request"))
	default:
		writeError(w, r, status.New(codes.NotFound, "no such route"))
	}
}

func statusInvalid(msg string) *status.Status { return status.New(codes.InvalidArgument, msg) }

func statusTooLarge() *status.Status {
	return status.Newf(codes.ResourceExhausted, "request body larger than %d bytes", maxBodyBytes)
}
