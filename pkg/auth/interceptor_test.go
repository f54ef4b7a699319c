package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/auth"
)

const method = "/casebridge.cases.v1.CaseService/GetCase"

// callUnary runs the unary interceptor with authorization values and returns
// the principal the handler saw (nil if it did not run) and the error.
func callUnary(t *testing.T, a *auth.Authenticator, fullMethod string, authorization ...string) (*auth.Principal, error) {
	t.Helper()
	ctx := t.Context()
	if len(authorization) > 0 {
		md := metadata.MD{}
		for _, v := range authorization {
			md.Append("authorization", v)
		}
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	var seen *auth.Principal
	ran := false
	_, err := a.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: fullMethod},
		func(ctx context.Context, _ any) (any, error) {
			ran = true
			seen, _ = auth.FromContext(ctx)
			return nil, nil
		})
	if err != nil {
		require.False(t, ran, "the handler must not run when authentication fails")
	}
	return seen, err
}

func TestUnaryInterceptor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.issuer.mint(t, alvarez)

	p, err := callUnary(t, b.auth, method, "Bearer "+tok)
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, alvarez, p.Email)

	p, err = callUnary(t, b.auth, method, "bearer "+tok)
	require.NoError(t, err, "the scheme is case-insensitive")
	require.NotNil(t, p)

	for name, header := range map[string][]string{
		"no header":     nil,
		"basic scheme":  {"Basic YWxpY2U6c2VjcmV0"},
		"scheme only":   {"Bearer"},
		"empty token":   {"Bearer   "},
		"no scheme":     {tok},
		"two tokens":    {"Bearer " + tok + " " + tok},
		"two headers":   {"Bearer " + tok, "Bearer " + tok},
		"invalid token": {"Bearer not-a-jwt"},
		"unknown user":  {"Bearer " + b.issuer.mint(t, "nobody@csp.example")},
	} {
		_, err := callUnary(t, b.auth, method, header...)
		require.Equal(t, codes.Unauthenticated, status.Code(err), name)
		require.Contains(t, status.Convert(err).Message(), "unauthenticated: ", name)
	}
}

func TestUnaryInterceptorPublicMethods(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, m := range []string{"/grpc.health.v1.Health/Check", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"} {
		p, err := callUnary(t, b.auth, m)
		require.NoError(t, err, m)
		require.Nil(t, p)
	}
	_, err := callUnary(t, b.auth, "/casebridge.meta.v1.MetaService/GetVersion")
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	a := auth.NewAuthenticator(nil, b.dir, auth.WithPublicMethods("/casebridge.meta.v1.MetaService/"))
	_, err = callUnary(t, a, "/casebridge.meta.v1.MetaService/GetVersion")
	require.NoError(t, err)
	_, err = callUnary(t, a, method)
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

func TestUnaryInterceptorOutagesAreUnavailable(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.dir.fail(errors.New("connection refused"))
	_, err := callUnary(t, b.auth, method, "Bearer "+b.issuer.mint(t, alvarez))
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.NotContains(t, status.Convert(err).Message(), "connection refused", "internal details stay in the log")

	down := setup(t)
	down.issuer.down.Store(true)
	_, err = callUnary(t, down.auth, method, "Bearer "+down.issuer.mint(t, alvarez))
	require.Equal(t, codes.Unavailable, status.Code(err))
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func TestStreamInterceptor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	call := func(md metadata.MD) (*auth.Principal, error) {
		var seen *auth.Principal
		err := b.auth.StreamInterceptor()(nil, &fakeStream{ctx: metadata.NewIncomingContext(t.Context(), md)},
			&grpc.StreamServerInfo{FullMethod: method},
			func(_ any, ss grpc.ServerStream) error {
				seen, _ = auth.FromContext(ss.Context())
				return nil
			})
		return seen, err
	}

	p, err := call(metadata.Pairs("authorization", "Bearer "+b.issuer.mint(t, harris)))
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, harris, p.Email)

	p, err = call(metadata.MD{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Nil(t, p)

	_, err = call(metadata.Pairs("authorization", "Token abc"))
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}
