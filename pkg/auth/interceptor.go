package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryInterceptor authenticates every call except public methods and puts
// the Principal in the handler's context (see FromContext). It answers
// UNAUTHENTICATED for bad credentials and UNAVAILABLE when the directory or
// an issuer cannot be reached.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.isPublic(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := a.authenticateIncoming(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor for streaming calls.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.isPublic(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := a.authenticateIncoming(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

func (a *Authenticator) isPublic(fullMethod string) bool {
	for _, p := range a.publicMethods {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// authenticateIncoming authenticates the call's bearer token and returns a
// context carrying the principal, or a status error.
func (a *Authenticator) authenticateIncoming(ctx context.Context, method string) (context.Context, error) {
	token, err := bearerToken(ctx)
	if err == nil {
		var p *Principal
		if p, err = a.Authenticate(ctx, token); err == nil {
			return WithPrincipal(ctx, p), nil
		}
	}
	return nil, a.toStatus(ctx, method, err)
}

// bearerToken reads the "authorization" metadata (grpc-gateway forwards the
// HTTP Authorization header under that key) as "Bearer <token>", the scheme
// matched case-insensitively as RFC 9110 requires.
func bearerToken(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return "", unauthenticated("missing bearer token", nil)
	case 1:
	default:
		return "", unauthenticated("more than one authorization header", nil)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", unauthenticated("malformed authorization header, want \"Bearer <token>\"", nil)
	}
	return token, nil
}

// toStatus maps an authentication error to the status the caller sees.
// Rejections show their short reason; outages show nothing internal.
func (a *Authenticator) toStatus(ctx context.Context, method string, err error) error {
	var rej *rejection
	switch {
	case errors.As(err, &rej):
		if a.observe != nil {
			r := Rejection{Reason: rej.reason}
			if rej.claimed != nil {
				r = *rej.claimed
			}
			a.observe(ctx, r)
		}
		a.logger.LogAttrs(ctx, slog.LevelDebug, "request not authenticated",
			slog.String("method", method), slog.String("reason", rej.reason), slog.Any("cause", rej.cause))
		return status.Error(codes.Unauthenticated, rej.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		a.logger.LogAttrs(ctx, slog.LevelWarn, "authentication unavailable",
			slog.String("method", method), slog.Any("error", err))
		return status.Error(codes.Unavailable, "authentication is temporarily unavailable")
	}
}
