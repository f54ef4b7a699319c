package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
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
	// Added by issue 14, omitted when empty so events hashed before it keep
	// their canonical form.
	Registration        string `json:"registration,omitempty"`
	LateEntry           bool   `json:"lateEntry,omitempty"`
	LateEntryReason     string `json:"lateEntryReason,omitempty"`
	CheckSHA256         string `json:"checkSha256,omitempty"`
	CheckExpectedSHA256 string `json:"checkExpectedSha256,omitempty"`
	CheckMatch          *bool  `json:"checkMatch,omitempty"`
	CheckTool           string `json:"checkTool,omitempty"`
	ToAgencyORI         string `json:"toAgencyOri,omitempty"`
}

// canonicalTime is the one text form of a time in the chain: UTC, at the
// microsecond precision PostgreSQL stores.
func canonicalTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// canonicalOf is e's hashed content.
func canonicalOf(e *store.Event) canonicalEvent {
	return canonicalEvent{
		EvidenceID: e.EvidenceID, Seq: e.Seq, ID: e.ID, Action: e.Action, EventTime: canonicalTime(e.EventTime),
		FromCustodian: e.FromCustodian, ToCustodian: e.ToCustodian, ToAgencyID: e.ToAgencyID,
		Location: e.Location, Purpose: e.Purpose, FromAgencyID: e.FromAgencyID,
		HoldingAgencyID: e.HoldingAgencyID, FromStatus: e.FromStatus, ToStatus: e.ToStatus,
		ActorUserID: e.ActorUserID, ActorEmail: e.ActorEmail, ActorAgencyID: e.ActorAgencyID,
		ActorAgencyORI: e.ActorAgencyORI, CreateTime: canonicalTime(e.CreateTime),
		Registration: e.Registration, LateEntry: e.LateEntry, LateEntryReason: e.LateReason,
		CheckSHA256: e.CheckSHA256, CheckExpectedSHA256: e.CheckExpectedSHA256, CheckMatch: e.CheckMatch,
		CheckTool: e.CheckTool, ToAgencyORI: e.ToAgencyORI,
	}
}

// canonical returns the bytes hashed for e.
func canonical(e *store.Event) []byte {
	b, err := json.Marshal(canonicalOf(e))
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
	FirstBroken     int64 // the first broken event; 0 when the chain is intact
	// Field names the first field of the item's record that no longer
	// matches the chain (its sealed registration or its replayed custody
	// state); "" when none.
	Field   string
	Problem string
}

func (r chainReport) Valid() bool { return r.Problem == "" }

// chainVerifier walks an item's events in sequence order and records the
// first one that is missing or does not match. It replays what the events
// say about the item (status, holder, custodian, storage, integrity) so
// checkItem can hold the item's row to it.
type chainVerifier struct {
	r    chainReport
	prev []byte
	want int64

	sealed   string // the INTAKE event's registration JSON
	replayed itemState
	// oriKnown: the holder's ORI is replayable (false after a transfer
	// recorded before transfers carried the receiving ORI).
	oriKnown bool
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
	v.replay(e)
}

// replay applies e to the state the chain says the item is in.
func (v *chainVerifier) replay(e *store.Event) {
	st := &v.replayed
	if e.Action == actionIntake {
		v.sealed = e.Registration
		st.StorageLocation = e.Location
		st.HoldingAgencyORI, v.oriKnown = e.ActorAgencyORI, true
	}
	if e.ToAgencyID != "" && e.ToAgencyID != e.FromAgencyID {
		st.HoldingAgencyORI, v.oriKnown = e.ToAgencyORI, e.ToAgencyORI != ""
	}
	if e.Action == actionCheckIn && e.Location != "" {
		st.StorageLocation = e.Location
	}
	if e.Action == actionIntegrityCheck {
		st.LastVerifyTime = canonicalTime(e.CreateTime)
		if e.CheckMatch != nil && !*e.CheckMatch {
			st.Compromised = true
		}
	}
	st.Status, st.HoldingAgencyID, st.CurrentCustodian = e.ToStatus, e.HoldingAgencyID, e.ToCustodian
	st.CustodyCount, st.CustodyHead = e.Seq, hex.EncodeToString(e.Hash)
}

// checkItem holds an item's record to its verified chain: the registration
// recomputed from the record must equal the one the INTAKE event sealed, and
// every custody-driven field must equal what the events replay to. It names
// the first field that differs. Call it after finish.
func (v *chainVerifier) checkItem(reg registration, st itemState) chainReport {
	if !v.r.Valid() || v.r.Count == 0 {
		return v.r
	}
	if v.sealed != "" {
		var sealed registration
		if err := json.Unmarshal([]byte(v.sealed), &sealed); err != nil {
			v.r.FirstBroken, v.r.Problem = 1, "event 1: its sealed registration record is unreadable"
			return v.r
		}
		if f, have, want := firstDiff(reg, sealed); f != "" {
			v.r.FirstBroken, v.r.Field = 1, f
			v.r.Problem = fmt.Sprintf("the exhibit's %s is %q, but its INTAKE event (event 1) sealed %q: the registration record was changed", f, have, want)
			return v.r
		}
	}
	if !v.oriKnown {
		v.replayed.HoldingAgencyORI = st.HoldingAgencyORI
	}
	if f, have, want := firstDiff(st, v.replayed); f != "" {
		v.r.FirstBroken, v.r.Field = v.r.Count, f
		v.r.Problem = fmt.Sprintf("the exhibit's %s is %q, but its chain of custody says %q: the record was changed outside the chain", f, have, want)
	}
	return v.r
}

// firstDiff compares two values of one flat struct type field by field, in
// declaration order, and returns the JSON name and both values of the first
// field that differs.
func firstDiff[T any](have, want T) (field, h, w string) {
	hv, wv := reflect.ValueOf(have), reflect.ValueOf(want)
	for i := range hv.NumField() {
		a, b := fmt.Sprint(hv.Field(i).Interface()), fmt.Sprint(wv.Field(i).Interface())
		if a != b {
			name, _, _ := strings.Cut(hv.Type().Field(i).Tag.Get("json"), ",")
			return name, a, b
		}
	}
	return "", "", ""
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
	// An integrity check: written by VerifyEvidence, never taken from a
	// custody event's input; it leaves status and custodian as they are.
	actionIntegrityCheck = "INTEGRITY_CHECK"
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

// registration is an exhibit's registration record: what the INTAKE event
// seals. The JSON field order is the canonical order; never reorder or rename
// fields (sealed records would stop verifying). Times are canonicalTime or "".
type registration struct {
	EvidenceID          string `json:"id"`
	CaseID              string `json:"caseId"`
	CaseNumber          string `json:"caseNumber"`
	ExhibitNumber       string `json:"exhibitNumber"`
	ParentID            string `json:"parentId"`
	Description         string `json:"description"`
	Kind                string `json:"kind"`
	SHA256              string `json:"sha256"`
	MD5                 string `json:"md5"`
	SHA1                string `json:"sha1"`
	SizeBytes           int64  `json:"sizeBytes"`
	AcquireTime         string `json:"acquireTime"`
	AcquiredBy          string `json:"acquiredBy"`
	AcquireMethod       string `json:"acquireMethod"`
	AcquireTool         string `json:"acquireTool"`
	AcquireToolVersion  string `json:"acquireToolVersion"`
	SourceLocation      string `json:"sourceLocation"`
	AuthorityType       string `json:"legalAuthorityType"`
	AuthorityIdentifier string `json:"legalAuthorityIdentifier"`
	AuthorityIssuer     string `json:"legalAuthorityIssuer"`
	AuthorityExpireTime string `json:"legalAuthorityExpireTime"`
	CreateUserID        string `json:"createUserId"`
	CreateUserEmail     string `json:"createUser"`
	CreateTime          string `json:"createTime"`
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return canonicalTime(*t)
}

// registrationOf is it's registration record as its row holds it now.
func registrationOf(it *store.Item) registration {
	r := registration{
		EvidenceID: it.ID, CaseID: it.CaseID, CaseNumber: it.CaseNumber, ExhibitNumber: it.ExhibitNumber,
		Description: it.Description, Kind: it.Kind, SHA256: it.SHA256, MD5: it.MD5, SHA1: it.SHA1,
		SizeBytes: it.SizeBytes, AcquireTime: optTime(it.AcquireTime), AcquiredBy: it.AcquiredBy,
		AcquireMethod: it.AcquireMethod, AcquireTool: it.AcquireTool, AcquireToolVersion: it.AcquireToolVersion,
		SourceLocation: it.SourceLocation, AuthorityType: it.AuthorityType,
		AuthorityIdentifier: it.AuthorityIdentifier, AuthorityIssuer: it.AuthorityIssuer,
		AuthorityExpireTime: optTime(it.AuthorityExpireTime), CreateUserID: it.CreateUserID,
		CreateUserEmail: it.CreateUserEmail, CreateTime: canonicalTime(it.CreateTime),
	}
	if it.ParentID != nil {
		r.ParentID = *it.ParentID
	}
	return r
}

// sealRegistration is the canonical JSON of it's registration record.
func sealRegistration(it *store.Item) string {
	b, err := json.Marshal(registrationOf(it))
	if err != nil {
		panic(fmt.Sprintf("evidence: registration: %v", err)) // strings and ints only
	}
	return string(b)
}

// itemState is what custody legitimately moves after intake, as the item
// row records it; the verifier replays it from the chain.
type itemState struct {
	Status           string `json:"status"`
	HoldingAgencyID  string `json:"holdingAgencyId"`
	HoldingAgencyORI string `json:"holdingAgencyOri"`
	CurrentCustodian string `json:"currentCustodian"`
	StorageLocation  string `json:"storageLocation"`
	Compromised      bool   `json:"compromised"`
	LastVerifyTime   string `json:"lastVerifyTime"`
	CustodyCount     int64  `json:"custodyEventCount"`
	CustodyHead      string `json:"custodyHeadHash"`
}

func stateOf(it *store.Item) itemState {
	return itemState{
		Status: it.Status, HoldingAgencyID: it.HoldingAgencyID, HoldingAgencyORI: it.HoldingAgencyORI,
		CurrentCustodian: it.CurrentCustodian,
		StorageLocation:  it.StorageLocation, Compromised: it.Compromised, LastVerifyTime: optTime(it.LastVerifyTime),
		CustodyCount: it.CustodyCount, CustodyHead: hex.EncodeToString(it.CustodyHead),
	}
}
