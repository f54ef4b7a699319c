package evidence

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// SeedItem registers, inside tx, a disk-image exhibit on caseID held by p's
// agency — exhibit number, INTAKE event opening a valid custody chain,
// holder relation — exactly as CreateEvidence does, for the load tool
// (`casebridge bench seed`). No audit record: generating a world is not an
// access to one.
func SeedItem(ctx context.Context, tx pgx.Tx, p *auth.Principal, caseID, caseNumber, description, sha256 string, size int64, now time.Time) (string, error) {
	it := &store.Item{
		ID: uuid.NewString(), CaseID: caseID, CaseNumber: caseNumber, Description: description, Kind: "DISK_IMAGE",
		SHA256: sha256, SizeBytes: size, AuthorityType: "UNSPECIFIED", StorageLocation: "Evidence room",
		CurrentCustodian: p.Email, HoldingAgencyID: p.AgencyID, HoldingAgencyORI: p.AgencyORI,
		Status: statusInCustody, CreateTime: now, UpdateTime: now, CreateUserID: p.UserID, CreateUserEmail: p.Email,
		AcquiredBy: p.Email, Version: 1,
	}
	if err := registerItem(ctx, tx, p, it, now); err != nil {
		return "", err
	}
	return it.ID, nil
}
