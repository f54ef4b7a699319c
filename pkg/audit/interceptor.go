package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/casebridge/casebridge/pkg/requestid"
)

// unaudited are infrastructure methods that touch no case data.
var unaudited = []string{"/grpc.health.v1.Health/", "/grpc.reflection."}

// PurposeHeader is the metadata key (HTTP header X-Purpose) in which a caller
// states why it accesses the data.
const PurposeHeader = "x-purpose"

// Interceptor audits every call. It must run before authentication so that
// unauthenticated calls are recorded too (the principal is filled in by
// SetPrincipal once known).
func Interceptor(w *Writer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		for _, p := range unaudited {
			if strings.HasPrefix(info.FullMethod, p) {
				return handler(ctx, req)
			}
		}
		c := &call{ev: newEvent(ctx, info.FullMethod, req)}
		resp, err := handler(context.WithValue(ctx, callKey{}, c), req)

		c.mu.Lock()
		written, ev := c.written, c.ev
		c.mu.Unlock()
		if err == nil && written {
			return resp, nil
		}
		st := status.Convert(err)
		ev.StatusCode = st.Code().String()
		ev.Outcome = outcomeOf(st.Code())
		ev.Time = time.Now().UTC()
		if aerr := w.Append(ctx, &ev); aerr != nil {
			return nil, status.Error(codes.Unavailable, "audit trail unavailable; the request was not carried out")
		}
		return resp, err
	}
}

func outcomeOf(c codes.Code) string {
	switch c {
	case codes.OK:
		return OutcomeAllowed
	case codes.PermissionDenied, codes.NotFound, codes.Unauthenticated:
		return OutcomeDenied
	}
	return OutcomeFailed
}

func newEvent(ctx context.Context, fullMethod string, req any) Event {
	svc, method := splitMethod(fullMethod)
	ev := Event{
		RequestID: requestid.From(ctx),
		Service:   svc,
		Method:    method,
		Action:    method,
		Roles:     []string{},
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ev.ClientAddr = truncate(clientAddr(ctx, md), MaxClientAddrBytes)
	ev.UserAgent = truncate(first(md, "x-forwarded-user-agent", "grpcgateway-user-agent", "user-agent"), MaxUserAgentBytes)
	ev.Purpose = truncate(first(md, PurposeHeader), MaxPurposeBytes)
	if r, ok := req.(interface{ GetCaseId() string }); ok && uuid.Validate(r.GetCaseId()) == nil {
		ev.CaseID, ev.ResourceType, ev.ResourceID = r.GetCaseId(), "case", r.GetCaseId()
	}
	if m, ok := req.(proto.Message); ok && !isRead(method) {
		ev.Changes = digest(m)
	}
	return ev
}

func splitMethod(full string) (string, string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return full, full
}

func isRead(method string) bool {
	for _, p := range []string{"Get", "List", "Explain", "Verify", "Stats", "Export"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// digest lists the fields a write sets — one level into message fields such
// as `case` — each with a SHA-256 of its JSON value, never the value.
func digest(m proto.Message) []Change {
	var out []Change
	var walk func(prefix string, msg protoreflect.Message, depth int)
	walk = func(prefix string, msg protoreflect.Message, depth int) {
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			name := prefix + fd.JSONName()
			if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && depth == 0 &&
				!strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
				walk(name+".", v.Message(), depth+1)
				return true
			}
			out = append(out, Change{Field: name, Hash: hashValue(msg, fd)})
			return true
		})
	}
	walk("", m.ProtoReflect(), 0)
	return out
}

func hashValue(msg protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	// Hash the field alone: a copy of the message holding only that field.
	one := msg.New()
	one.Set(fd, msg.Get(fd))
	b, _ := protojson.MarshalOptions{}.Marshal(one.Interface())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func clientAddr(ctx context.Context, md metadata.MD) string {
	if xff := first(md, "x-forwarded-for"); xff != "" {
		return strings.TrimSpace(strings.Split(xff, ",")[0])
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
		return p.Addr.String()
	}
	return ""
}

func first(md metadata.MD, keys ...string) string {
	for _, k := range keys {
		if v := md.Get(k); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

// Documented lengths of the header-derived fields of a record (README,
// Audit trail): longer values are cut to them.
const (
	MaxClientAddrBytes = 300
	MaxUserAgentBytes  = 300
	MaxPurposeBytes    = 500
)

// truncate cuts s to at most n bytes without splitting a character, and
// makes it valid UTF-8 (a direct gRPC client may send any bytes; text
// columns take only UTF-8, and a record that cannot be stored fails its
// request).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
