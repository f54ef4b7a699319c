package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// genesis is the prev hash of an item's first custody event.
var genesis = make([]byte, sha256.Size)

// canonicalEvent is what an event's hash covers. The JSON field order is the
// canonical order; never reorder or rename fields (stored chains would stop
// verifying).
type canonicalEvent struct {
	EvidenceID      string `json:"evidenceId"`
	Seq             int64  `json:"seq"`
	ID              string `json:"id"`
	Action          string `json:"action"`
	EventTime       string `json:"eventTime"`
	FromCustodian   string `json:"fromCustodian"`
	ToCustodian     string `json:"toCustodian"`
	ToAgencyID      string `json:"toAgencyId"`
	Location        string `json:"location"`
	Purpose         string `json:"purpose"`
	FromAgencyID    string `json:"fromAgencyId"`
	HoldingAgencyID string `json:"holdingAgencyId"`
	FromStatus      string `json:"fromStatus"`
	ToStatus        string `json:"toStatus"`
	ActorUserID     string `json:"actorUserId"`
	ActorEmail      string `json:"actorEmail"`
	ActorAgencyID   string `json:"actorAgencyId"`
	ActorAgencyORI  string `json:"actorAgencyOri"`
	CreateTime      string `json:"createTime"`
}

// canonicalTime is the one text form of a time in the chain: UTC, at the
// microsecond precision PostgreSQL stores.
func canonicalTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// canonical returns the bytes hashed for e.
func canonical(e *store.Event) []byte {
	b, err := json.Marshal(canonicalEvent{
		EvidenceID: e.EvidenceID, Seq: e.Seq, ID: e.ID, Action: e.Action, EventTime: canonicalTime(e.EventTime),
		FromCustodian: e.FromCustodian, ToCustodian: e.ToCustodian, ToAgencyID: e.ToAgencyID,
		Location: e.Location, Purpose: e.Purpose, FromAgencyID: e.FromAgencyID,
		HoldingAgencyID: e.HoldingAgencyID, FromStatus: e.FromStatus, ToStatus: e.ToStatus,
		ActorUserID: e.ActorUserID, ActorEmail: e.ActorEmail, ActorAgencyID: e.ActorAgencyID,
		ActorAgencyORI: e.ActorAgencyORI, CreateTime: canonicalTime(e.CreateTime),
	})
	if err != nil {
		panic(fmt.Sprintf("evidence: canonical event: %v", err)) // strings and ints only
	}
	return b
}

// chainHash is SHA-256(prev || canonical(e)).
func chainHash(prev []byte, e *store.Event) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical(e))
	return h.Sum(nil)
}

// chainReport is the outcome of verifying one item's chain.
type chainReport struct {
	Count, Expected int64
	Head            []byte
	FirstBroken     int64 // 0 when the chain is intact
	Problem         string
}

func (r chainReport) Valid() bool { return r.FirstBroken == 0 }

// chainVerifier walks an item's events in sequence order and records the
// first one that is missing or does not match.
type chainVerifier struct {
	r    chainReport
	prev []byte
	want int64
}

func newChainVerifier(expected int64) *chainVerifier {
	return &chainVerifier{r: chainReport{Expected: expected}, prev: genesis, want: 1}
}

func (v *chainVerifier) broken(seq int64, format string, args ...any) {
	if v.r.FirstBroken == 0 {
		v.r.FirstBroken, v.r.Problem = seq, fmt.Sprintf(format, args...)
	}
}

// add checks the next stored event.
func (v *chainVerifier) add(e *store.Event) {
	v.r.Count++
	v.r.Head = e.Hash
	if v.r.FirstBroken != 0 {
		return
	}
	switch {
	case e.Seq != v.want:
		v.broken(v.want, "event %d is missing (deleted): the next stored event is %d", v.want, e.Seq)
	case !bytes.Equal(chainHash(e.PrevHash, e), e.Hash):
		v.broken(e.Seq, "event %d: its stored hash does not match its contents (edited)", e.Seq)
	case !bytes.Equal(e.PrevHash, v.prev):
		v.broken(e.Seq, "event %d does not link to event %d (an event before it was replaced or reordered)", e.Seq, e.Seq-1)
	}
	v.prev = e.Hash
	v.want++
}

// finish compares the end of the chain with the item's anchor.
func (v *chainVerifier) finish(head []byte) chainReport {
	switch {
	case v.r.Count < v.r.Expected:
		v.broken(v.r.Count+1, "event %d is missing (deleted): the item records %d events, %d are stored", v.r.Count+1, v.r.Expected, v.r.Count)
	case v.r.Count > v.r.Expected:
		v.broken(v.r.Expected+1, "event %d was not recorded by the item (inserted): the item records %d events", v.r.Expected+1, v.r.Expected)
	case !bytes.Equal(v.prev, head):
		v.broken(v.r.Count, "event %d: the chain head does not match the item's record", v.r.Count)
	}
	if v.r.Count == 0 {
		v.r.Head = genesis
	}
	return v.r
}

// Custody statuses and actions as stored (enum names without prefix).
const (
	statusInCustody   = "IN_CUSTODY"
	statusCheckedOut  = "CHECKED_OUT"
	statusTransferred = "TRANSFERRED"
	statusReturned    = "RETURNED"
	statusDestroyed   = "DESTROYED"

	actionIntake      = "INTAKE"
	actionCheckIn     = "CHECK_IN"
	actionCheckOut    = "CHECK_OUT"
	actionTransfer    = "TRANSFER"
	actionAnalysis    = "ANALYSIS"
	actionReturn      = "RETURN"
	actionDestruction = "DESTRUCTION"
)

// transitions is the custody state machine: status -> action -> new status.
// INTAKE is written by the server at registration only. DESTROYED is final.
var transitions = map[string]map[string]string{
	statusInCustody: {
		actionCheckOut:    statusCheckedOut,
		actionTransfer:    statusTransferred,
		actionDestruction: statusDestroyed,
	},
	statusCheckedOut: {
		actionAnalysis: statusCheckedOut,
		actionReturn:   statusReturned,
		actionCheckIn:  statusInCustody,
	},
	statusReturned: {
		actionCheckIn:     statusInCustody,
		actionCheckOut:    statusCheckedOut,
		actionTransfer:    statusTransferred,
		actionDestruction: statusDestroyed,
	},
	statusTransferred: {
		actionCheckIn:  statusInCustody,
		actionTransfer: statusTransferred,
	},
	statusDestroyed: {},
}

// nextStatus returns the status after action, or FAILED_PRECONDITION naming
// the current status and what it allows.
func nextStatus(exhibit, current, action string) (string, error) {
	if to, ok := transitions[current][action]; ok {
		return to, nil
	}
	allowed := slices.Sorted(maps.Keys(transitions[current]))
	if len(allowed) == 0 {
		return "", status.Errorf(codes.FailedPrecondition,
			"exhibit %s is %s: nothing can be recorded after its destruction", exhibit, current)
	}
	return "", status.Errorf(codes.FailedPrecondition, "exhibit %s is %s: %s is not allowed (allowed: %s)",
		exhibit, current, action, strings.Join(allowed, ", "))
}
