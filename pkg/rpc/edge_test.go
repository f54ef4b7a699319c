package rpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

func TestLimiterSetIsATokenBucketPerKey(t *testing.T) {
	t.Parallel()
	s := newLimiterSet(RateLimit{Rate: 1, Burst: 2})
	now := time.Unix(1000, 0)
	require.Zero(t, s.wait("a", now))
	require.Zero(t, s.wait("a", now))
	d := s.wait("a", now)
	require.InDelta(t, time.Second, d, float64(10*time.Millisecond), "the third at once waits a refill")
	require.Zero(t, s.wait("b", now), "another key has its own bucket")
	require.Zero(t, s.wait("a", now.Add(time.Second)), "a refused call spent no token")
	// Idle keys are forgotten once their bucket would be full again.
	s.wait("c", now)
	s.wait("d", now.Add(10*time.Minute))
	require.NotContains(t, s.m, "c")
}

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	err := RateLimited("user", 1500*time.Millisecond)
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, 2*time.Second, RetryAfter(err), "whole seconds, rounded up")
	require.Equal(t, time.Second, RetryAfter(RateLimited("user", time.Millisecond)), "at least one second")
	require.Zero(t, RetryAfter(status.Error(codes.NotFound, "x")))
}

func TestTrustForwardedReplacesAnUntrustedPeersClaims(t *testing.T) {
	t.Parallel()
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.5"), Port: 4000}})
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-forwarded-for", "203.0.113.66",
		"x-forwarded-user-agent", "ForgedAgent/1.0", "user-agent", "grpc-go/1.85", hopHeader, "1", "x-purpose", "case work"))
	md, _ := metadata.FromIncomingContext(trustForwarded(ctx, []string{GatewayIdentity}))
	require.Equal(t, []string{"192.0.2.5"}, md.Get("x-forwarded-for"))
	require.Equal(t, []string{"grpc-go/1.85"}, md.Get("x-forwarded-user-agent"))
	require.Empty(t, md.Get(hopHeader), "an untrusted peer cannot claim to be a service hop")
	require.Equal(t, []string{"case work"}, md.Get("x-purpose"), "the caller's own statement")
}

func TestGatewayRefusalsNameTheField(t *testing.T) {
	t.Parallel()
	msg := (&casesv1.ListCasesRequest{Filter: "status = \uFFFD"}).ProtoReflect()
	in := func(k, v string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(k, v))
	}
	require.NoError(t, refusedByGateway(context.Background(), msg))
	err := refusedByGateway(in(InvalidUTF8Header, "filter"), msg)
	st := status.Convert(err)
	require.Equal(t, codes.InvalidArgument, st.Code())
	require.Contains(t, st.Message(), "filter: must be valid UTF-8")
	// A header has no field in the message: the gateway's name is used.
	err = refusedByGateway(in(InvalidUTF8Header, "User-Agent"), (&casesv1.ListCasesRequest{}).ProtoReflect())
	require.Contains(t, status.Convert(err).Message(), "User-Agent: must be valid UTF-8")
	err = refusedByGateway(in(BodyTooLargeHeader, "1048576"), msg)
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, "case.title", replacementField((&casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: "a\uFFFD"}}).ProtoReflect()))
}
