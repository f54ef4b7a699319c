package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Columns are the audit.events columns ScanEvent reads, in its order; a
// query may prefix them with a table alias through ColumnsOf.
const Columns = `agency_id, seq, id, event_time, request_id, user_id, user_email, agency_ori, roles,
	client_addr, user_agent, service, method, action, resource_type, resource_id, case_id, outcome,
	status_code, purpose, recipient_agency_id, changes, prev_hash, hash, listed_case_ids::text[],
	roles_before, roles_after, reason`

// Stored is one row of audit.events: the Event exactly as it was hashed,
// with the chain hashes stored beside it.
type Stored struct {
	Event
	PrevHash []byte
	Hash     []byte
}

// ScanEvent reads one row selected with Columns (optionally followed by
// extra destinations) and rebuilds the Event as it was hashed: NULL uuid
// columns become "", the time is UTC, changes decode from JSON.
func ScanEvent(row pgx.Row, extra ...any) (*Stored, error) {
	var s Stored
	var userID, caseID, recipient *string
	var changes []byte
	dest := []any{&s.AgencyID, &s.Seq, &s.ID, &s.Time, &s.RequestID, &userID, &s.UserEmail, &s.AgencyORI,
		&s.Roles, &s.ClientAddr, &s.UserAgent, &s.Service, &s.Method, &s.Action, &s.ResourceType,
		&s.ResourceID, &caseID, &s.Outcome, &s.StatusCode, &s.Purpose, &recipient, &changes, &s.PrevHash, &s.Hash,
		&s.ListedCaseIDs, &s.RolesBefore, &s.RolesAfter, &s.Reason}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, postgres.Translate(err)
	}
	s.Time = s.Time.UTC()
	s.UserID, s.CaseID, s.RecipientAgencyID = deref(userID), deref(caseID), deref(recipient)
	if len(changes) > 0 {
		if err := json.Unmarshal(changes, &s.Changes); err != nil {
			// Not JSON we wrote: keep the raw text so the hash check fails
			// rather than the walk.
			s.Changes = []Change{{Field: "<undecodable>", Hash: string(changes)}}
		}
	}
	return &s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Problem is the first broken position of a chain.
type Problem struct {
	Seq    int64  // the position where the chain breaks
	Reason string // what is wrong there
}

// Report is the result of verifying one chain.
type Report struct {
	AgencyID  string
	AgencyORI string // "" for the anonymous chain or an unknown agency
	Count     int64  // records read
	HeadSeq   int64  // last good position (0 if none)
	HeadHash  []byte // its hash (the genesis hash if none)
	Problem   *Problem
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return r.Problem == nil }

// Name is the chain's name for people: its ORI, or "anonymous".
func (r Report) Name() string {
	switch {
	case r.AgencyID == AnonymousChain:
		return "anonymous"
	case r.AgencyORI != "":
		return r.AgencyORI
	}
	return r.AgencyID
}

func (r Report) String() string {
	if r.OK() {
		return fmt.Sprintf("%s: ok, %d records, head seq %d hash %s", r.Name(), r.Count, r.HeadSeq, hex.EncodeToString(r.HeadHash))
	}
	return fmt.Sprintf("%s: BROKEN at seq %d: %s", r.Name(), r.Problem.Seq, r.Problem.Reason)
}

// Verify walks the chain of agencyID from seq 1, recomputing every hash from
// the stored columns. It stops at the first broken position and names it in
// the report's Problem: a missing position (a deleted record), a record
// whose prev_hash does not match its predecessor (a deletion, insertion or
// reordering), or a record whose content no longer hashes to its stored hash
// (an edit). The error is for failures to read, not for a broken chain.
func Verify(ctx context.Context, q postgres.Querier, agencyID string) (Report, error) {
	rep := Report{AgencyID: agencyID, HeadHash: GenesisHash}
	if err := q.QueryRow(ctx, `SELECT coalesce((SELECT ori FROM liaison.agencies WHERE id = $1), '')`, agencyID).Scan(&rep.AgencyORI); err != nil {
		return rep, postgres.Translate(err)
	}
	rows, err := q.Query(ctx, `SELECT `+Columns+` FROM audit.events WHERE agency_id = $1 ORDER BY seq`, agencyID)
	if err != nil {
		return rep, postgres.Translate(err)
	}
	defer rows.Close()
	prev := GenesisHash
	want := int64(1)
	for rows.Next() {
		s, err := ScanEvent(rows)
		if err != nil {
			return rep, err
		}
		rep.Count++
		if rep.Problem != nil {
			continue // keep counting
		}
		switch {
		case s.Seq > want:
			rep.Problem = &Problem{want, fmt.Sprintf("record missing: expected seq %d, next stored is %d (deleted)", want, s.Seq)}
		case !bytes.Equal(s.PrevHash, prev):
			rep.Problem = &Problem{s.Seq, "prev_hash does not match the hash of the record before it (records deleted, inserted or reordered)"}
		case !bytes.Equal(Hash(prev, &s.Event), s.Hash):
			rep.Problem = &Problem{s.Seq, "content does not match its hash (record edited)"}
		default:
			prev, rep.HeadSeq, rep.HeadHash = s.Hash, s.Seq, s.Hash
			want++
		}
	}
	return rep, postgres.Translate(rows.Err())
}

// Chains returns the agency ids that have a chain, in order.
func Chains(ctx context.Context, q postgres.Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT agency_id::text FROM audit.events ORDER BY 1`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.Translate(err)
}

// VerifyAll verifies every chain.
func VerifyAll(ctx context.Context, q postgres.Querier) ([]Report, error) {
	ids, err := Chains(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(ids))
	for _, id := range ids {
		r, err := Verify(ctx, q, id)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ResolveChain maps what an operator types (an ORI, an agency id, or
// "anonymous") to a chain's agency id.
func ResolveChain(ctx context.Context, q postgres.Querier, name string) (string, error) {
	if name == "anonymous" {
		return AnonymousChain, nil
	}
	var id string
	err := q.QueryRow(ctx, `SELECT id::text FROM liaison.agencies WHERE ori = upper($1) OR id::text = lower($1)`, name).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("agency %q: %w", name, postgres.Translate(err))
	}
	return id, nil
}
