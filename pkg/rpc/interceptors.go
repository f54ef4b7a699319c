package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/requestid"
)

// RequestIDHeader is the metadata key (and HTTP header) carrying the request id.
const RequestIDHeader = requestid.Header

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string { return requestid.From(ctx) }

// ValidRequestID reports whether a caller's request id is kept (see requestid.Valid).
func ValidRequestID(s string) bool { return requestid.Valid(s) }

// recoverUnary turns a panic into Internal: the process survives and the
// caller learns nothing of the internals; the stack goes to the log.
func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.ErrorContext(ctx, "panic in handler", "method", info.FullMethod,
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("panic in stream handler", "method", info.FullMethod,
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(srv, ss)
	}
}

// infrastructureStreamsOnly refuses every streaming method but health
// watching and server reflection. The chain's validation, authentication,
// authorization and audit are unary interceptors; the API has no streaming
// RPCs, and one added later must not bypass them by being a stream.
func infrastructureStreamsOnly() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(info.FullMethod, "/grpc.reflection.") {
			return handler(srv, ss)
		}
		return status.Errorf(codes.Unimplemented, "streaming method %s is not served", info.FullMethod)
	}
}

// requestIDUnary takes the caller's request id (the gateway forwards the
// HTTP X-Request-Id) or makes one, and returns it in the response header.
func requestIDUnary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id := ""
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(RequestIDHeader); len(v) > 0 && ValidRequestID(v[0]) {
				id = v[0]
			}
		}
		if id == "" {
			id = uuid.NewString()
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
		return handler(requestid.With(ctx, id), req)
	}
}

// logUnary logs each call once it ends, with the request-scoped fields. The
// principal is read after the handler ran, since authentication is later in
// the chain and stores it in a derived context; the handler's context is
// not visible here, so user fields come from a holder the auth step fills.
func logUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		holder := &callInfo{}
		resp, err := handler(context.WithValue(ctx, callInfoKey{}, holder), req)
		attrs := []any{
			"method", info.FullMethod,
			"code", codeOf(err),
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"request_id", RequestID(ctx),
		}
		if p := holder.principal; p != nil {
			attrs = append(attrs, "user", p.Email, "agency", p.AgencyORI)
		}
		level := slog.LevelInfo
		if c := status.Code(err); c == codes.Internal || c == codes.Unknown || c == codes.DataLoss {
			level = slog.LevelError
		}
		logger.Log(ctx, level, "rpc", attrs...)
		return resp, err
	}
}

type callInfoKey struct{}

type callInfo struct{ principal *auth.Principal }

// NotePrincipal records the authenticated principal for the call log. The
// authentication step calls it through PrincipalRecorder.
func NotePrincipal(ctx context.Context) {
	if h, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		if p, ok := auth.FromContext(ctx); ok {
			h.principal = p
		}
	}
}

// PrincipalRecorder is an interceptor placed right after authentication so
// the call log names the user and agency.
func PrincipalRecorder() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		NotePrincipal(ctx)
		if p, ok := auth.FromContext(ctx); ok {
			audit.SetPrincipal(ctx, p)
		}
		return handler(ctx, req)
	}
}

// validateUnary enforces the protovalidate rules written in the .proto files,
// once, before authentication: bad input never reaches a handler or the
// database. Violations come back as INVALID_ARGUMENT with a BadRequest
// detail naming each field by its JSON (lowerCamelCase) path.
func validateUnary() grpc.UnaryServerInterceptor {
	v, err := protovalidate.New()
	if err != nil {
		panic(fmt.Sprintf("rpc: protovalidate: %v", err)) // only on a broken build
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, ok := req.(proto.Message)
		if !ok {
			return handler(ctx, req)
		}
		if err := refusedByGateway(ctx, msg.ProtoReflect()); err != nil {
			return nil, err
		}
		if err := v.Validate(msg); err != nil {
			return nil, ValidationStatus(err)
		}
		if f := nulField(msg.ProtoReflect()); f != "" {
			return nil, FieldError(f, "must not contain NUL characters")
		}
		return handler(ctx, req)
	}
}

// ValidationStatus converts a protovalidate error into INVALID_ARGUMENT with
// field violations.
func ValidationStatus(err error) error {
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return status.Error(codes.Internal, "internal error")
	}
	br := &errdetails.BadRequest{}
	var msgs []string
	for _, viol := range ve.Violations {
		field := jsonPath(protovalidate.FieldPathString(viol.Proto.GetField()))
		if field == "" {
			// Message-level rules name their field in the rule id, by the
			// convention "<field path>.<rule>" (see the .proto files).
			if id := viol.Proto.GetRuleId(); strings.Contains(id, ".") {
				field = jsonPath(id[:strings.LastIndex(id, ".")])
			}
		}
		desc := viol.Proto.GetMessage()
		if desc == "" {
			desc = viol.Proto.GetRuleId()
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
		msgs = append(msgs, field+": "+desc)
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(msgs, "; "))
	if withD, err := st.WithDetails(br); err == nil {
		st = withD
	}
	return st.Err()
}

// jsonPath turns a proto field path (snake_case, dotted, maybe indexed) into
// its protojson lowerCamelCase form.
func jsonPath(p string) string {
	var b strings.Builder
	up := false
	for _, r := range p {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FieldError returns INVALID_ARGUMENT naming field, in the same shape as the
// validation interceptor's errors, for the few checks that need state the
// .proto cannot express (a page token bound to another filter, an unknown
// update_mask path).
func FieldError(field, description string) error {
	st := status.New(codes.InvalidArgument, "invalid request: "+field+": "+description)
	if withD, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}}); err == nil {
		st = withD
	}
	return st.Err()
}

// ForwardIdentity returns an outgoing context for a call to another service
// made on behalf of the current caller: it carries the caller's bearer token,
// request id and stated purpose, so the called service authenticates,
// authorizes and audits the same person — no service acts with more rights
// than the user it serves.
func ForwardIdentity(ctx context.Context) context.Context {
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for _, k := range []string{"authorization", "x-purpose", "x-forwarded-for", "x-forwarded-user-agent"} {
		if v := in.Get(k); len(v) > 0 {
			out.Set(k, v...)
		}
	}
	if id := RequestID(ctx); id != "" {
		out.Set(RequestIDHeader, id)
	}
	out.Set(hopHeader, "1")
	return metadata.NewOutgoingContext(ctx, out)
}
