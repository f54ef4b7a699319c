package rpc

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/casebridge/casebridge/pkg/auth"
)

// RateLimit is a token bucket: Rate requests per second sustained, Burst at
// once. A zero Rate turns the limit off.
type RateLimit struct {
	Rate  float64
	Burst int
}

// Default rate limits. An investigator's browser makes a handful of calls
// per page and an agency's tools a few per second; a user at 100/s is a
// script gone wrong or an abuse (the case that prompted the limits ran
// 1,267/s). Per client address the limit is ten times that, because an
// agency's whole office may reach the edge through one NAT address. The
// project's load tool (`casebridge bench run`, 16 workers over 20 users)
// stays below both on a two-core machine (≈40/s per user, ≈840/s in all).
var (
	DefaultUserRateLimit    = RateLimit{Rate: 100, Burst: 200}
	DefaultAddressRateLimit = RateLimit{Rate: 1000, Burst: 2000}
)

// limiterSet holds one token bucket per key (a user id, a client address),
// forgetting keys idle for longer than a bucket needs to refill, so memory
// stays bounded by the active keys.
type limiterSet struct {
	limit RateLimit
	mu    sync.Mutex
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	last time.Time
}

func newLimiterSet(l RateLimit) *limiterSet {
	return &limiterSet{limit: l, m: map[string]*limiterEntry{}}
}

// wait reports how long key must wait before its next request; 0 lets it
// through now (and spends a token).
func (s *limiterSet) wait(key string, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) > time.Minute {
		// A bucket idle this long is full again: forgetting it changes nothing.
		idle := time.Duration(float64(s.limit.Burst)/s.limit.Rate*float64(time.Second)) + time.Minute
		for k, e := range s.m {
			if now.Sub(e.last) > idle {
				delete(s.m, k)
			}
		}
		s.swept = now
	}
	e, ok := s.m[key]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(rate.Limit(s.limit.Rate), s.limit.Burst)}
		s.m[key] = e
	}
	e.last = now
	r := e.l.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// RateLimited is the error of a throttled call: RESOURCE_EXHAUSTED (HTTP
// 429) with a RetryInfo detail the gateway turns into Retry-After (whole
// seconds, at least 1).
func RateLimited(who string, after time.Duration) error {
	secs := math.Ceil(after.Seconds())
	if secs < 1 {
		secs = 1
	}
	st := status.Newf(codes.ResourceExhausted, "too many requests from this %s; retry after %d s", who, int(secs))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
		st = d
	}
	return st.Err()
}

// RetryAfter returns the retry delay an error carries (RetryInfo), or 0.
func RetryAfter(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// addressLimit throttles per client address — the forwarded one when the
// gateway vouched for it, else the connection's (trustForwarded ran
// first). It runs after the audit interceptor, so a throttled call is
// recorded like any refused one, and before authentication, so a flood
// of bad tokens costs no signature checks.
func addressLimit(l RateLimit) grpc.UnaryServerInterceptor {
	if l.Rate <= 0 {
		return nil
	}
	set := newLimiterSet(l)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if infrastructure(info.FullMethod) || len(md.Get(hopHeader)) > 0 {
			return handler(ctx, req)
		}
		addr := ""
		if v := md.Get("x-forwarded-for"); len(v) > 0 {
			addr = strings.TrimSpace(strings.Split(v[0], ",")[0])
		}
		if d := set.wait(addr, time.Now()); d > 0 {
			return nil, RateLimited("client address", d)
		}
		return handler(ctx, req)
	}
}

// userLimit throttles per authenticated user, after authentication.
// Calls one service makes to another on a user's behalf (ForwardIdentity
// marks them; trustForwarded drops the mark from anyone but the gateway's
// certificate) are not counted again: the request that caused them was.
func userLimit(l RateLimit) grpc.UnaryServerInterceptor {
	if l.Rate <= 0 {
		return nil
	}
	set := newLimiterSet(l)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, ok := auth.FromContext(ctx)
		md, _ := metadata.FromIncomingContext(ctx)
		if !ok || infrastructure(info.FullMethod) || len(md.Get(hopHeader)) > 0 {
			return handler(ctx, req)
		}
		if d := set.wait(p.UserID, time.Now()); d > 0 {
			return nil, RateLimited("user", d)
		}
		return handler(ctx, req)
	}
}

func infrastructure(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") || strings.HasPrefix(method, "/grpc.reflection.")
}
