// Package taskforceshare is the one entry point through which another
// service (the Cases service) shares a case with a task force inside its own
// transaction: it records the share in liaison.taskforce_shares and writes
// the relation of every current member agency into authz.relations (source
// "taskforce:<id>"), so the share, its relations, the case timeline entry
// and the audit record commit together. The share register lives beside the
// memberships in schema liaison because membership changes — the liaison
// service's own transactions — fan every share out to a new member, or
// revoke it from a leaving one, at once. This package is the only code
// outside the liaison service that writes that table.
package taskforceshare

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

// ErrUnknownTaskforce: no task force has the id.
var ErrUnknownTaskforce = errors.New("no such task force")

// ErrNotShared: the case is not shared with the task force.
var ErrNotShared = errors.New("the case is not shared with that task force")

// Request is one share of a case with a task force.
type Request struct {
	CaseID, LeadAgencyID, TaskforceID string
	Relation                          string // "contributor" or "viewer"
	ExpireTime                        *time.Time
	Now                               time.Time
}

// Result is what a share reached.
type Result struct {
	TaskforceName string
	// MemberAgencyIDs are the member agencies that now hold the relation
	// (current members other than the lead agency).
	MemberAgencyIDs []string
}

// Source is the authz.relations source of relations held through task
// force id.
func Source(id string) string { return store.TaskforceSource(id) }

// Share records the share and grants the relation to every current member
// inside tx. It locks the task force FOR SHARE, so a membership change of
// that task force waits for tx and then sees the share. A repeated share
// replaces the earlier one (relation and expiry).
func Share(ctx context.Context, tx pgx.Tx, r Request) (*Result, error) {
	tf, err := store.ShareTaskforceLocked(ctx, tx, r.TaskforceID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, ErrUnknownTaskforce
	}
	if err != nil {
		return nil, err
	}
	members, err := store.UpsertShare(ctx, tx, &store.Share{
		TaskforceID: r.TaskforceID, CaseID: r.CaseID, LeadAgencyID: r.LeadAgencyID,
		Relation: r.Relation, ExpireTime: r.ExpireTime, CreateTime: r.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Result{TaskforceName: tf.Name, MemberAgencyIDs: members}, nil
}

// Unshare ends the share of caseID with task force tfID and every relation
// it gave, inside tx. It returns the task force's name, ErrUnknownTaskforce
// or ErrNotShared.
func Unshare(ctx context.Context, tx pgx.Tx, caseID, tfID string) (string, error) {
	tf, err := store.ShareTaskforceLocked(ctx, tx, tfID)
	if errors.Is(err, postgres.ErrNotFound) {
		return "", ErrUnknownTaskforce
	}
	if err != nil {
		return "", err
	}
	if err := store.DeleteShare(ctx, tx, tfID, caseID); errors.Is(err, postgres.ErrNotFound) {
		return "", ErrNotShared
	} else if err != nil {
		return "", err
	}
	return tf.Name, nil
}
