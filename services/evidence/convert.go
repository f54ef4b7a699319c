package evidence

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// Enum values are stored without their prefix (DISK_IMAGE, CHECKED_OUT).
func kindToDB(k evidencev1.Kind) string { return strings.TrimPrefix(k.String(), "KIND_") }
func kindFromDB(s string) evidencev1.Kind {
	return evidencev1.Kind(evidencev1.Kind_value["KIND_"+s])
}
func statusFromDB(s string) evidencev1.Status {
	return evidencev1.Status(evidencev1.Status_value["STATUS_"+s])
}
func actionToDB(a evidencev1.CustodyAction) string {
	return strings.TrimPrefix(a.String(), "CUSTODY_ACTION_")
}
func actionFromDB(s string) evidencev1.CustodyAction {
	return evidencev1.CustodyAction(evidencev1.CustodyAction_value["CUSTODY_ACTION_"+s])
}
func authorityToDB(t evidencev1.LegalAuthorityType) string {
	return strings.TrimPrefix(t.String(), "LEGAL_AUTHORITY_TYPE_")
}
func authorityFromDB(s string) evidencev1.LegalAuthorityType {
	return evidencev1.LegalAuthorityType(evidencev1.LegalAuthorityType_value["LEGAL_AUTHORITY_TYPE_"+s])
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func tsp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func timep(t *timestamppb.Timestamp) *time.Time {
	if t == nil {
		return nil
	}
	v := t.AsTime().UTC().Truncate(time.Microsecond)
	return &v
}

func etag(it *store.Item) string { return fmt.Sprintf(`"%d"`, it.Version) }

func itemToProto(it *store.Item) *evidencev1.Evidence {
	out := &evidencev1.Evidence{
		Id: it.ID, CaseId: it.CaseID, CaseNumber: it.CaseNumber, ExhibitNumber: it.ExhibitNumber,
		Description: it.Description, Kind: kindFromDB(it.Kind), Sha256: it.SHA256, Md5: it.MD5, Sha1: it.SHA1,
		SizeBytes: it.SizeBytes, StorageLocation: it.StorageLocation, CurrentCustodian: it.CurrentCustodian,
		HoldingAgencyId: it.HoldingAgencyID, HoldingAgencyOri: it.HoldingAgencyORI, Status: statusFromDB(it.Status),
		Compromised: it.Compromised, LastVerifyTime: tsp(it.LastVerifyTime), CustodyEventCount: it.CustodyCount,
		CustodyHeadHash: hex.EncodeToString(it.CustodyHead), CreateTime: ts(it.CreateTime),
		UpdateTime: ts(it.UpdateTime), CreateUser: it.CreateUserEmail, Etag: etag(it),
	}
	if it.ParentID != nil {
		out.ParentId = *it.ParentID
	}
	if it.AcquireTime != nil || it.AcquiredBy != "" || it.AcquireMethod != "" || it.AcquireTool != "" ||
		it.AcquireToolVersion != "" || it.SourceLocation != "" {
		out.Acquisition = &evidencev1.Acquisition{
			AcquireTime: tsp(it.AcquireTime), AcquiredBy: it.AcquiredBy, Method: it.AcquireMethod,
			Tool: it.AcquireTool, ToolVersion: it.AcquireToolVersion, SourceLocation: it.SourceLocation,
		}
	}
	if it.AuthorityType != "UNSPECIFIED" {
		out.LegalAuthority = &evidencev1.LegalAuthority{
			Type: authorityFromDB(it.AuthorityType), Identifier: it.AuthorityIdentifier,
			Issuer: it.AuthorityIssuer, ExpireTime: tsp(it.AuthorityExpireTime),
		}
		if it.AuthorityLegalProcessID != nil {
			out.LegalAuthority.LegalProcessId = *it.AuthorityLegalProcessID
		}
	}
	return out
}

func eventToProto(e *store.Event) *evidencev1.CustodyEvent {
	out := &evidencev1.CustodyEvent{
		Id: e.ID, EvidenceId: e.EvidenceID, Sequence: e.Seq, Action: actionFromDB(e.Action),
		EventTime: ts(e.EventTime), FromCustodian: e.FromCustodian, ToCustodian: e.ToCustodian,
		ToAgencyId: e.ToAgencyID, Location: e.Location, Purpose: e.Purpose, FromAgencyId: e.FromAgencyID,
		HoldingAgencyId: e.HoldingAgencyID, ToStatus: statusFromDB(e.ToStatus), ActorUserId: e.ActorUserID,
		ActorEmail: e.ActorEmail, ActorAgencyId: e.ActorAgencyID, ActorAgencyOri: e.ActorAgencyORI,
		CreateTime: ts(e.CreateTime), PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
	if e.FromStatus != "" {
		out.FromStatus = statusFromDB(e.FromStatus)
	}
	out.LateEntry, out.LateEntryReason = e.LateEntry, e.LateReason
	if e.CheckMatch != nil {
		out.IntegrityCheck = &evidencev1.IntegrityResult{
			Sha256: e.CheckSHA256, ExpectedSha256: e.CheckExpectedSHA256, Match: *e.CheckMatch, Tool: e.CheckTool,
		}
	}
	return out
}

// checkToProto is an INTEGRITY_CHECK event as the check it records.
func checkToProto(e *store.Event, comment string) *evidencev1.IntegrityCheck {
	return &evidencev1.IntegrityCheck{
		Id: e.ID, EvidenceId: e.EvidenceID, ExpectedSha256: e.CheckExpectedSHA256, ComputedSha256: e.CheckSHA256,
		Match: e.CheckMatch != nil && *e.CheckMatch, Tool: e.CheckTool, Comment: comment, UserEmail: e.ActorEmail,
		AgencyId: e.ActorAgencyID, CreateTime: ts(e.CreateTime), Sequence: e.Seq,
	}
}
