package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// CreateCustodyEvent appends one event to an item's chain of custody.
func (s *Server) CreateCustodyEvent(ctx context.Context, req *evidencev1.CreateCustodyEventRequest) (*evidencev1.CreateCustodyEventResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	seen, err := s.item(ctx, p, req.GetEvidenceId(), "custody")
	if err != nil {
		return nil, err
	}
	in := req.GetEvent()
	action := actionToDB(in.GetAction())
	// A transfer to another agency: resolve it in the directory (as the
	// caller) for its ORI; the transaction below checks it works the case.
	var toAgency *liaisonv1.Agency
	if in.GetToAgencyId() != "" {
		resp, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: in.GetToAgencyId()})
		if status.Code(err) == codes.NotFound {
			return nil, rpc.FieldError("event.toAgencyId", "no such agency")
		}
		if err != nil {
			return nil, err
		}
		if !resp.GetAgency().GetActive() {
			return nil, rpc.FieldError("event.toAgencyId", "the agency is inactive")
		}
		toAgency = resp.GetAgency()
	}

	var out *store.Event
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateCustodyEvent:"+req.GetEvidenceId(), req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if out, err = store.GetEvent(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "custody_event", out.ID, seen.CaseID)
				return audit.Write(ctx, tx)
			}
		}
		// The item lock serializes appends: each builds on the committed
		// head, so the chain never forks.
		it, err := store.LockItem(ctx, tx, req.GetEvidenceId())
		if err != nil {
			return err
		}
		if err := s.holderOnly(ctx, tx, p, it, "custody", "create"); err != nil {
			return err
		}
		next, err := nextStatus(it.ExhibitNumber, it.Status, action)
		if err != nil {
			return err
		}
		now := s.timestamp()
		e := &store.Event{
			EvidenceID: it.ID, Seq: it.CustodyCount + 1, ID: uuid.NewString(), Action: action, EventTime: now,
			FromCustodian: strings.TrimSpace(in.GetFromCustodian()), ToCustodian: strings.TrimSpace(in.GetToCustodian()),
			Location: in.GetLocation(), Purpose: strings.TrimSpace(in.GetPurpose()), FromAgencyID: it.HoldingAgencyID,
			HoldingAgencyID: it.HoldingAgencyID, FromStatus: it.Status, ToStatus: next, ActorUserID: p.UserID,
			ActorEmail: p.Email, ActorAgencyID: p.AgencyID, ActorAgencyORI: p.AgencyORI, CreateTime: now,
			PrevHash: it.CustodyHead,
		}
		if t := timep(in.GetEventTime()); t != nil {
			e.EventTime = *t
		}
		if err := checkEventTime(ctx, tx, it, e, in.GetLateEntry()); err != nil {
			return err
		}
		if in.GetLateEntry() {
			e.LateEntry, e.LateReason = true, strings.TrimSpace(in.GetLateEntryReason())
		}
		if e.FromCustodian == "" {
			e.FromCustodian = it.CurrentCustodian
		}
		crossAgency := toAgency != nil && toAgency.GetId() != it.HoldingAgencyID
		if crossAgency {
			if err := receivingAgencyWorksCase(ctx, tx, it, toAgency); err != nil {
				return err
			}
			e.ToAgencyID, e.ToAgencyORI, e.HoldingAgencyID = toAgency.GetId(), toAgency.GetOri(), toAgency.GetId()
		} else if e.ToCustodian == "" {
			e.ToCustodian = p.Email
		}
		e.Hash = chainHash(e.PrevHash, e)
		if err := store.InsertEvent(ctx, tx, e); err != nil {
			return err
		}
		if crossAgency {
			// The holding agency moves: its custodians gain custody rights
			// on the item, the former holder's lose them.
			if _, err := authz.Revoke(ctx, tx, p, authz.RevokeRequest{Resource: itemResource(it.ID), AgencyID: it.HoldingAgencyID,
				Relations: []string{authz.RelHolder}}); err != nil {
				return err
			}
			if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: itemResource(it.ID), AgencyID: toAgency.GetId(),
				Relation: authz.RelHolder}); err != nil {
				return err
			}
			it.HoldingAgencyID, it.HoldingAgencyORI = toAgency.GetId(), toAgency.GetOri()
		}
		it.Status, it.CurrentCustodian = next, e.ToCustodian
		if action == actionCheckIn && e.Location != "" {
			it.StorageLocation = e.Location
		}
		it.CustodyCount, it.CustodyHead, it.UpdateTime = e.Seq, e.Hash, now
		if err := store.SaveItemState(ctx, tx, it); err != nil {
			return err
		}
		if req.GetRequestId() != "" {
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateCustodyEvent:"+req.GetEvidenceId(), req.GetRequestId(), e.ID); err != nil {
				return err
			}
		}
		out = e
		audit.Annotate(ctx, func(ev *audit.Event) {
			ev.ResourceType, ev.ResourceID, ev.CaseID = "custody_event", e.ID, it.CaseID
			if crossAgency {
				ev.RecipientAgencyID = toAgency.GetId() // the item is disseminated
			}
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &evidencev1.CreateCustodyEventResponse{Event: eventToProto(out)}, nil
}

// checkEventTime holds an event's time to its chain: never before the
// item's acquisition, and not before the previous event's time unless the
// caller marks it a late entry (whose reason the CEL rules require). The
// future is refused by the request's validation rules.
func checkEventTime(ctx context.Context, tx pgx.Tx, it *store.Item, e *store.Event, late bool) error {
	if it.AcquireTime != nil && e.EventTime.Before(*it.AcquireTime) {
		return rpc.FieldError("event.eventTime", fmt.Sprintf("must not be before the exhibit's acquisition (%s)", canonicalTime(*it.AcquireTime)))
	}
	if it.CustodyCount == 0 || late {
		return nil
	}
	prev, err := store.LastEvent(ctx, tx, it.ID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.EventTime.Before(prev.EventTime) {
		return rpc.FieldError("event.eventTime", fmt.Sprintf(
			"is before the previous event (event %d, %s): record it as a late entry (lateEntry with a lateEntryReason)",
			prev.Seq, canonicalTime(prev.EventTime)))
	}
	return nil
}

// receivingAgencyWorksCase refuses a transfer to an agency that is not lead
// or contributor on the item's case: its custodians could not even see the
// item they would hold.
func receivingAgencyWorksCase(ctx context.Context, tx pgx.Tx, it *store.Item, to *liaisonv1.Agency) error {
	rels, err := authz.Held(ctx, tx, to.GetId(), caseResource(it.CaseID))
	if err != nil {
		return err
	}
	if slices.Contains(rels, authz.RelLead) || slices.Contains(rels, authz.RelContributor) {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition,
		"agency %s is not lead or contributor on case %s: share the case with it as contributor before transferring evidence to it",
		to.GetOri(), it.CaseNumber)
}

// ListCustodyEvents returns an item's chain of custody, oldest first.
func (s *Server) ListCustodyEvents(ctx context.Context, req *evidencev1.ListCustodyEventsRequest) (*evidencev1.ListCustodyEventsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	it, err := s.item(ctx, p, req.GetEvidenceId(), "custody")
	if err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListCustodyEvents", it.ID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another item")
	}
	var after int64
	if keys != nil {
		if after, err = strconv.ParseInt(keys[0], 10, 64); err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	evs, err := store.ListEvents(ctx, s.pool, it.ID, after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &evidencev1.ListCustodyEventsResponse{}
	if len(evs) == limit {
		evs = evs[:limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.FormatInt(evs[len(evs)-1].Seq, 10))
	}
	for _, e := range evs {
		resp.Events = append(resp.Events, eventToProto(e))
	}
	return resp, nil
}

// VerifyCustodyChain recomputes an item's chain from a consistent snapshot.
func (s *Server) VerifyCustodyChain(ctx context.Context, req *evidencev1.VerifyCustodyChainRequest) (*evidencev1.VerifyCustodyChainResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.item(ctx, p, req.GetEvidenceId(), "custody"); err != nil {
		return nil, err
	}
	var r chainReport
	err = store.ReadSnapshot(ctx, s.pool, func(tx pgx.Tx) error {
		it, err := store.GetItem(ctx, tx, req.GetEvidenceId())
		if err != nil {
			return err
		}
		v := newChainVerifier(it.CustodyCount)
		if err := store.EachEvent(ctx, tx, it.ID, func(e *store.Event) error { v.add(e); return nil }); err != nil {
			return err
		}
		v.finish(it.CustodyHead)
		r = v.checkItem(registrationOf(it), stateOf(it))
		return nil
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if !r.Valid() {
		s.logger.WarnContext(ctx, "custody chain broken", "evidence_id", req.GetEvidenceId(), "sequence", r.FirstBroken, "problem", r.Problem)
	}
	return &evidencev1.VerifyCustodyChainResponse{
		EvidenceId: req.GetEvidenceId(), Valid: r.Valid(), EventCount: r.Count, ExpectedEventCount: r.Expected,
		HeadHash: fmt.Sprintf("%x", r.Head), FirstBrokenSequence: r.FirstBroken, Problem: r.Problem, Field: r.Field,
	}, nil
}

// VerifyEvidence records an integrity check of an item's bytes.
func (s *Server) VerifyEvidence(ctx context.Context, req *evidencev1.VerifyEvidenceRequest) (*evidencev1.VerifyEvidenceResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.item(ctx, p, req.GetEvidenceId(), "evidence"); err != nil {
		return nil, err
	}
	var (
		check *store.Event
		it    *store.Item
	)
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if it, err = store.LockItem(ctx, tx, req.GetEvidenceId()); err != nil {
			return err
		}
		if err := s.holderOnly(ctx, tx, p, it, "evidence", "verify"); err != nil {
			return err
		}
		expected, err := sealedSHA256(ctx, tx, it)
		if err != nil {
			return err
		}
		switch {
		case expected == "":
			return status.Errorf(codes.FailedPrecondition, "exhibit %s has no recorded SHA-256 to verify against", it.ExhibitNumber)
		case it.Status == statusDestroyed:
			return status.Errorf(codes.FailedPrecondition, "exhibit %s is DESTROYED", it.ExhibitNumber)
		}
		now := s.timestamp()
		computed := lowerHex(req.GetSha256())
		match := computed == expected
		purpose := strings.TrimSpace(req.GetComment())
		if purpose == "" {
			purpose = "Integrity check"
		}
		// The check is a link of the chain: its result cannot be reset
		// or deleted without breaking the chain.
		check = &store.Event{
			EvidenceID: it.ID, Seq: it.CustodyCount + 1, ID: uuid.NewString(), Action: actionIntegrityCheck,
			EventTime: now, FromCustodian: it.CurrentCustodian, ToCustodian: it.CurrentCustodian, Purpose: purpose,
			FromAgencyID: it.HoldingAgencyID, HoldingAgencyID: it.HoldingAgencyID, FromStatus: it.Status,
			ToStatus: it.Status, ActorUserID: p.UserID, ActorEmail: p.Email, ActorAgencyID: p.AgencyID,
			ActorAgencyORI: p.AgencyORI, CreateTime: now, CheckSHA256: computed, CheckExpectedSHA256: expected,
			CheckMatch: &match, CheckTool: strings.TrimSpace(req.GetTool()), PrevHash: it.CustodyHead,
		}
		check.Hash = chainHash(check.PrevHash, check)
		if err := store.InsertEvent(ctx, tx, check); err != nil {
			return err
		}
		it.LastVerifyTime, it.UpdateTime = &now, now
		if !match {
			it.Compromised = true // never cleared: a later match does not undo a failed check
			// Issue 18: tell the agency holding the exhibit, in this tx.
			if err := emitMismatch(ctx, tx, it); err != nil {
				return err
			}
		}
		it.CustodyCount, it.CustodyHead = check.Seq, check.Hash
		if err := store.SaveItemState(ctx, tx, it); err != nil {
			return err
		}
		annotate(ctx, "evidence", it.ID, it.CaseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &evidencev1.VerifyEvidenceResponse{Check: checkToProto(check, req.GetComment()), Evidence: itemToProto(it)}
	if !*check.CheckMatch {
		resp.Check.TimelineNoteId = s.noteMismatch(ctx, it, check)
	}
	return resp, nil
}

// sealedSHA256 is the SHA-256 an item's INTAKE event sealed: integrity
// checks compare with it, not with the row (which the sealing protects, but
// the chain is the record). Items registered before sealing fall back to
// the row.
func sealedSHA256(ctx context.Context, tx pgx.Tx, it *store.Item) (string, error) {
	first, err := store.FirstEvent(ctx, tx, it.ID)
	if errors.Is(err, postgres.ErrNotFound) {
		return it.SHA256, nil
	}
	if err != nil {
		return "", err
	}
	if first.Registration == "" {
		return it.SHA256, nil
	}
	var reg registration
	if err := json.Unmarshal([]byte(first.Registration), &reg); err != nil {
		return "", fmt.Errorf("exhibit %s: sealed registration unreadable: %w", it.ExhibitNumber, err)
	}
	return reg.SHA256, nil
}

// noteMismatch writes a failed check to the case timeline, as the caller,
// through the Cases service. The check is already recorded and the item
// marked; a failure here is logged and leaves timeline_note_id empty. The
// check id is the note's request_id, so a repeated attempt never duplicates.
func (s *Server) noteMismatch(ctx context.Context, it *store.Item, c *store.Event) string {
	body := fmt.Sprintf("Integrity check FAILED for exhibit %s: recorded SHA-256 %s, computed %s", it.ExhibitNumber, c.CheckExpectedSHA256, c.CheckSHA256)
	if c.CheckTool != "" {
		body += " (" + c.CheckTool + ")"
	}
	body += ". The exhibit is marked compromised."
	// The check is committed: a client that hangs up now must not cancel
	// the note that reports it.
	ctx = context.WithoutCancel(ctx)
	resp, err := s.cases.CreateNote(rpc.ForwardIdentity(ctx), &casesv1.CreateNoteRequest{
		CaseId: it.CaseID, Note: &casesv1.Note{Body: body}, RequestId: c.ID,
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "integrity failure not written to the case timeline", "evidence_id", it.ID, "check_id", c.ID, "err", err)
		return ""
	}
	return resp.GetNote().GetId()
}
