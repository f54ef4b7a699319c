package referrals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// step is one action on a referral: who may take it (the policy action on
// the referral's kind), from which states, to which state, and its effects.
type step struct {
	action string
	from   []string
	// to is the new state; "" keeps the state (edits).
	to     string
	reason string
	// prepare runs after authorization and the state check, before the
	// transaction: calls to other services, made with the caller's identity.
	prepare func(r *store.Referral) error
	// apply changes r and writes relations inside the transaction.
	apply func(tx pgx.Tx, r *store.Referral, now time.Time) error
	// recipient and purpose, when set, mark the step a dissemination in the
	// audit record (after apply, so apply may decide them).
	recipient, purpose func(r *store.Referral) string
	// done, when set, recognises a referral on which the step has already
	// been taken (a retry, by anyone): it is answered as it stands.
	done func(r *store.Referral) bool
}

// from lists the states each action starts from (the lifecycle).
var from = map[string][]string{
	"update":      {"DRAFT", "RETURNED"},
	"submit":      {"DRAFT", "RETURNED"},
	"acknowledge": {"SUBMITTED"},
	"accept":      {"ACKNOWLEDGED"},
	"decline":     {"ACKNOWLEDGED"},
	"return":      {"ACKNOWLEDGED"},
	"withdraw":    {"DRAFT", "SUBMITTED", "ACKNOWLEDGED", "RETURNED"},
}

func checkState(r *store.Referral, action string) error {
	if slices.Contains(from[action], r.State) {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "a %s referral cannot be %s (%s needs %s)",
		r.State, pastTense[action], action, strings.Join(from[action], " or "))
}

// stateReasons are the actions whose reason the referral shows as
// state_reason until the next transition.
var stateReasons = map[string]bool{"decline": true, "return": true, "withdraw": true}

var pastTense = map[string]string{
	"update": "edited", "submit": "submitted", "acknowledge": "acknowledged", "accept": "accepted",
	"decline": "declined", "return": "returned", "withdraw": "withdrawn",
}

// run takes st on referral id: read, authorize (404 when invisible, 403 when
// the caller's role or side may not take the action), check the state and
// etag, prepare, then lock, re-check, apply, record the transition and the
// audit record in one transaction.
func (s *Server) run(ctx context.Context, id, wantEtag string, st step) (*referralsv1.Referral, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	r, err := store.Get(ctx, s.pool, id, s.timestamp())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if err := s.authz.Authorize(ctx, s.pool, p, object(r.Kind), st.action, referralResource(id)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if st.done != nil && st.done(r) {
		return s.toProto(ctx, r)
	}
	if err := checkState(r, st.action); err != nil {
		return nil, err
	}
	if wantEtag != "" && wantEtag != etag(r) {
		return nil, toStatus(ctx, s.logger, store.ErrEtagMismatch)
	}
	if st.prepare != nil {
		if err := st.prepare(r); err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
	}
	var out *store.Referral
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.timestamp()
		cur, err := store.Lock(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if st.done != nil && st.done(cur) {
			out = cur // taken concurrently: answer what it became
			return nil
		}
		if cur.Version != r.Version {
			// Changed since prepare looked at it (which may have copied the
			// case for it): the caller retries on the new version.
			return errChanged
		}
		fromState := cur.State
		if st.apply != nil {
			if err := st.apply(tx, cur, now); err != nil {
				return err
			}
		}
		to := st.to
		if to == "" {
			to = fromState
		} else if stateReasons[st.action] {
			cur.StateReason = st.reason
		} else {
			cur.StateReason = ""
		}
		cur.State = to
		if cur.History, err = appendHistory(cur.History, transition(p, st.action, fromState, to, st.reason, now)); err != nil {
			return err
		}
		cur.UpdateTime, cur.UpdateUserEmail = now, p.Email
		if err := store.Save(ctx, tx, cur); err != nil {
			return err
		}
		if err := emit(ctx, tx, st.action, fromState, cur); err != nil {
			return err
		}
		annotate(ctx, cur)
		if st.recipient != nil {
			rcpt, purpose := st.recipient(cur), st.purpose(cur)
			audit.Annotate(ctx, func(e *audit.Event) {
				e.RecipientAgencyID = rcpt
				if e.Purpose == "" {
					e.Purpose = purpose
				}
			})
		}
		cur.Overdue = cur.State == "SUBMITTED" && cur.AckDueTime != nil && cur.AckDueTime.Before(now)
		out = cur
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return s.toProto(ctx, out)
}

func caseReferral(r *store.Referral) (*referralsv1.CaseReferral, error) {
	cr := &referralsv1.CaseReferral{}
	if err := jsonIn.Unmarshal(r.Details, cr); err != nil {
		return nil, fmt.Errorf("referral %s details: %w", r.ID, err)
	}
	return cr, nil
}

func assistance(r *store.Referral) (*referralsv1.AssistanceRequest, error) {
	ar := &referralsv1.AssistanceRequest{}
	if err := jsonIn.Unmarshal(r.Details, ar); err != nil {
		return nil, fmt.Errorf("referral %s details: %w", r.ID, err)
	}
	return ar, nil
}

// snapshot copies the selected parts of caseID, read through the Cases
// service as the caller (so their own access decides what can be copied).
// missing is a selected note id not found in the case timeline.
func (s *Server) snapshot(ctx context.Context, caseID string, sel *referralsv1.PackageSelection, now time.Time) (pkg *referralsv1.CasePackage, missing string, err error) {
	fctx := rpc.ForwardIdentity(ctx)
	c, err := s.cases.GetCase(fctx, &casesv1.GetCaseRequest{CaseId: caseID})
	if err != nil {
		return nil, "", err
	}
	pkg = &referralsv1.CasePackage{SnapshotTime: timestamppb.New(now), EvidenceListIncluded: sel.GetIncludeEvidenceList()}
	if sel.GetIncludeSummary() {
		cs := c.GetCase()
		pkg.CaseNumber, pkg.Title, pkg.Summary = cs.GetCaseNumber(), cs.GetTitle(), cs.GetSummary()
		pkg.Classification = strings.TrimPrefix(cs.GetClassification().String(), "CLASSIFICATION_")
		pkg.Status = strings.TrimPrefix(cs.GetStatus().String(), "STATUS_")
	}
	if sel.GetIncludeEvidenceList() {
		if pkg.Evidence, err = s.evidenceList(fctx, caseID); err != nil {
			return nil, "", err
		}
	}
	want := map[string]bool{}
	for _, id := range sel.GetNoteIds() {
		want[strings.ToLower(id)] = true
	}
	token := ""
	for len(want) > 0 {
		resp, err := s.cases.ListNotes(fctx, &casesv1.ListNotesRequest{CaseId: caseID, PageSize: 100, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		for _, n := range resp.GetNotes() {
			if want[n.GetId()] {
				delete(want, n.GetId())
				pkg.Notes = append(pkg.Notes, &referralsv1.PackageNote{
					Id: n.GetId(), Kind: strings.TrimPrefix(n.GetKind().String(), "NOTE_KIND_"), Body: n.GetBody(),
					AuthorEmail: n.GetAuthorEmail(), AgencyOri: n.GetAgencyOri(), CreateTime: n.GetCreateTime(),
				})
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for _, id := range sel.GetNoteIds() {
		if want[strings.ToLower(id)] {
			return nil, id, nil
		}
	}
	return pkg, "", nil
}

// evidenceList copies the case's exhibit register through the Evidence
// service (fctx carries the caller's identity).
func (s *Server) evidenceList(fctx context.Context, caseID string) ([]*referralsv1.PackageEvidence, error) {
	out := []*referralsv1.PackageEvidence{}
	token := ""
	for {
		resp, err := s.evidence.ListEvidence(fctx, &evidencev1.ListEvidenceRequest{CaseId: caseID, PageSize: 100, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetEvidence() {
			out = append(out, &referralsv1.PackageEvidence{
				Id: e.GetId(), ExhibitNumber: e.GetExhibitNumber(), Description: e.GetDescription(),
				Kind: strings.TrimPrefix(e.GetKind().String(), "KIND_"), Sha256: e.GetSha256(),
				SizeBytes: e.GetSizeBytes(), Status: strings.TrimPrefix(e.GetStatus().String(), "STATUS_"),
			})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// SubmitReferral sends a DRAFT or RETURNED referral to its recipient.
func (s *Server) SubmitReferral(ctx context.Context, req *referralsv1.SubmitReferralRequest) (*referralsv1.SubmitReferralResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var pkg []byte
	var purpose string
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{
		action: "submit", to: "SUBMITTED",
		prepare: func(r *store.Referral) error {
			if r.Kind != kindReferral {
				ar, err := assistance(r)
				if err != nil {
					return err
				}
				purpose = "assistance request: " + helpList(ar)
				return nil
			}
			cr, err := caseReferral(r)
			if err != nil {
				return err
			}
			purpose = "referral: " + strings.TrimPrefix(cr.GetReason().String(), "REFERRAL_REASON_")
			if a := cr.GetRequestedAction(); a != "" {
				purpose += ": " + a
			}
			p, missing, err := s.snapshot(ctx, *r.CaseID, cr.GetPackage(), s.timestamp())
			if err != nil {
				return err
			}
			if missing != "" {
				return status.Errorf(codes.FailedPrecondition, "the package names note %s, which is not in the case; edit the referral", missing)
			}
			pkg, err = jsonOut.Marshal(p)
			return err
		},
		apply: func(tx pgx.Tx, r *store.Referral, now time.Time) error {
			if r.Kind == kindReferral {
				note, err := s.checkDissemination(ctx, tx, r, req.GetOverrideReason())
				if err != nil {
					return err
				}
				purpose += note
			}
			due := now.Add(s.ackDue)
			r.SubmitTime, r.AckDueTime, r.Package = &now, &due, pkg
			// The recipient sees the referral (and its package, a copy)
			// from now on, and nothing else of the case.
			_, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: referralResource(r.ID), AgencyID: r.ToAgencyID, Relation: authz.RelRecipient})
			return err
		},
		recipient: func(r *store.Referral) string { return r.ToAgencyID },
		purpose:   func(*store.Referral) string { return purpose },
	})
	if err != nil {
		return nil, err
	}
	return &referralsv1.SubmitReferralResponse{Referral: ref}, nil
}

func helpList(ar *referralsv1.AssistanceRequest) string {
	var hs []string
	for _, h := range ar.GetHelpWanted() {
		hs = append(hs, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(h.String(), "HELP_WANTED_"), "_", " ")))
	}
	return strings.Join(hs, ", ")
}

// AcknowledgeReferral records that the recipient has seen the referral.
func (s *Server) AcknowledgeReferral(ctx context.Context, req *referralsv1.AcknowledgeReferralRequest) (*referralsv1.AcknowledgeReferralResponse, error) {
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{action: "acknowledge", to: "ACKNOWLEDGED", reason: req.GetComment()})
	if err != nil {
		return nil, err
	}
	return &referralsv1.AcknowledgeReferralResponse{Referral: ref}, nil
}

// DeclineReferral declines the referral; the recipient's access to it ends.
func (s *Server) DeclineReferral(ctx context.Context, req *referralsv1.DeclineReferralRequest) (*referralsv1.DeclineReferralResponse, error) {
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{
		action: "decline", to: "DECLINED", reason: req.GetReason(), apply: endRecipient(ctx),
	})
	if err != nil {
		return nil, err
	}
	return &referralsv1.DeclineReferralResponse{Referral: ref}, nil
}

// ReturnReferral sends the referral back to the sender for more
// information. The recipient keeps seeing it (it comes back).
func (s *Server) ReturnReferral(ctx context.Context, req *referralsv1.ReturnReferralRequest) (*referralsv1.ReturnReferralResponse, error) {
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{action: "return", to: "RETURNED", reason: req.GetReason()})
	if err != nil {
		return nil, err
	}
	return &referralsv1.ReturnReferralResponse{Referral: ref}, nil
}

// WithdrawReferral withdraws the referral before acceptance; the
// recipient's access to it ends.
func (s *Server) WithdrawReferral(ctx context.Context, req *referralsv1.WithdrawReferralRequest) (*referralsv1.WithdrawReferralResponse, error) {
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{
		action: "withdraw", to: "WITHDRAWN", reason: req.GetReason(), apply: endRecipient(ctx),
	})
	if err != nil {
		return nil, err
	}
	return &referralsv1.WithdrawReferralResponse{Referral: ref}, nil
}

// checkDissemination applies, at submission, the rule for a referral made
// without an information-sharing agreement in force between the sending
// (lead) and the receiving agency: it needs the supervisor's
// overrideReason (given now, or earlier in caseReferral), which is kept in
// the referral and carried by the grant made when it is accepted. Under an
// agreement nothing is refused: the agreement caps the relation the
// recipient gets. It returns the audit purpose's note on the terms.
func (s *Server) checkDissemination(ctx context.Context, tx pgx.Tx, r *store.Referral, override string) (string, error) {
	cr, err := caseReferral(r)
	if err != nil {
		return "", err
	}
	if override != "" {
		cr.OverrideReason = override
		if r.Details, err = jsonOut.Marshal(cr); err != nil {
			return "", err
		}
	}
	terms, lapsed, err := authz.TermsBetween(ctx, tx, r.FromAgencyID, r.ToAgencyID)
	if err != nil {
		return "", err
	}
	if terms != nil {
		return " [agreement " + terms.AgreementID + ": at most " + terms.MaxRelation + "]", nil
	}
	if cr.GetOverrideReason() == "" {
		why := "no information-sharing agreement with " + r.ToAgencyORI + " is in force"
		if lapsed != nil {
			why = "the information-sharing agreement with " + r.ToAgencyORI + " expired on " + lapsed.UTC().Format(time.DateOnly)
		}
		return "", &authz.RuleError{Err: authz.ErrOverrideRequired, Msg: why +
			"; a supervisor's overrideReason is required to refer the case without one. Nothing was submitted."}
	}
	return " [no agreement in force; override: " + cr.GetOverrideReason() + "]", nil
}

// endRecipient removes the recipient agency's relation to the referral.
func endRecipient(ctx context.Context) func(pgx.Tx, *store.Referral, time.Time) error {
	return func(tx pgx.Tx, r *store.Referral, _ time.Time) error {
		p, err := auth.Require(ctx)
		if err != nil {
			return err
		}
		_, err = authz.Revoke(ctx, tx, p, authz.RevokeRequest{Resource: referralResource(r.ID), AgencyID: r.ToAgencyID,
			Relations: []string{authz.RelRecipient}})
		return err
	}
}

// acceptNamespace derives the idempotency key of the case opened when an
// assistance request is accepted: a retry of the accept (after a failure
// between opening the case and committing the acceptance) gets the same
// case back instead of a second one.
var acceptNamespace = uuid.MustParse("0b6f7f0e-3d1c-4f53-9a57-6a1f0c0e5d21")

// AcceptReferral accepts the referral. An assistance request is accepted
// into a case of the recipient (a new one, or case_id) on which the
// requester becomes `requester`; a referral makes the recipient a
// contributor or viewer on the referred case.
func (s *Server) AcceptReferral(ctx context.Context, req *referralsv1.AcceptReferralRequest) (*referralsv1.AcceptReferralResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var caseID, purpose string
	ref, err := s.run(ctx, req.GetReferralId(), req.GetEtag(), step{
		action: "accept", to: "ACCEPTED", reason: req.GetComment(),
		prepare: func(r *store.Referral) error {
			if r.Kind == kindReferral {
				if req.GetCaseId() != "" {
					return rpc.FieldError("caseId", "only an assistance request is accepted into a case of yours; a referral brings its own case")
				}
				cr, err := caseReferral(r)
				if err != nil {
					return err
				}
				purpose = "referral accepted: " + strings.TrimPrefix(cr.GetReason().String(), "REFERRAL_REASON_")
				return nil
			}
			purpose = "assistance request accepted: the requester follows the case's status and summary"
			if req.GetCaseId() != "" {
				caseID = req.GetCaseId()
				return s.checkOwnCase(ctx, p, caseID)
			}
			var err error
			caseID, err = s.acceptCase(ctx, p, r)
			return err
		},
		done: func(r *store.Referral) bool {
			// Accepted already (a retry, or a colleague's concurrent
			// accept): the same answer, the same case.
			return r.State == "ACCEPTED" && (req.GetCaseId() == "" || (r.CaseID != nil && *r.CaseID == req.GetCaseId()))
		},
		apply: func(tx pgx.Tx, r *store.Referral, _ time.Time) error {
			if r.Kind == kindReferral {
				return s.shareCase(ctx, tx, p, r)
			}
			if req.GetCaseId() != "" {
				// Checked again in the transaction that grants: the link
				// must not outlive a lead that changed since prepare.
				if err := s.checkLeads(ctx, tx, p, caseID); err != nil {
					return err
				}
			}
			r.CaseID = &caseID
			// The requesting agency follows the case: status and summary,
			// not the unit's notes (policy `requester` lines). Not capped by
			// agreements: it is the agency's own request.
			_, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: caseResource(caseID), AgencyID: r.FromAgencyID,
				Relation: authz.RelRequester, Source: "referral:" + r.ID, Via: "assistance request " + r.Number,
				LeadAgencyID: p.AgencyID, Reason: purpose,
				Timeline: fmt.Sprintf("Assistance request %s accepted: %s (%s) follows the case as requester", r.Number, r.FromAgencyORI, r.FromAgencyName)})
			return err
		},
		recipient: func(r *store.Referral) string {
			if r.Kind == kindReferral {
				return r.ToAgencyID // the recipient now reads the case
			}
			return r.FromAgencyID // the requester now reads the case's status and summary
		},
		purpose: func(*store.Referral) string { return purpose },
	})
	if err != nil {
		return nil, err
	}
	return &referralsv1.AcceptReferralResponse{Referral: ref}, nil
}

// checkOwnCase checks that caseID is a case the caller's agency leads.
func (s *Server) checkOwnCase(ctx context.Context, p *auth.Principal, caseID string) error {
	err := s.authz.Authorize(ctx, s.pool, p, "case", "read", caseResource(caseID))
	if errors.Is(err, authz.ErrNotFound) || errors.Is(err, authz.ErrDenied) {
		return rpc.FieldError("caseId", "no such case of your agency")
	}
	if err != nil {
		return err
	}
	return s.checkLeads(ctx, s.pool, p, caseID)
}

// checkLeads checks, through q, that the caller's agency leads caseID.
func (s *Server) checkLeads(ctx context.Context, q postgres.Querier, p *auth.Principal, caseID string) error {
	held, err := authz.Held(ctx, q, p.AgencyID, caseResource(caseID))
	if err != nil {
		return err
	}
	if !slices.Contains(held, authz.RelLead) {
		return rpc.FieldError("caseId", "your agency does not lead that case")
	}
	return nil
}

// acceptClaimStale is how long a claim to open an accept's case holds
// against other users (its claimer may have died before recording it).
const acceptClaimStale = 2 * time.Minute

// acceptCase returns the case r is accepted into: the one opened by an
// earlier attempt of the accept (by anyone), else a new one opened under a
// claim (referrals.accept_cases) so that concurrent accepts by different
// users wait for one case instead of each opening their own. The case's
// request id is derived from the referral, so the claimer's own retry
// after a failure anywhere gets the same case back. No database connection
// is held while the Cases service is called. The one window left: a
// claimer that dies between the case's commit and recording it, and is
// not the one who retries, leaves that case unlinked (its lead is the
// accepting agency; nothing is disclosed by it).
func (s *Server) acceptCase(ctx context.Context, p *auth.Principal, r *store.Referral) (string, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := store.GetAcceptClaim(ctx, s.pool, r.ID)
		if err != nil {
			return "", err
		}
		if c != nil && c.CaseID != "" {
			return c.CaseID, nil
		}
		mine, err := store.ClaimAccept(ctx, s.pool, r.ID, p.UserID, s.timestamp(), acceptClaimStale)
		if err != nil {
			return "", err
		}
		if mine {
			id, err := s.openCase(ctx, r)
			if err != nil {
				// Refused outright (this user may not open cases, …):
				// nothing was opened, so let a colleague's accept go on.
				// After an outage or timeout the claim stays: the case may
				// exist, and this user's retry gets it by its request id.
				switch status.Code(err) {
				case codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.Unauthenticated:
					if rerr := store.ReleaseAcceptClaim(context.WithoutCancel(ctx), s.pool, r.ID, p.UserID); rerr != nil {
						s.logger.ErrorContext(ctx, "releasing accept claim", "referral_id", r.ID, "err", rerr)
					}
				}
				return "", err
			}
			if err := store.RecordAcceptCase(context.WithoutCancel(ctx), s.pool, r.ID, p.UserID, id); err != nil {
				return "", err
			}
			continue // read back what was recorded (the first case wins)
		}
		if time.Now().After(deadline) {
			return "", errChanged
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openCase opens the case an assistance request is accepted into, through
// the Cases service as the accepting user (who must be allowed to open
// cases for their agency).
func (s *Server) openCase(ctx context.Context, r *store.Referral) (string, error) {
	ar, err := assistance(r)
	if err != nil {
		return "", err
	}
	title := "Assistance request from " + r.FromAgencyORI
	if n := ar.GetLocalCaseNumber(); n != "" {
		title += " (" + n + ")"
	}
	summary := fmt.Sprintf("%s\n\nAssistance requested by %s (%s): %s; urgency %s.",
		r.Summary, r.FromAgencyName, r.FromAgencyORI, helpList(ar),
		strings.ToLower(strings.TrimPrefix(ar.GetUrgency().String(), "URGENCY_")))
	// The case summary holds at most 20,000 characters (not bytes).
	if r := []rune(summary); len(r) > 20000 {
		summary = string(r[:20000])
	}
	resp, err := s.cases.CreateCase(rpc.ForwardIdentity(ctx), &casesv1.CreateCaseRequest{
		Case:      &casesv1.Case{Title: title, Summary: summary},
		RequestId: uuid.NewSHA1(acceptNamespace, []byte(r.ID)).String(),
	})
	if err != nil {
		return "", err
	}
	return resp.GetCase().GetId(), nil
}

// shareCase makes the recipient of an accepted referral a contributor or
// viewer of the case, as the sender chose, through the door: the grant
// carries the referral's override reason (where no agreement was in force
// at submission) and is capped by the agreement between the sender (the
// lead) and the recipient whenever it is decided. Like a share from the
// case, one such grant per agency: it replaces an older one, and the lead
// can end it with DELETE /v1/cases/{id}/participants/{agency}.
func (s *Server) shareCase(ctx context.Context, tx pgx.Tx, p *auth.Principal, r *store.Referral) error {
	cr, err := caseReferral(r)
	if err != nil {
		return err
	}
	rel := authz.RelContributor
	if cr.GetShareRelation() == referralsv1.ShareRelation_SHARE_RELATION_VIEWER {
		rel = authz.RelViewer
	}
	res := caseResource(*r.CaseID)
	held, err := authz.Held(ctx, tx, r.ToAgencyID, res)
	if err != nil {
		return err
	}
	if slices.Contains(held, authz.RelLead) {
		return nil // the recipient leads the case already
	}
	label := r.ToAgencyORI + " (" + r.ToAgencyName + ")"
	_, err = authz.Grant(ctx, tx, p, authz.GrantRequest{
		Resource: res, AgencyID: r.ToAgencyID, Label: label, Relation: rel, Source: "referral:" + r.ID,
		Via: "referral " + r.Number, LeadAgencyID: r.FromAgencyID, OverrideReason: cr.GetOverrideReason(),
		Reason:   "referral " + r.Number + " accepted",
		Timeline: fmt.Sprintf("Referral %s accepted: %s joins the case as %s", r.Number, label, rel),
	})
	return err
}
