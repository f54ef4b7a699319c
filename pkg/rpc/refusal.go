package rpc

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Refusals the gateway finds before a request can be turned into a
// message — bytes that are not UTF-8, a body over the limit — still travel
// to the service, with the offending bytes replaced (U+FFFD) or the body
// dropped, and one of these metadata keys set. The service's chain then
// refuses the call after the audit and authentication steps, so the
// refusal is recorded, naming the user, like any other bad input. A client
// that sets them itself only gets its own call refused.
const (
	// InvalidUTF8Header names where invalid UTF-8 was found (a query
	// parameter's name, "path", "body" or a header name).
	InvalidUTF8Header = "x-casebridge-invalid-utf8"
	// BodyTooLargeHeader carries the body limit in bytes that was exceeded.
	BodyTooLargeHeader = "x-casebridge-body-too-large"
)

// refusedByGateway returns the error for a call the gateway flagged, or nil.
func refusedByGateway(ctx context.Context, msg protoreflect.Message) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(BodyTooLargeHeader); len(v) > 0 {
		return status.Errorf(codes.ResourceExhausted, "request body larger than %s bytes", v[0])
	}
	v := md.Get(InvalidUTF8Header)
	if len(v) == 0 {
		return nil
	}
	field := replacementField(msg)
	if field == "" {
		field = v[0]
	}
	return FieldError(field, "must be valid UTF-8")
}

// replacementField returns the JSON path of the first string field holding
// U+FFFD, where the gateway put the bytes that were not UTF-8.
func replacementField(m protoreflect.Message) string {
	return findString(m, func(s string) bool { return strings.ContainsRune(s, '\uFFFD') })
}

// findString returns the JSON path of the first string field (nested,
// repeated included) for which match holds, or "".
func findString(m protoreflect.Message, match func(string) bool) string {
	var found string
	var walk func(prefix string, m protoreflect.Message) bool
	walk = func(prefix string, m protoreflect.Message) bool {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			name := prefix + fd.JSONName()
			switch {
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					p := fmt.Sprintf("%s[%d]", name, i)
					if fd.Kind() == protoreflect.StringKind && match(l.Get(i).String()) {
						found = p
						return false
					}
					if fd.Kind() == protoreflect.MessageKind && !walk(p+".", l.Get(i).Message()) {
						return false
					}
				}
			case fd.IsMap():
				// No map fields in the API.
			case fd.Kind() == protoreflect.StringKind:
				if match(v.String()) {
					found = name
					return false
				}
			case fd.Kind() == protoreflect.MessageKind:
				return walk(name+".", v.Message())
			}
			return true
		})
		return found == ""
	}
	walk("", m)
	return found
}
