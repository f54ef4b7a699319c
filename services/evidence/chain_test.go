package evidence

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

func testChain(n int) []*store.Event {
	prev := genesis
	var out []*store.Event
	for i := range n {
		e := &store.Event{EvidenceID: "e1", Seq: int64(i + 1), ID: string(rune('a' + i)), Action: actionAnalysis,
			EventTime: time.Unix(int64(i), 0), CreateTime: time.Unix(int64(i), 0), Purpose: "p", PrevHash: prev}
		e.Hash = chainHash(prev, e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func verify(evs []*store.Event, expected int64, head []byte) chainReport {
	v := newChainVerifier(expected)
	for _, e := range evs {
		v.add(e)
	}
	return v.finish(head)
}

func TestChainVerifier(t *testing.T) {
	t.Parallel()
	evs := testChain(5)
	head := evs[4].Hash
	require.True(t, verify(evs, 5, head).Valid())

	edited := testChain(5)
	edited[2].Purpose = "changed"
	r := verify(edited, 5, head)
	require.EqualValues(t, 3, r.FirstBroken, r.Problem)
	require.Contains(t, r.Problem, "edited")

	// Edited and rehashed: the next event no longer links.
	rehashed := testChain(5)
	rehashed[1].Purpose = "changed"
	rehashed[1].Hash = chainHash(rehashed[1].PrevHash, rehashed[1])
	r = verify(rehashed, 5, head)
	require.EqualValues(t, 3, r.FirstBroken, r.Problem)

	r = verify(append(append([]*store.Event{}, evs[:1]...), evs[2:]...), 5, head)
	require.EqualValues(t, 2, r.FirstBroken, r.Problem)
	require.Contains(t, r.Problem, "missing")

	r = verify(evs[:4], 5, head)
	require.EqualValues(t, 5, r.FirstBroken, r.Problem)

	r = verify(evs, 4, evs[3].Hash)
	require.EqualValues(t, 5, r.FirstBroken, r.Problem)
	require.Contains(t, r.Problem, "inserted")
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, action, to string }{
		{statusInCustody, actionCheckOut, statusCheckedOut},
		{statusCheckedOut, actionAnalysis, statusCheckedOut},
		{statusCheckedOut, actionReturn, statusReturned},
		{statusReturned, actionCheckIn, statusInCustody},
		{statusInCustody, actionTransfer, statusTransferred},
		{statusTransferred, actionCheckIn, statusInCustody},
		{statusInCustody, actionDestruction, statusDestroyed},
	} {
		got, err := nextStatus("X-E001", tc.from, tc.action)
		require.NoError(t, err)
		require.Equal(t, tc.to, got)
	}
	for _, tc := range []struct{ from, action string }{
		{statusCheckedOut, actionCheckOut},
		{statusInCustody, actionCheckIn},
		{statusInCustody, actionAnalysis},
		{statusCheckedOut, actionDestruction},
		{statusDestroyed, actionCheckIn},
		{statusInCustody, actionIntake},
	} {
		_, err := nextStatus("X-E001", tc.from, tc.action)
		require.Equal(t, codes.FailedPrecondition, status.Code(err))
		require.Contains(t, status.Convert(err).Message(), tc.from)
	}
}
