package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Observable is a stored observable (issue 21).
type Observable struct {
	ID, CaseID, Type, Chain, Platform, Value, Canonical, Description, TLP string
	FirstSeen, LastSeen                                                   *time.Time
	ExhibitIDs                                                            []string
	CreateTime                                                            time.Time
	CreateUserID, CreateUserEmail, AgencyID, AgencyORI                    string
}

// Digest is an observable's keyed digest under one deconfliction key.
type Digest struct {
	KeyID string
	Sum   []byte
}

const observableColumns = `id::text, case_id::text, type, chain, platform, value, canonical, description,
	first_seen_time, last_seen_time, tlp, exhibit_ids::text[], create_time, create_user_id::text,
	create_user_email, agency_id::text, agency_ori`

func scanObservable(row pgx.Row) (*Observable, error) {
	o := &Observable{}
	err := row.Scan(&o.ID, &o.CaseID, &o.Type, &o.Chain, &o.Platform, &o.Value, &o.Canonical, &o.Description,
		&o.FirstSeen, &o.LastSeen, &o.TLP, &o.ExhibitIDs, &o.CreateTime, &o.CreateUserID, &o.CreateUserEmail,
		&o.AgencyID, &o.AgencyORI)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return o, nil
}

// LockDigest serialises, until tx ends, the transactions recording the same
// value (by its current-key digest): two agencies adding one wallet at the
// same moment would otherwise each miss the other's uncommitted row and
// neither would be told.
func LockDigest(ctx context.Context, tx pgx.Tx, d Digest) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text || encode($2::bytea, 'hex'), 21))`, d.KeyID, d.Sum)
	return postgres.Translate(err)
}

// InsertObservable inserts o and its digests, and reports false (inserting
// nothing) when the case already holds the same value.
func InsertObservable(ctx context.Context, tx pgx.Tx, o *Observable, digests []Digest) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO cases.observables (id, case_id, type, chain, platform, value, canonical,
		description, first_seen_time, last_seen_time, tlp, exhibit_ids, create_time, create_user_id,
		create_user_email, agency_id, agency_ori)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text[]::uuid[], $13, $14, $15, $16, $17)
		ON CONFLICT (case_id, type, chain, platform, canonical) DO NOTHING`,
		o.ID, o.CaseID, o.Type, o.Chain, o.Platform, o.Value, o.Canonical, o.Description, o.FirstSeen, o.LastSeen,
		o.TLP, nonNil(o.ExhibitIDs), o.CreateTime, o.CreateUserID, o.CreateUserEmail, o.AgencyID, o.AgencyORI)
	if err != nil {
		return false, postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	for _, d := range digests {
		if _, err := tx.Exec(ctx, `INSERT INTO cases.observable_digests (observable_id, key_id, digest) VALUES ($1, $2, $3)`,
			o.ID, d.KeyID, d.Sum); err != nil {
			return false, postgres.Translate(err)
		}
	}
	return true, nil
}

// ListObservables returns up to limit observables of caseID after the
// keyset position (afterTime, afterID), oldest first.
func ListObservables(ctx context.Context, q postgres.Querier, caseID string, afterTime *time.Time, afterID string, limit int) ([]*Observable, error) {
	rows, err := q.Query(ctx, `SELECT `+observableColumns+` FROM cases.observables
		WHERE case_id = $1 AND ($2::timestamptz IS NULL OR (create_time, id) > ($2, $3::uuid))
		ORDER BY create_time, id LIMIT $4`, caseID, afterTime, nullUUID(afterID), limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return collectObservables(rows)
}

// ExportableObservables returns every observable of caseID whose TLP is one
// of tlps, oldest first.
func ExportableObservables(ctx context.Context, q postgres.Querier, caseID string, tlps []string) ([]*Observable, error) {
	rows, err := q.Query(ctx, `SELECT `+observableColumns+` FROM cases.observables
		WHERE case_id = $1 AND tlp = ANY($2) ORDER BY create_time, id`, caseID, tlps)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return collectObservables(rows)
}

func collectObservables(rows pgx.Rows) ([]*Observable, error) {
	defer rows.Close()
	var out []*Observable
	for rows.Next() {
		o, err := scanObservable(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, postgres.Translate(rows.Err())
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Correlation is another case holding the same value as one observable.
type Correlation struct {
	ObservableID, CaseID, CaseNumber, Title, OtherObservableID string
}

// Correlations returns, for each of observableIDs, the other cases holding
// the same (type, chain, platform, canonical) that agencyID effectively
// holds one of relations on (authz.VisibleSQL: the predicate of Authorize),
// at most perObservable each. The visibility rule is in the SQL, so a case
// the caller cannot read never leaves the database.
func Correlations(ctx context.Context, q postgres.Querier, observableIDs []string, agencyID string, relations []string, perObservable int) ([]Correlation, error) {
	if len(observableIDs) == 0 || len(relations) == 0 {
		return nil, nil
	}
	// Most values are on one case only: a cheap probe without the
	// visibility predicate (whose planning alone costs about a millisecond)
	// answers those.
	var found bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cases.observables o JOIN cases.observables o2
		ON o2.type = o.type AND o2.chain = o.chain AND o2.platform = o.platform AND o2.canonical = o.canonical
		AND o2.case_id <> o.case_id WHERE o.id = ANY($1::uuid[]))`, observableIDs).Scan(&found); err != nil {
		return nil, postgres.Translate(err)
	}
	if !found {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT o.id::text, x.case_id, x.case_number, x.title, x.oid
		FROM cases.observables o CROSS JOIN LATERAL (
			SELECT c.id::text AS case_id, c.case_number, c.title, o2.id::text AS oid
			FROM cases.observables o2 JOIN cases.cases c ON c.id = o2.case_id
			WHERE o2.type = o.type AND o2.chain = o.chain AND o2.platform = o.platform AND o2.canonical = o.canonical
			  AND o2.case_id <> o.case_id AND `+authz.VisibleSQL("case", "c.id", "$2", "$3")+`
			ORDER BY c.create_time DESC, c.id LIMIT $4) x
		WHERE o.id = ANY($1::uuid[])
		ORDER BY o.id, x.case_number`, observableIDs, agencyID, relations, perObservable)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Correlation
	for rows.Next() {
		var c Correlation
		if err := rows.Scan(&c.ObservableID, &c.CaseID, &c.CaseNumber, &c.Title, &c.OtherObservableID); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, c)
	}
	return out, postgres.Translate(rows.Err())
}

// RecentObservableCount counts the observables userID recorded since since:
// each is a deconfliction lookup, and the service limits them per user.
func RecentObservableCount(ctx context.Context, q postgres.Querier, userID string, since time.Time) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM cases.observables WHERE create_user_id = $1 AND create_time >= $2`,
		userID, since).Scan(&n)
	return n, postgres.Translate(err)
}

// Match is an observable of another agency's case with the same keyed
// digest as a new one. The booleans are decided in SQL by the effective
// relations of pkg/authz.
type Match struct {
	OtherObservableID, OtherCaseID, OtherLeadID string
	// LeadSeesOther: the new observable's case lead can already reach the
	// other case (any effective relation); OtherSeesThis: the other lead
	// can reach the new observable's case.
	LeadSeesOther, OtherSeesThis bool
	// OtherDoNotDeconflict: the other case is marked "do not deconflict".
	OtherDoNotDeconflict bool
}

// DeconflictionMatches finds the observables whose digests equal one of
// digests, in cases led by an agency other than leadID (the new
// observable's case lead), excluding caseID itself. Only digests are
// compared, never values.
func DeconflictionMatches(ctx context.Context, q postgres.Querier, caseID, leadID string, digests []Digest) ([]Match, error) {
	keys := make([]string, len(digests))
	sums := make([][]byte, len(digests))
	for i, d := range digests {
		keys[i], sums[i] = d.KeyID, d.Sum
	}
	// A miss (the usual answer) is decided by the digest index alone; the
	// visibility predicates run only for the rows that matched.
	var found bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM unnest($3::text[], $4::bytea[]) AS k (key_id, digest)
		JOIN cases.observable_digests d ON d.key_id = k.key_id AND d.digest = k.digest
		JOIN cases.observables o ON o.id = d.observable_id
		JOIN cases.cases c ON c.id = o.case_id
		WHERE c.id <> $1::uuid AND c.lead_agency_id <> $2::uuid)`, caseID, leadID, keys, sums).Scan(&found); err != nil {
		return nil, postgres.Translate(err)
	}
	if !found {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (o.id) o.id::text, c.id::text, c.lead_agency_id::text,
			`+authz.VisibleSQL("case", "c.id", "$2", "$5")+`,
			`+authz.VisibleSQL("case", "$1::uuid", "c.lead_agency_id", "$5")+`,
			COALESCE(s.do_not_deconflict, false)
		FROM unnest($3::text[], $4::bytea[]) AS k (key_id, digest)
		JOIN cases.observable_digests d ON d.key_id = k.key_id AND d.digest = k.digest
		JOIN cases.observables o ON o.id = d.observable_id
		JOIN cases.cases c ON c.id = o.case_id
		LEFT JOIN cases.deconfliction_settings s ON s.case_id = c.id
		WHERE c.id <> $1::uuid AND c.lead_agency_id <> $2::uuid
		ORDER BY o.id`, caseID, leadID, keys, sums, authz.Relations)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Match
	for rows.Next() {
		var m Match
		if err := rows.Scan(&m.OtherObservableID, &m.OtherCaseID, &m.OtherLeadID, &m.LeadSeesOther, &m.OtherSeesThis,
			&m.OtherDoNotDeconflict); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, m)
	}
	return out, postgres.Translate(rows.Err())
}

// Notice is a stored deconfliction notice.
type Notice struct {
	ID, CaseID, AgencyID, ObservableID, OtherAgencyID, OtherCaseID string
	MatchTime                                                      time.Time
	// Joined for reading: the recipient's own case number and value.
	CaseNumber, ObservableType, ObservableValue string
}

// InsertNotice records n unless the same recipient case, observable and
// other case already have a notice; it reports whether it inserted.
func InsertNotice(ctx context.Context, tx pgx.Tx, n *Notice) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO cases.deconfliction_notices (id, case_id, agency_id, observable_id,
		other_agency_id, other_case_id, match_time) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (case_id, observable_id, other_case_id) DO NOTHING`,
		n.ID, n.CaseID, n.AgencyID, n.ObservableID, n.OtherAgencyID, n.OtherCaseID, n.MatchTime)
	if err != nil {
		return false, postgres.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListNotices returns, newest first, up to limit notices addressed to
// agencyID on cases it effectively holds one of relations on (the SQL of
// Authorize: authz.VisibleSQL), after the keyset position.
func ListNotices(ctx context.Context, q postgres.Querier, agencyID string, relations []string, afterTime *time.Time, afterID string, limit int) ([]*Notice, error) {
	if len(relations) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT n.id::text, n.case_id::text, n.agency_id::text, n.observable_id::text,
			n.other_agency_id::text, n.match_time, c.case_number, o.type, o.value
		FROM cases.deconfliction_notices n
		JOIN cases.cases c ON c.id = n.case_id
		JOIN cases.observables o ON o.id = n.observable_id
		WHERE n.agency_id = $1::uuid AND `+authz.VisibleSQL("case", "n.case_id", "$1", "$2")+`
		  AND ($3::timestamptz IS NULL OR (n.match_time, n.id) < ($3, $4::uuid))
		ORDER BY n.match_time DESC, n.id DESC LIMIT $5`, agencyID, relations, afterTime, nullUUID(afterID), limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Notice
	for rows.Next() {
		n := &Notice{}
		if err := rows.Scan(&n.ID, &n.CaseID, &n.AgencyID, &n.ObservableID, &n.OtherAgencyID, &n.MatchTime,
			&n.CaseNumber, &n.ObservableType, &n.ObservableValue); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, n)
	}
	return out, postgres.Translate(rows.Err())
}

// DeconflictionSetting is a case's "do not deconflict" flag.
type DeconflictionSetting struct {
	CaseID          string
	DoNotDeconflict bool
	Reason          string
	UpdateTime      *time.Time
	UpdateUserEmail string
}

// GetDeconflictionSetting returns caseID's setting; a case never marked
// has the zero setting (deconflicted).
func GetDeconflictionSetting(ctx context.Context, q postgres.Querier, caseID string) (*DeconflictionSetting, error) {
	s := &DeconflictionSetting{CaseID: caseID}
	err := q.QueryRow(ctx, `SELECT do_not_deconflict, reason, update_time, update_user_email
		FROM cases.deconfliction_settings WHERE case_id = $1`, caseID).Scan(&s.DoNotDeconflict, &s.Reason, &s.UpdateTime, &s.UpdateUserEmail)
	if err == pgx.ErrNoRows {
		return s, nil
	}
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return s, nil
}

// SaveDeconflictionSetting writes s.
func SaveDeconflictionSetting(ctx context.Context, tx pgx.Tx, s *DeconflictionSetting) error {
	_, err := tx.Exec(ctx, `INSERT INTO cases.deconfliction_settings (case_id, do_not_deconflict, reason, update_time,
		update_user_email) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (case_id) DO UPDATE SET do_not_deconflict = $2, reason = $3, update_time = $4, update_user_email = $5`,
		s.CaseID, s.DoNotDeconflict, s.Reason, s.UpdateTime, s.UpdateUserEmail)
	return postgres.Translate(err)
}
