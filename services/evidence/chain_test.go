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

// TestCheckItemNamesTheChangedField holds an item's record to its chain: a
// sealed registration field and each replayed custody field, named.
func TestCheckItemNamesTheChangedField(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	it := &store.Item{ID: "i1", CaseID: "c1", CaseNumber: "C-1", ExhibitNumber: "C-1-E001", Description: "disk",
		Kind: "DISK_IMAGE", SHA256: "ab", AuthorityType: "UNSPECIFIED", StorageLocation: "vault", CreateTime: now,
		HoldingAgencyID: "csp", HoldingAgencyORI: "CTCSP0000", CurrentCustodian: "ev", Status: statusInCustody}
	no := false
	evs := []*store.Event{
		{EvidenceID: "i1", Seq: 1, ID: "e1", Action: actionIntake, EventTime: now, CreateTime: now, ToCustodian: "ev",
			Location: "vault", HoldingAgencyID: "csp", ToStatus: statusInCustody, ActorAgencyORI: "CTCSP0000",
			Registration: sealRegistration(it)},
		{EvidenceID: "i1", Seq: 2, ID: "e2", Action: actionIntegrityCheck, EventTime: now, CreateTime: now, FromCustodian: "ev",
			ToCustodian: "ev", HoldingAgencyID: "csp", FromStatus: statusInCustody, ToStatus: statusInCustody,
			CheckSHA256: "cd", CheckExpectedSHA256: "ab", CheckMatch: &no},
	}
	prev := genesis
	for _, e := range evs {
		e.PrevHash = prev
		e.Hash = chainHash(prev, e)
		prev = e.Hash
	}
	it.CustodyCount, it.CustodyHead, it.Compromised, it.LastVerifyTime = 2, prev, true, &now
	check := func(mutate func(*store.Item)) chainReport {
		cp := *it
		mutate(&cp)
		v := newChainVerifier(cp.CustodyCount)
		for _, e := range evs {
			v.add(e)
		}
		v.finish(cp.CustodyHead)
		return v.checkItem(registrationOf(&cp), stateOf(&cp))
	}
	require.True(t, check(func(*store.Item) {}).Valid())
	for field, mutate := range map[string]func(*store.Item){
		"sha256":           func(i *store.Item) { i.SHA256 = "ee" },
		"description":      func(i *store.Item) { i.Description = "other" },
		"exhibitNumber":    func(i *store.Item) { i.ExhibitNumber = "C-1-E009" },
		"compromised":      func(i *store.Item) { i.Compromised = false },
		"lastVerifyTime":   func(i *store.Item) { i.LastVerifyTime = nil },
		"status":           func(i *store.Item) { i.Status = statusDestroyed },
		"holdingAgencyOri": func(i *store.Item) { i.HoldingAgencyORI = "CTFBINH00" },
		"storageLocation":  func(i *store.Item) { i.StorageLocation = "trunk" },
	} {
		r := check(mutate)
		require.False(t, r.Valid(), field)
		require.Equal(t, field, r.Field, r.Problem)
	}
}
