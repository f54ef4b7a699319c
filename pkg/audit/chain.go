package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// GenesisHash is h_0 of every chain.
var GenesisHash = make([]byte, sha256.Size)

// Canonical is the byte form of e that the chain hashes: JSON with fields in
// declaration order, time in UTC with microseconds (what PostgreSQL keeps),
// roles sorted, empty lists as [].
func Canonical(e *Event) []byte {
	c := *e
	c.Time = c.Time.UTC().Truncate(time.Microsecond)
	c.Roles = slices.Clone(c.Roles)
	slices.Sort(c.Roles)
	if c.Roles == nil {
		c.Roles = []string{}
	}
	if c.Changes == nil {
		c.Changes = []Change{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("audit: canonical form: %v", err)) // plain struct: cannot fail
	}
	return b
}

// Hash computes h_i from h_{i-1} and the record.
func Hash(prev []byte, e *Event) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(Canonical(e))
	return h.Sum(nil)
}

// appendEvents writes evs to their chains inside q's transaction. Each
// chain's head is taken under a transaction-scoped advisory lock on the
// agency, so concurrent writers of one agency queue here and writers of
// different agencies do not meet. (An advisory lock rather than SELECT … FOR
// UPDATE: the runtime role has no UPDATE right on the audit tables.)
func appendEvents(ctx context.Context, q postgres.Querier, evs []*Event) error {
	byChain := map[string][]*Event{}
	var order []string
	for _, e := range evs {
		normalize(e)
		if e.AgencyID == "" {
			e.AgencyID = AnonymousChain
		}
		if e.ID == "" {
			e.ID = uuid.NewString()
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		if _, ok := byChain[e.AgencyID]; !ok {
			order = append(order, e.AgencyID)
		}
		byChain[e.AgencyID] = append(byChain[e.AgencyID], e)
	}
	// A fixed lock order keeps two batches from deadlocking.
	slices.Sort(order)
	if b, ok := q.(batcher); ok {
		return appendPipelined(ctx, b, order, byChain)
	}
	for _, agency := range order {
		if _, err := q.Exec(ctx, lockChainSQL, agency); err != nil {
			return postgres.Translate(err)
		}
		seq, prev, err := chainHead(q.QueryRow(ctx, chainHeadSQL, agency))
		if err != nil {
			return err
		}
		for _, e := range byChain[agency] {
			seq++
			e.Seq = seq
			h := Hash(prev, e)
			if _, err := q.Exec(ctx, insertSQL, insertArgs(e, prev, h)...); err != nil {
				return postgres.Translate(err)
			}
			prev = h
		}
	}
	return nil
}

// batcher is a transaction that can pipeline statements (pgx.Tx).
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const (
	lockChainSQL = `SELECT pg_advisory_xact_lock(hashtextextended('audit:' || $1, 0))`
	chainHeadSQL = `SELECT seq, hash FROM audit.events WHERE agency_id = $1 ORDER BY seq DESC LIMIT 1`
	insertSQL    = `INSERT INTO audit.events (agency_id, seq, id, event_time, request_id, user_id,
		user_email, agency_ori, roles, client_addr, user_agent, service, method, action, resource_type,
		resource_id, case_id, outcome, status_code, purpose, recipient_agency_id, changes, prev_hash, hash,
		listed_case_ids, roles_before, roles_after, reason)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::uuid, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
		NULLIF($17, '')::uuid, $18, $19, $20, NULLIF($21, '')::uuid, $22, $23, $24, $25::uuid[],
		$26::text[], $27::text[], $28)`
)

// appendPipelined does what appendEvents does in two round trips however
// many records and chains: every lock and head read in one pipeline (each
// statement still takes its own snapshot, so a head read after its lock
// sees every record committed before the lock was granted), then every
// insert in another. Group commit batches many records, so this keeps the
// cost of auditing a read close to one commit shared by many requests.
func appendPipelined(ctx context.Context, q batcher, order []string, byChain map[string][]*Event) error {
	heads := &pgx.Batch{}
	for _, agency := range order {
		heads.Queue(lockChainSQL, agency)
		heads.Queue(chainHeadSQL, agency)
	}
	res := q.SendBatch(ctx, heads)
	inserts := &pgx.Batch{}
	for _, agency := range order {
		if _, err := res.Exec(); err != nil {
			_ = res.Close()
			return postgres.Translate(err)
		}
		seq, prev, err := chainHead(res.QueryRow())
		if err != nil {
			_ = res.Close()
			return err
		}
		for _, e := range byChain[agency] {
			seq++
			e.Seq = seq
			h := Hash(prev, e)
			inserts.Queue(insertSQL, insertArgs(e, prev, h)...)
			prev = h
		}
	}
	if err := res.Close(); err != nil {
		return postgres.Translate(err)
	}
	return postgres.Translate(q.SendBatch(ctx, inserts).Close())
}

// chainHead reads a chain's last seq and hash (0 and the genesis hash for
// an empty chain).
func chainHead(row pgx.Row) (int64, []byte, error) {
	var seq int64
	var prev []byte
	err := row.Scan(&seq, &prev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, GenesisHash, nil
	case err != nil:
		return 0, nil, postgres.Translate(err)
	}
	return seq, prev, nil
}

func insertArgs(e *Event, prev, h []byte) []any {
	var changes []byte
	if len(e.Changes) > 0 {
		changes, _ = json.Marshal(e.Changes)
	}
	return []any{e.AgencyID, e.Seq, e.ID, e.Time, e.RequestID, e.UserID, e.UserEmail, e.AgencyORI, nonNil(e.Roles),
		e.ClientAddr, e.UserAgent, e.Service, e.Method, e.Action, e.ResourceType, e.ResourceID, e.CaseID,
		e.Outcome, e.StatusCode, e.Purpose, e.RecipientAgencyID, changes, prev, h, listed(e.ListedCaseIDs),
		listed(e.RolesBefore), listed(e.RolesAfter), e.Reason}
}

// listed is an optional array column (listed_case_ids, roles_before,
// roles_after): NULL when empty.
func listed(ids []string) any {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// normalize makes e hash exactly as it will read back from the table:
// uuid columns in their canonical lower-case form ("" for NULL or a value
// that is not a UUID), text without NUL bytes and with valid UTF-8 (which
// PostgreSQL would otherwise refuse, failing the request for want of an
// audit record).
func normalize(e *Event) {
	for _, f := range []*string{&e.ID, &e.AgencyID, &e.UserID, &e.CaseID, &e.RecipientAgencyID} {
		*f = canonicalUUID(*f)
	}
	for _, f := range []*string{&e.RequestID, &e.UserEmail, &e.AgencyORI, &e.ClientAddr, &e.UserAgent,
		&e.Service, &e.Method, &e.Action, &e.ResourceType, &e.ResourceID, &e.Outcome, &e.StatusCode, &e.Purpose,
		&e.Reason} {
		*f = cleanText(*f)
	}
	for i := range e.Roles {
		e.Roles[i] = cleanText(e.Roles[i])
	}
	for _, rs := range [][]string{e.RolesBefore, e.RolesAfter} {
		for i := range rs {
			rs[i] = cleanText(rs[i])
		}
	}
	if len(e.RolesBefore) == 0 {
		e.RolesBefore = nil
	}
	if len(e.RolesAfter) == 0 {
		e.RolesAfter = nil
	}
	for i := range e.Changes {
		e.Changes[i].Field, e.Changes[i].Hash = cleanText(e.Changes[i].Field), cleanText(e.Changes[i].Hash)
	}
	ids := e.ListedCaseIDs[:0]
	for _, id := range e.ListedCaseIDs {
		if id = canonicalUUID(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		ids = nil
	}
	e.ListedCaseIDs = ids
}

func canonicalUUID(s string) string {
	if s == "" {
		return ""
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return ""
	}
	return u.String()
}

func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
