package authz

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/auth"
)

// MethodRule is the method-level authorization of one RPC: the permission it
// needs somewhere. The handler then checks the object itself with Authorize;
// this first gate refuses, before any database work, a caller whose roles
// could never hold the permission under any relation.
type MethodRule struct {
	Object, Action string
	// Authenticated marks methods every authenticated user may call (the
	// agency directory); the handler may still decide per object.
	Authenticated bool
}

// MethodRules maps full gRPC method names to their rule. Every service
// exports its table; a method without a rule is refused (fail closed), so a
// new RPC cannot ship without an authorization decision.
type MethodRules map[string]MethodRule

// publicPrefixes are infrastructure methods outside authorization.
var publicPrefixes = []string{"/grpc.health.v1.Health/", "/grpc.reflection."}

// MethodInterceptor enforces rules. It runs after authentication.
func (a *Authorizer) MethodInterceptor(rules MethodRules) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		for _, p := range publicPrefixes {
			if strings.HasPrefix(info.FullMethod, p) {
				return handler(ctx, req)
			}
		}
		rule, ok := rules[info.FullMethod]
		if !ok {
			return nil, status.Errorf(codes.PermissionDenied, "no authorization rule for %s", info.FullMethod)
		}
		p, ok := auth.FromContext(ctx)
		if !ok {
			return nil, status.Error(codes.Unauthenticated, "authentication required")
		}
		if rule.Authenticated || a.Possible(p, rule.Object, rule.Action) {
			return handler(ctx, req)
		}
		return nil, status.Error(codes.PermissionDenied, fmt.Sprintf("your roles (%s) do not allow %s %s", strings.Join(p.Roles, ", "), rule.Action, rule.Object))
	}
}

// Possible reports whether p could do act on obj under some relation.
func (a *Authorizer) Possible(p *auth.Principal, obj, act string) bool {
	return len(a.Permitting(p, obj, act)) > 0
}
