package liaison

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// Server implements liaisonv1.LiaisonServiceServer: contacts, liaison
// assignments, task forces, agreements and the engagement log.
type Server struct {
	liaisonv1.UnimplementedLiaisonServiceServer
	pool   *pgxpool.Pool
	authz  *authz.Authorizer
	logger *slog.Logger
	now    func() time.Time
}

// NewServer returns the LiaisonService on pool.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, logger *slog.Logger) *Server {
	return &Server{pool: pool, authz: az, logger: logger, now: time.Now}
}

func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// etag is the opaque version tag of a resource.
func etag(kind, id string, version int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", kind, id, version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func tsPtr(t *timestamppb.Timestamp) *time.Time {
	if t == nil {
		return nil
	}
	v := t.AsTime().UTC().Truncate(time.Microsecond)
	return &v
}

// annotate names the resource of the call's audit record.
func annotate(ctx context.Context, typ, id string) {
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = typ, id })
}

// mask turns update_mask paths (snake or lowerCamel) into the set of
// updatable fields named; server-owned fields are ignored, anything else is
// refused naming updateMask.
func mask(paths []string, updatable, ignored []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range paths {
		snake := toSnake(p)
		switch {
		case slices.Contains(updatable, snake):
			out[snake] = true
		case slices.Contains(ignored, snake):
		default:
			return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", p))
		}
	}
	if len(out) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one of "+strings.Join(updatable, ", "))
	}
	return out, nil
}

func toSnake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// page decodes a page token of want keys bound to bind; with two keys the
// second is a row id and must be a UUID (tokens are not signed, so a forged
// one must answer 400 here rather than reach a SQL cast).
func page(token, bind string, want int) ([]string, error) {
	keys, err := pagetoken.Decode(token, bind, want)
	if err != nil || (len(keys) == 2 && uuid.Validate(keys[1]) != nil) {
		return nil, rpc.FieldError("pageToken", "invalid page token")
	}
	return keys, nil
}

// idempotent runs create in tx unless requestID was used before by the same
// user for method, in which case it returns the earlier resource's id.
func idempotent(ctx context.Context, tx pgx.Tx, p *auth.Principal, method, requestID string, create func() (string, error)) (prev string, err error) {
	if requestID != "" {
		if prev, err = store.Requests.Claim(ctx, tx, p.UserID, method, requestID); err != nil || prev != "" {
			return prev, err
		}
	}
	id, err := create()
	if err != nil {
		return "", err
	}
	if requestID != "" {
		return "", store.Requests.Complete(ctx, tx, p.UserID, method, requestID, id)
	}
	return "", nil
}

// --- Contacts ---------------------------------------------------------------

func contactToProto(c *store.Contact) *liaisonv1.Contact {
	return &liaisonv1.Contact{
		Id: c.ID, AgencyId: c.AgencyID, Name: c.Name, Title: c.Title, Phone: c.Phone, Email: c.Email,
		DutyPhone: c.DutyPhone, Topics: nonNil(c.Topics), CreateTime: timestamppb.New(c.CreateTime),
		UpdateTime: timestamppb.New(c.UpdateTime), Etag: etag("contact", c.ID, c.Version),
	}
}

// ListContacts lists an agency's points of contact.
func (s *Server) ListContacts(ctx context.Context, req *liaisonv1.ListContactsRequest) (*liaisonv1.ListContactsResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	if _, err := store.GetAgency(ctx, s.pool, req.GetAgencyId()); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListContacts", req.GetAgencyId())
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	afterName, afterID := "", ""
	if keys != nil {
		afterName, afterID = keys[0], keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListContacts(ctx, s.pool, req.GetAgencyId(), afterName, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListContactsResponse{Contacts: []*liaisonv1.Contact{}}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.Name, last.ID)
	}
	for _, c := range rows {
		resp.Contacts = append(resp.Contacts, contactToProto(c))
	}
	return resp, nil
}

// CreateContact adds a point of contact to the agency (its admins and
// liaisons).
func (s *Server) CreateContact(ctx context.Context, req *liaisonv1.CreateContactRequest) (*liaisonv1.CreateContactResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "contact", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetContact()
	now := s.timestamp()
	c := &store.Contact{
		ID: uuid.NewString(), AgencyID: req.GetAgencyId(), Name: strings.TrimSpace(in.GetName()), Title: in.GetTitle(),
		Phone: in.GetPhone(), Email: strings.ToLower(in.GetEmail()), DutyPhone: in.GetDutyPhone(), Topics: in.GetTopics(),
		CreateTime: now, UpdateTime: now, Version: 1,
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		prev, err := idempotent(ctx, tx, p, "CreateContact", req.GetRequestId(), func() (string, error) {
			return c.ID, store.InsertContact(ctx, tx, c)
		})
		if err != nil {
			return err
		}
		if prev != "" {
			c, err = store.GetContact(ctx, tx, req.GetAgencyId(), prev)
			return err
		}
		annotate(ctx, "contact", c.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateContactResponse{Contact: contactToProto(c)}, nil
}

// UpdateContact changes a point of contact.
func (s *Server) UpdateContact(ctx context.Context, req *liaisonv1.UpdateContactRequest) (*liaisonv1.UpdateContactResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetContact()
	m, err := mask(req.GetUpdateMask().GetPaths(),
		[]string{"name", "title", "phone", "email", "duty_phone", "topics"},
		[]string{"id", "agency_id", "etag", "create_time", "update_time"})
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, in.GetAgencyId(), "contact", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	var c *store.Contact
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if c, err = store.LockContact(ctx, tx, in.GetAgencyId(), in.GetId()); err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != etag("contact", c.ID, c.Version) {
			return errStale
		}
		if m["name"] {
			c.Name = strings.TrimSpace(in.GetName())
		}
		if m["title"] {
			c.Title = in.GetTitle()
		}
		if m["phone"] {
			c.Phone = in.GetPhone()
		}
		if m["email"] {
			c.Email = strings.ToLower(in.GetEmail())
		}
		if m["duty_phone"] {
			c.DutyPhone = in.GetDutyPhone()
		}
		if m["topics"] {
			c.Topics = in.GetTopics()
		}
		c.UpdateTime = s.timestamp()
		if err := store.SaveContact(ctx, tx, c); err != nil {
			return err
		}
		annotate(ctx, "contact", c.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.UpdateContactResponse{Contact: contactToProto(c)}, nil
}

// DeleteContact removes a point of contact.
func (s *Server) DeleteContact(ctx context.Context, req *liaisonv1.DeleteContactRequest) (*liaisonv1.DeleteContactResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "contact", "delete"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.DeleteContact(ctx, tx, req.GetAgencyId(), req.GetContactId()); err != nil {
			return err
		}
		annotate(ctx, "contact", req.GetContactId())
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.DeleteContactResponse{}, nil
}

// --- Liaison assignments ----------------------------------------------------

func assignmentToProto(a *store.Assignment) *liaisonv1.LiaisonAssignment {
	return &liaisonv1.LiaisonAssignment{
		Id: a.ID, AgencyId: a.AgencyID, UserId: a.UserID, UserEmail: a.UserEmail, UserDisplayName: a.UserName,
		PartnerAgencyId: a.PartnerID, PartnerAgencyOri: a.PartnerORI, PartnerAgencyName: a.PartnerName,
		CreateTime: timestamppb.New(a.CreateTime),
	}
}

// ListLiaisonAssignments lists which liaison officer covers which partner.
func (s *Server) ListLiaisonAssignments(ctx context.Context, req *liaisonv1.ListLiaisonAssignmentsRequest) (*liaisonv1.ListLiaisonAssignmentsResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	if _, err := store.GetAgency(ctx, s.pool, req.GetAgencyId()); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListLiaisonAssignments", req.GetAgencyId())
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	afterORI, afterID := "", ""
	if keys != nil {
		afterORI, afterID = keys[0], keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListAssignments(ctx, s.pool, req.GetAgencyId(), afterORI, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListLiaisonAssignmentsResponse{Liaisons: []*liaisonv1.LiaisonAssignment{}}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.PartnerORI, last.ID)
	}
	for _, a := range rows {
		resp.Liaisons = append(resp.Liaisons, assignmentToProto(a))
	}
	return resp, nil
}

// CreateLiaisonAssignment names a liaison officer of the agency as its
// liaison to a partner (the agency's admins).
func (s *Server) CreateLiaisonAssignment(ctx context.Context, req *liaisonv1.CreateLiaisonAssignmentRequest) (*liaisonv1.CreateLiaisonAssignmentResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "liaison_assignment", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetLiaison()
	if in.GetPartnerAgencyId() == req.GetAgencyId() {
		return nil, rpc.FieldError("liaison.partnerAgencyId", "an agency is not its own partner")
	}
	var out *store.Assignment
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := store.GetUser(ctx, tx, req.GetAgencyId(), in.GetUserId())
		if err != nil || !u.Active || !slices.Contains(u.Roles, "liaison") {
			return rpc.FieldError("liaison.userId", "not an active user of the agency with the liaison role")
		}
		if _, err := store.GetAgency(ctx, tx, in.GetPartnerAgencyId()); err != nil {
			return rpc.FieldError("liaison.partnerAgencyId", "no such agency")
		}
		a := &store.Assignment{ID: uuid.NewString(), AgencyID: req.GetAgencyId(), UserID: u.ID,
			PartnerID: in.GetPartnerAgencyId(), CreateTime: s.timestamp()}
		if err := store.InsertAssignment(ctx, tx, a); err != nil {
			return err
		}
		if out, err = store.GetAssignment(ctx, tx, a.ID); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID, e.RecipientAgencyID = "liaison_assignment", a.ID, a.PartnerID
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateLiaisonAssignmentResponse{Liaison: assignmentToProto(out)}, nil
}

// DeleteLiaisonAssignment ends an assignment.
func (s *Server) DeleteLiaisonAssignment(ctx context.Context, req *liaisonv1.DeleteLiaisonAssignmentRequest) (*liaisonv1.DeleteLiaisonAssignmentResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "liaison_assignment", "delete"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.DeleteAssignment(ctx, tx, req.GetAgencyId(), req.GetLiaisonId()); err != nil {
			return err
		}
		annotate(ctx, "liaison_assignment", req.GetLiaisonId())
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.DeleteLiaisonAssignmentResponse{}, nil
}
