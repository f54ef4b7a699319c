package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// A custody checkpoint is a signed statement of every exhibit's chain head,
// like the audit trail's (pkg/audit): kept outside the database, it lets
// `casebridge evidence verify --checkpoint FILE` detect what a hash chain
// alone cannot — a cut tail, or an item's chain rewritten wholesale. A case
// package carries one too, which also names the SHA-256 of every file in
// the package.

// CheckpointHead is one exhibit's chain head.
type CheckpointHead struct {
	EvidenceID    string `json:"evidenceId"`
	ExhibitNumber string `json:"exhibitNumber"`
	Seq           int64  `json:"seq"`
	Hash          string `json:"hash"` // hex
}

// FileDigest is one file of a case package and its SHA-256 (hex).
type FileDigest struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Checkpoint is the signed document. The signature (Ed25519, base64) covers
// the JSON encoding of the document with Signature empty.
type Checkpoint struct {
	Version int `json:"version"`
	// Kind is "custody" (every item in a database) or "case-package".
	Kind       string           `json:"kind"`
	Time       time.Time        `json:"time"`
	CaseID     string           `json:"caseId,omitempty"`
	CaseNumber string           `json:"caseNumber,omitempty"`
	Recipient  string           `json:"recipient,omitempty"`
	Purpose    string           `json:"purpose,omitempty"`
	Files      []FileDigest     `json:"files,omitempty"`
	Items      []CheckpointHead `json:"items"`
	PublicKey  string           `json:"publicKey"`
	Signature  string           `json:"signature,omitempty"`
}

const (
	checkpointKindCustody = "custody"
	checkpointKindPackage = "case-package"
)

func (c *Checkpoint) signedBytes() []byte {
	u := *c
	u.Signature = ""
	b, _ := json.Marshal(u)
	return b
}

func (c *Checkpoint) sign(key ed25519.PrivateKey) {
	c.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.signedBytes()))
}

// CheckSignature verifies c's signature with its embedded public key and,
// when pinned is not nil, that the embedded key is the pinned one.
func (c *Checkpoint) CheckSignature(pinned ed25519.PublicKey) error {
	pub, err := base64.StdEncoding.DecodeString(c.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return errors.New("checkpoint: malformed public key")
	}
	if pinned != nil && !bytes.Equal(pinned, pub) {
		return errors.New("checkpoint: signed by a key other than the pinned one")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(ed25519.PublicKey(pub), c.signedBytes(), sig) {
		return errors.New("checkpoint: bad signature (the checkpoint was changed after signing)")
	}
	return nil
}

// ItemReport is the outcome of verifying one exhibit.
type ItemReport struct {
	EvidenceID, ExhibitNumber string
	Count                     int64
	Head                      []byte
	// FirstBroken, Field and Problem as in VerifyCustodyChainResponse.
	FirstBroken int64
	Field       string
	Problem     string
}

// OK reports whether the item verified.
func (r ItemReport) OK() bool { return r.Problem == "" }

func (r ItemReport) String() string {
	if r.OK() {
		return fmt.Sprintf("%s: %d events, head %x: ok", r.ExhibitNumber, r.Count, r.Head)
	}
	return fmt.Sprintf("%s: BROKEN at event %d: %s", r.ExhibitNumber, r.FirstBroken, r.Problem)
}

func itemReport(it *store.Item, r chainReport) ItemReport {
	return ItemReport{EvidenceID: it.ID, ExhibitNumber: it.ExhibitNumber, Count: r.Count, Head: r.Head,
		FirstBroken: r.FirstBroken, Field: r.Field, Problem: r.Problem}
}

// verifyItem verifies it's chain and holds its record to it.
func verifyItem(ctx context.Context, q postgres.Querier, it *store.Item) (chainReport, error) {
	v := newChainVerifier(it.CustodyCount)
	if err := store.EachEvent(ctx, q, it.ID, func(e *store.Event) error { v.add(e); return nil }); err != nil {
		return chainReport{}, err
	}
	v.finish(it.CustodyHead)
	return v.checkItem(registrationOf(it), stateOf(it)), nil
}

// VerifyAll verifies every exhibit in the database: its chain, its sealed
// registration and its custody-driven fields. It reads q directly (no
// authorization): it is for operators (`casebridge evidence verify`).
func VerifyAll(ctx context.Context, q postgres.Querier) ([]ItemReport, error) {
	var out []ItemReport
	err := store.EachItem(ctx, q, func(it *store.Item) error {
		r, err := verifyItem(ctx, q, it)
		if err != nil {
			return err
		}
		out = append(out, itemReport(it, r))
		return nil
	})
	return out, err
}

// ErrChainBroken: an item failed verification (a checkpoint refuses to
// vouch for it).
var ErrChainBroken = errors.New("custody chain broken")

// MakeCheckpoint verifies every exhibit and signs every chain's head with
// key; it refuses (ErrChainBroken) to sign over a broken item.
func MakeCheckpoint(ctx context.Context, q postgres.Querier, key ed25519.PrivateKey, now time.Time) (*Checkpoint, error) {
	reps, err := VerifyAll(ctx, q)
	if err != nil {
		return nil, err
	}
	cp := &Checkpoint{Version: 1, Kind: checkpointKindCustody, Time: now.UTC().Truncate(time.Second), Items: []CheckpointHead{}}
	for _, r := range reps {
		if !r.OK() {
			return nil, fmt.Errorf("%w: %s", ErrChainBroken, r)
		}
		cp.Items = append(cp.Items, CheckpointHead{EvidenceID: r.EvidenceID, ExhibitNumber: r.ExhibitNumber, Seq: r.Count, Hash: hex.EncodeToString(r.Head)})
	}
	cp.sign(key)
	return cp, nil
}

// VerifyAgainst checks that every checkpointed item still holds the event
// the checkpoint names, at its position and with its hash. With VerifyAll
// (every event up to the current head links to the one before) this detects
// a cut tail and a chain rewritten before the checkpoint. It returns one
// report per checkpointed item.
func (c *Checkpoint) VerifyAgainst(ctx context.Context, q postgres.Querier) ([]ItemReport, error) {
	var out []ItemReport
	for _, h := range c.Items {
		rep := ItemReport{EvidenceID: h.EvidenceID, ExhibitNumber: h.ExhibitNumber}
		var stored []byte
		var count int64
		err := q.QueryRow(ctx, `SELECT (SELECT hash FROM evidence.custody_events WHERE evidence_id = $1 AND seq = $2),
			(SELECT count(*) FROM evidence.custody_events WHERE evidence_id = $1)`, h.EvidenceID, h.Seq).Scan(&stored, &count)
		if err != nil {
			return out, postgres.Translate(err)
		}
		rep.Count = count
		switch {
		case stored == nil:
			rep.FirstBroken = h.Seq
			rep.Problem = fmt.Sprintf("checkpointed event %d missing (the checkpoint of %s names it; the chain now holds %d events): tail cut",
				h.Seq, c.Time.Format(time.RFC3339), count)
		case hex.EncodeToString(stored) != h.Hash:
			rep.FirstBroken = h.Seq
			rep.Problem = fmt.Sprintf("event %d's hash differs from the checkpoint's: the chain was rewritten", h.Seq)
		default:
			rep.Head = stored
		}
		out = append(out, rep)
	}
	return out, nil
}

// ReadCheckpoint reads a checkpoint file.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return parseCheckpoint(path, b)
}

func parseCheckpoint(name string, b []byte) (*Checkpoint, error) {
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("checkpoint %s: unsupported version %d", name, cp.Version)
	}
	return &cp, nil
}
