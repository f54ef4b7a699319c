package liaison

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

func relationName(r liaisonv1.Relation) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "RELATION_"))
}

func relationEnum(s string) liaisonv1.Relation {
	return liaisonv1.Relation(liaisonv1.Relation_value["RELATION_"+strings.ToUpper(s)])
}

func categoryNames(cs []liaisonv1.DataCategory) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, strings.TrimPrefix(c.String(), "DATA_CATEGORY_"))
	}
	return out
}

func categoryEnums(names []string) []liaisonv1.DataCategory {
	out := make([]liaisonv1.DataCategory, 0, len(names))
	for _, n := range names {
		out = append(out, liaisonv1.DataCategory(liaisonv1.DataCategory_value["DATA_CATEGORY_"+n]))
	}
	return out
}

func agreementToProto(a *store.Agreement, now time.Time) *liaisonv1.Agreement {
	out := &liaisonv1.Agreement{
		Id: a.ID, AgencyId: a.AgencyID, Title: a.Title, MaxRelation: relationEnum(a.MaxRelation),
		ExcludedCategories: categoryEnums(a.ExcludedCategories), EffectiveTime: timestamppb.New(a.EffectiveTime),
		ExpireTime: ts(a.ExpireTime), Active: a.Active(now), CreateTime: timestamppb.New(a.CreateTime),
		UpdateTime: timestamppb.New(a.UpdateTime), Etag: etag("agreement", a.ID, a.Version),
	}
	if a.PartnerAgencyID != nil {
		out.PartnerAgencyId = *a.PartnerAgencyID
	}
	if a.TaskforceID != nil {
		out.TaskforceId = *a.TaskforceID
	}
	return out
}

// ListAgreements lists agreements, newest first. Agreements are public
// within Casebridge, like the directory: every partner may know what was
// agreed.
func (s *Server) ListAgreements(ctx context.Context, req *liaisonv1.ListAgreementsRequest) (*liaisonv1.ListAgreementsResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListAgreements")
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	var after *time.Time
	afterID := ""
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		after, afterID = &t, keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListAgreements(ctx, s.pool, after, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListAgreementsResponse{Agreements: []*liaisonv1.Agreement{}}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.Format(time.RFC3339Nano), last.ID)
	}
	now := s.timestamp()
	for _, a := range rows {
		resp.Agreements = append(resp.Agreements, agreementToProto(a, now))
	}
	return resp, nil
}

// GetAgreement returns one agreement.
func (s *Server) GetAgreement(ctx context.Context, req *liaisonv1.GetAgreementRequest) (*liaisonv1.GetAgreementResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	annotate(ctx, "agreement", req.GetAgreementId())
	a, err := store.GetAgreement(ctx, s.pool, req.GetAgreementId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetAgreementResponse{Agreement: agreementToProto(a, s.timestamp())}, nil
}

// putAgreement mirrors a into the authorization facts through the door, in
// the transaction that records it: every share it governs is decided under
// its terms from the next request on (an agreement ended early by setting
// expireTime takes the partner's access with it when that time passes).
func putAgreement(ctx context.Context, tx pgx.Tx, a *store.Agreement) error {
	// Issue 18: the lapse warnings are jobs scheduled with the change.
	if err := scheduleLapse(ctx, tx, a, time.Now().UTC()); err != nil {
		return err
	}
	party := a.PartnerAgencyID
	if party == nil {
		party = a.TaskforceID
	}
	return authz.PutAgreement(ctx, tx, authz.Agreement{
		ID: a.ID, PartyA: a.AgencyID, PartyB: *party, Title: a.Title, MaxRelation: a.MaxRelation,
		Excluded: a.ExcludedCategories, EffectiveTime: a.EffectiveTime, ExpireTime: a.ExpireTime,
	})
}

// CreateAgreement records an agreement of the caller's agency.
func (s *Server) CreateAgreement(ctx context.Context, req *liaisonv1.CreateAgreementRequest) (*liaisonv1.CreateAgreementResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "agreement", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetAgreement()
	now := s.timestamp()
	a := &store.Agreement{
		ID: uuid.NewString(), AgencyID: p.AgencyID, Title: strings.TrimSpace(in.GetTitle()),
		MaxRelation: relationName(in.GetMaxRelation()), ExcludedCategories: categoryNames(in.GetExcludedCategories()),
		EffectiveTime: now, ExpireTime: tsPtr(in.GetExpireTime()), CreateTime: now, UpdateTime: now, Version: 1,
	}
	if t := tsPtr(in.GetEffectiveTime()); t != nil {
		a.EffectiveTime = *t
	}
	if a.ExpireTime != nil && !a.ExpireTime.After(a.EffectiveTime) {
		return nil, rpc.FieldError("agreement.expireTime", "must be after effectiveTime (default now)")
	}
	if id := in.GetPartnerAgencyId(); id != "" {
		if id == p.AgencyID {
			return nil, rpc.FieldError("agreement.partnerAgencyId", "an agency needs no agreement with itself")
		}
		a.PartnerAgencyID = &id
	}
	if id := in.GetTaskforceId(); id != "" {
		a.TaskforceID = &id
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		prev, err := idempotent(ctx, tx, p, "CreateAgreement", req.GetRequestId(), func() (string, error) {
			if a.PartnerAgencyID != nil {
				if _, err := store.GetAgency(ctx, tx, *a.PartnerAgencyID); errors.Is(err, postgres.ErrNotFound) {
					return "", rpc.FieldError("agreement.partnerAgencyId", "no such agency")
				} else if err != nil {
					return "", err
				}
			}
			if a.TaskforceID != nil {
				if _, err := store.GetTaskforce(ctx, tx, *a.TaskforceID); errors.Is(err, postgres.ErrNotFound) {
					return "", rpc.FieldError("agreement.taskforceId", "no such task force")
				} else if err != nil {
					return "", err
				}
			}
			if err := store.InsertAgreement(ctx, tx, a); err != nil {
				return "", err
			}
			return a.ID, putAgreement(ctx, tx, a)
		})
		if err != nil {
			return err
		}
		if prev != "" {
			a, err = store.GetAgreement(ctx, tx, prev)
			return err
		}
		annotate(ctx, "agreement", a.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateAgreementResponse{Agreement: agreementToProto(a, now)}, nil
}

// UpdateAgreement changes an agreement of the caller's agency.
func (s *Server) UpdateAgreement(ctx context.Context, req *liaisonv1.UpdateAgreementRequest) (*liaisonv1.UpdateAgreementResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetAgreement()
	m, err := mask(req.GetUpdateMask().GetPaths(),
		[]string{"title", "max_relation", "excluded_categories", "effective_time", "expire_time"},
		[]string{"id", "agency_id", "partner_agency_id", "taskforce_id", "active", "etag", "create_time", "update_time"})
	if err != nil {
		return nil, err
	}
	if m["title"] && strings.TrimSpace(in.GetTitle()) == "" {
		return nil, rpc.FieldError("agreement.title", "must not be empty")
	}
	if m["max_relation"] && in.GetMaxRelation() == liaisonv1.Relation_RELATION_UNSPECIFIED {
		return nil, rpc.FieldError("agreement.maxRelation", "RELATION_VIEWER or RELATION_CONTRIBUTOR")
	}
	annotate(ctx, "agreement", in.GetId())
	var a *store.Agreement
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if a, err = store.LockAgreement(ctx, tx, in.GetId()); err != nil {
			return err
		}
		if err := s.authz.AuthorizeAgency(p, a.AgencyID, "agreement", "update"); err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != etag("agreement", a.ID, a.Version) {
			return errStale
		}
		if m["title"] {
			a.Title = strings.TrimSpace(in.GetTitle())
		}
		if m["max_relation"] {
			a.MaxRelation = relationName(in.GetMaxRelation())
		}
		if m["excluded_categories"] {
			a.ExcludedCategories = categoryNames(in.GetExcludedCategories())
		}
		if m["effective_time"] && in.GetEffectiveTime() != nil {
			a.EffectiveTime = *tsPtr(in.GetEffectiveTime())
		}
		if m["expire_time"] {
			a.ExpireTime = tsPtr(in.GetExpireTime())
		}
		if a.ExpireTime != nil && !a.ExpireTime.After(a.EffectiveTime) {
			return rpc.FieldError("agreement.expireTime", "must be after effectiveTime")
		}
		a.UpdateTime = s.timestamp()
		if err := store.SaveAgreement(ctx, tx, a); err != nil {
			return err
		}
		if err := putAgreement(ctx, tx, a); err != nil {
			return err
		}
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.UpdateAgreementResponse{Agreement: agreementToProto(a, s.timestamp())}, nil
}

// CheckSharing returns the terms of the agreement in force between the
// caller's agency and a partner agency or task force.
func (s *Server) CheckSharing(ctx context.Context, req *liaisonv1.CheckSharingRequest) (*liaisonv1.CheckSharingResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.CheckSharingResponse{}
	if id := req.GetTaskforceId(); id != "" {
		t, err := store.GetTaskforce(ctx, s.pool, id)
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		resp.PartnerName = t.Name
	} else {
		ag, err := store.GetAgency(ctx, s.pool, req.GetPartnerAgencyId())
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		resp.PartnerName = ag.Name
	}
	all, err := store.AgreementsBetween(ctx, s.pool, p.AgencyID, req.GetPartnerAgencyId(), req.GetTaskforceId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// Every active agreement between the two agencies binds the share, so
	// the most restrictive governs: a partner cannot loosen, by recording
	// its own agreement, the terms the lead agreed to. Excluded categories
	// add up; the earliest expiry caps the share.
	now := s.timestamp()
	var gov *store.Agreement
	var excluded []string
	var expire *time.Time
	for _, a := range all {
		if !a.Active(now) {
			if a.ExpireTime != nil && !a.ExpireTime.After(now) &&
				(resp.LapsedTime == nil || a.ExpireTime.After(resp.LapsedTime.AsTime())) {
				resp.LapsedTime = timestamppb.New(*a.ExpireTime)
			}
			continue
		}
		if gov == nil || (a.MaxRelation == "viewer" && gov.MaxRelation != "viewer") {
			gov = a
		}
		for _, c := range a.ExcludedCategories {
			if !slices.Contains(excluded, c) {
				excluded = append(excluded, c)
			}
		}
		if a.ExpireTime != nil && (expire == nil || a.ExpireTime.Before(*expire)) {
			expire = a.ExpireTime
		}
	}
	if gov != nil {
		resp.Terms = &liaisonv1.SharingTerms{
			AgreementId: gov.ID, Title: gov.Title, MaxRelation: relationEnum(gov.MaxRelation),
			ExcludedCategories: categoryEnums(excluded), ExpireTime: ts(expire),
		}
		resp.LapsedTime = nil
	}
	return resp, nil
}
