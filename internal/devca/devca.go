// Package devca is the development certificate authority of `casebridge
// dev`: a local CA and the certificates signed by it, kept under the data
// dir, so development and the end-to-end tests run the transport production
// runs — TLS on the gRPC port with client certificates, the gateway
// identified by its certificate. Nothing here is for production, where an
// operator's PKI issues the same four roles.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// Dir is the data dir's subdirectory holding the CA and certificates.
const Dir = "tls"

// ClientIdentity names the certificate for operators' tools (grpcurl,
// scripts): it may call the services but is not the gateway, so the
// services record its own address, never what it claims to forward.
const ClientIdentity = "casebridge-client"

// Files are the paths of the development PKI.
type Files struct {
	Dir                     string
	CA                      string // the CA certificate: trust it in clients
	ServerCert, ServerKey   string // the services' gRPC port
	GatewayCert, GatewayKey string // the gateway's client certificate (CN casebridge-gateway)
	ClientCert, ClientKey   string // a tool's client certificate (CN casebridge-client)
	EdgeCert, EdgeKey       string // HTTPS at the gateway (localhost, 127.0.0.1)
	caKey                   string
}

// Paths returns where the PKI of dataDir lives (whether or not it exists).
func Paths(dataDir string) Files {
	d := filepath.Join(dataDir, Dir)
	j := func(n string) string { return filepath.Join(d, n) }
	return Files{
		Dir: d, CA: j("ca.pem"), caKey: j("ca-key.pem"),
		ServerCert: j("services.pem"), ServerKey: j("services-key.pem"),
		GatewayCert: j("gateway.pem"), GatewayKey: j("gateway-key.pem"),
		ClientCert: j("client.pem"), ClientKey: j("client-key.pem"),
		EdgeCert: j("edge.pem"), EdgeKey: j("edge-key.pem"),
	}
}

// Ensure returns the PKI of dataDir, creating the CA when absent and the
// certificates when absent or within 30 days of expiry. hosts are extra
// names (DNS or IP) the services' and edge certificates carry besides
// localhost, 127.0.0.1 and ::1.
func Ensure(dataDir string, hosts ...string) (Files, error) {
	f := Paths(dataDir)
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return f, err
	}
	ca, caKey, err := loadPair(f.CA, f.caKey)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return f, fmt.Errorf("devca: %w", err)
		}
		if ca, caKey, err = newCA(f); err != nil {
			return f, err
		}
	}
	names := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	leaves := []struct {
		cert, key, cn  string
		server, client bool
		names          []string
	}{
		{f.ServerCert, f.ServerKey, "casebridge-services", true, true, names},
		{f.GatewayCert, f.GatewayKey, rpc.GatewayIdentity, false, true, nil},
		{f.ClientCert, f.ClientKey, ClientIdentity, false, true, nil},
		{f.EdgeCert, f.EdgeKey, "casebridge-edge", true, false, names},
	}
	for _, l := range leaves {
		if c, _, err := loadPair(l.cert, l.key); err == nil && time.Until(c.NotAfter) > 30*24*time.Hour &&
			c.CheckSignatureFrom(ca) == nil {
			continue
		}
		if err := issue(ca, caKey, l.cert, l.key, l.cn, l.server, l.client, l.names); err != nil {
			return f, err
		}
	}
	return f, nil
}

func newCA(f Files) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Casebridge development CA", Organization: []string{"Casebridge (development)"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := write(f.CA, f.caKey, der, key); err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile, cn string, server, client bool, names []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Casebridge (development)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     []string{cn},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return write(certFile, keyFile, der, key)
}

func write(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func loadPair(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certFile, keyFile)
	}
	c, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return c, k, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
