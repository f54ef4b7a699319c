package cases

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// Enum values are stored by name without their prefix (RANSOMWARE, OPEN) so
// the database reads plainly and survives renumbering.
func enumName(full, prefix string) string { return strings.TrimPrefix(full, prefix) }

func classificationToDB(c casesv1.Classification) string {
	return enumName(c.String(), "CLASSIFICATION_")
}

func classificationFromDB(s string) casesv1.Classification {
	return casesv1.Classification(casesv1.Classification_value["CLASSIFICATION_"+s])
}

func statusToDB(s casesv1.Status) string { return enumName(s.String(), "STATUS_") }

func statusFromDB(s string) casesv1.Status {
	return casesv1.Status(casesv1.Status_value["STATUS_"+s])
}

func priorityToDB(p casesv1.Priority) string { return enumName(p.String(), "PRIORITY_") }

func priorityFromDB(s string) casesv1.Priority {
	return casesv1.Priority(casesv1.Priority_value["PRIORITY_"+s])
}

func dispositionToDB(d casesv1.Disposition) string { return enumName(d.String(), "DISPOSITION_") }

func dispositionFromDB(s string) casesv1.Disposition {
	return casesv1.Disposition(casesv1.Disposition_value["DISPOSITION_"+s])
}

// nibrsDefault is the NIBRS offence code a classification implies, where one
// clearly applies (26G hacking/computer invasion, 26F identity theft, 26E
// wire fraud, 210 extortion/blackmail, 26A false pretenses/swindle).
var nibrsDefault = map[casesv1.Classification]string{
	casesv1.Classification_CLASSIFICATION_RANSOMWARE:                "210",
	casesv1.Classification_CLASSIFICATION_BUSINESS_EMAIL_COMPROMISE: "26E",
	casesv1.Classification_CLASSIFICATION_INTRUSION:                 "26G",
	casesv1.Classification_CLASSIFICATION_IDENTITY_THEFT:            "26F",
	casesv1.Classification_CLASSIFICATION_WIRE_FRAUD:                "26E",
	casesv1.Classification_CLASSIFICATION_SEXTORTION:                "210",
	casesv1.Classification_CLASSIFICATION_CRYPTOCURRENCY_FRAUD:      "26A",
	casesv1.Classification_CLASSIFICATION_DENIAL_OF_SERVICE:         "26G",
}

// etag is an opaque digest of the case's identity and version.
func etag(c *store.Case) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", c.ID, c.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func caseToProto(c *store.Case) *casesv1.Case {
	out := &casesv1.Case{
		Id:                      c.ID,
		CaseNumber:              c.CaseNumber,
		Title:                   c.Title,
		Summary:                 c.Summary,
		Classification:          classificationFromDB(c.Classification),
		NibrsCode:               c.NIBRSCode,
		Status:                  statusFromDB(c.Status),
		Priority:                priorityFromDB(c.Priority),
		LeadAgencyId:            c.LeadAgencyID,
		LeadAgencyOri:           c.LeadAgencyORI,
		AssignedInvestigatorIds: c.AssignedInvestigatorIDs,
		AffectedJurisdictions:   c.AffectedJurisdictions,
		CreateTime:              timestamppb.New(c.CreateTime),
		UpdateTime:              timestamppb.New(c.UpdateTime),
		CreateUser:              c.CreateUserEmail,
		UpdateUser:              c.UpdateUserEmail,
		Etag:                    etag(c),
		CloseReason:             c.CloseReason,
		Disposition:             dispositionFromDB(c.Disposition),
	}
	if c.IncidentStartTime != nil {
		out.IncidentStartTime = timestamppb.New(*c.IncidentStartTime)
	}
	if c.DiscoveryTime != nil {
		out.DiscoveryTime = timestamppb.New(*c.DiscoveryTime)
	}
	if c.LossCurrency != nil && c.LossAmountMinor != nil {
		out.EstimatedLoss = &casesv1.Money{CurrencyCode: *c.LossCurrency, AmountMinor: *c.LossAmountMinor}
	}
	return out
}

func noteToProto(n *store.Note) *casesv1.Note {
	return &casesv1.Note{
		Id:           n.ID,
		CaseId:       n.CaseID,
		Kind:         casesv1.NoteKind(casesv1.NoteKind_value["NOTE_KIND_"+n.Kind]),
		Body:         n.Body,
		AuthorUserId: n.AuthorUserID,
		AuthorEmail:  n.AuthorEmail,
		AgencyId:     n.AgencyID,
		AgencyOri:    n.AgencyORI,
		CreateTime:   timestamppb.New(n.CreateTime),
	}
}
