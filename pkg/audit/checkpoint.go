package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// A checkpoint is a signed statement of every chain's head at a time. Kept
// outside the database (printed, mailed, committed elsewhere), it lets
// Verify detect what a hash chain alone cannot: a cut tail, or a chain
// rewritten wholesale from some position on.

// CheckpointHead is one chain's head in a checkpoint.
type CheckpointHead struct {
	AgencyID  string `json:"agencyId"`
	AgencyORI string `json:"agencyOri"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"` // hex
	Count     int64  `json:"count"`
}

// Checkpoint is the signed document. The signature covers the JSON encoding
// of the document with Signature empty.
type Checkpoint struct {
	Version   int              `json:"version"`
	Time      time.Time        `json:"time"`
	Chains    []CheckpointHead `json:"chains"`
	PublicKey string           `json:"publicKey"` // base64 Ed25519
	Signature string           `json:"signature,omitempty"`
}

func (c *Checkpoint) signedBytes() []byte {
	u := *c
	u.Signature = ""
	b, _ := json.Marshal(u)
	return b
}

// ErrChainBroken: a chain failed verification (the checkpoint refuses to
// sign a broken chain).
var ErrChainBroken = errors.New("audit chain broken")

// MakeCheckpoint verifies every chain and signs their heads with key. It
// refuses (ErrChainBroken) to vouch for a chain that does not verify.
func MakeCheckpoint(ctx context.Context, q postgres.Querier, key ed25519.PrivateKey, now time.Time) (*Checkpoint, error) {
	reps, err := VerifyAll(ctx, q)
	if err != nil {
		return nil, err
	}
	cp := &Checkpoint{Version: 1, Time: now.UTC().Truncate(time.Second), Chains: []CheckpointHead{},
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
	for _, r := range reps {
		if !r.OK() {
			return nil, fmt.Errorf("%w: %s", ErrChainBroken, r)
		}
		cp.Chains = append(cp.Chains, CheckpointHead{AgencyID: r.AgencyID, AgencyORI: r.AgencyORI,
			Seq: r.HeadSeq, Hash: hex.EncodeToString(r.HeadHash), Count: r.Count})
	}
	cp.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, cp.signedBytes()))
	return cp, nil
}

// CheckSignature verifies cp's signature with its embedded public key and,
// when pinned is not nil, that the embedded key is pinned.
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
		return errors.New("checkpoint: bad signature")
	}
	return nil
}

// VerifyAgainst checks that each checkpointed chain still holds the record
// the checkpoint names, at its seq and with its hash. Together with Verify
// (which proves every record up to the current head links to the one before)
// this detects a truncated tail or a chain rewritten before the checkpoint.
// It returns one Report per checkpointed chain, with Problem set where the
// chain no longer matches; agency limits the check to one chain ("" = all).
func (c *Checkpoint) VerifyAgainst(ctx context.Context, q postgres.Querier, agency string) ([]Report, error) {
	var out []Report
	for _, h := range c.Chains {
		if agency != "" && h.AgencyID != agency {
			continue
		}
		rep := Report{AgencyID: h.AgencyID, AgencyORI: h.AgencyORI}
		var stored []byte
		var count int64
		err := q.QueryRow(ctx, `SELECT (SELECT hash FROM audit.events WHERE agency_id = $1 AND seq = $2),
			(SELECT count(*) FROM audit.events WHERE agency_id = $1)`, h.AgencyID, h.Seq).Scan(&stored, &count)
		if err != nil {
			return out, postgres.Translate(err)
		}
		rep.Count = count
		switch {
		case stored == nil:
			rep.Problem = &Problem{h.Seq, fmt.Sprintf("checkpointed record missing (checkpoint of %s names seq %d; the chain now holds %d records): tail cut", c.Time.Format(time.RFC3339), h.Seq, count)}
		case hex.EncodeToString(stored) != h.Hash:
			rep.Problem = &Problem{h.Seq, "hash differs from the checkpoint's: the chain was rewritten"}
		case count < h.Count:
			rep.Problem = &Problem{h.Seq, fmt.Sprintf("chain holds %d records, fewer than the %d checkpointed", count, h.Count)}
		default:
			rep.HeadSeq, rep.HeadHash = h.Seq, stored
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
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("checkpoint %s: unsupported version %d", path, cp.Version)
	}
	return &cp, nil
}

// GenerateKey writes a new Ed25519 signing key to path (PKCS #8 PEM, mode
// 0600, refusing to overwrite) and returns its public key.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		_ = f.Close()
		return nil, err
	}
	return pub, f.Close()
}

// LoadKey reads a signing key written by GenerateKey.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("checkpoint key %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("checkpoint key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// ParsePublicKey parses a base64 Ed25519 public key (as GenerateKey's
// caller prints it).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("checkpoint public key: want base64 of 32 bytes")
	}
	return ed25519.PublicKey(b), nil
}
