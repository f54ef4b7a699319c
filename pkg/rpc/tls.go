package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// GatewayIdentity is the name a client certificate carries (as its subject
// common name or a DNS subject alternative name) to be trusted as the
// gateway: only such a peer may forward a client's address, user agent and
// purpose (CJIS §5.10.1.2: the services trust no one else's word for who
// the client is).
const GatewayIdentity = "casebridge-gateway"

// ServerTLS is the TLS configuration of the services' gRPC port: their
// certificate, and — mutual TLS — every client must present a certificate
// signed by the CA in clientCAFile. TLS 1.2 or later, Go's modern suites.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" || clientCAFile == "" {
		return nil, errors.New("gRPC TLS needs --grpc-tls-cert, --grpc-tls-key and --grpc-client-ca")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gRPC server certificate: %w", err)
	}
	pool, err := loadPool(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("--grpc-client-ca: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"h2"},
	}, nil
}

// ClientTLS is the TLS configuration with which a process (the gateway, or
// a service calling another) reaches the services: it verifies their
// certificate against serverCAFile and presents its own certificate.
func ClientTLS(certFile, keyFile, serverCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" || serverCAFile == "" {
		return nil, errors.New("gRPC client TLS needs --grpc-client-cert, --grpc-client-key and a CA (--grpc-server-ca or --grpc-client-ca)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gRPC client certificate: %w", err)
	}
	pool, err := loadPool(serverCAFile)
	if err != nil {
		return nil, fmt.Errorf("gRPC server CA: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// PeerIdentities returns the names of the verified client certificate of
// the call's peer (subject common name and DNS names), or nil when the peer
// presented none (plaintext, or TLS without a verified chain).
func PeerIdentities(ctx context.Context) []string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	leaf := ti.State.VerifiedChains[0][0]
	return append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
}

// forwardedKeys are the metadata a trusted gateway sets on a client's
// behalf; from anyone else they are replaced.
var forwardedKeys = []string{"x-forwarded-for", "x-forwarded-user-agent", "grpcgateway-user-agent", "x-forwarded-host", hopHeader}

// hopHeader marks a call one service makes to another on a caller's behalf
// (ForwardIdentity); it is only believed from a trusted peer.
const hopHeader = "x-casebridge-hop"

// trustForwarded keeps the forwarded client metadata of a peer whose
// certificate names one of trusted; for any other peer it drops it and
// records what the connection itself shows: its address and its own
// user-agent. Running first in the chain, it makes every later step (the
// audit record, and rpc.ForwardIdentity on calls to other services) see
// only values the gateway vouched for. x-purpose is the caller's own
// statement and passes either way.
func trustForwarded(ctx context.Context, trusted []string) context.Context {
	if slices.ContainsFunc(PeerIdentities(ctx), func(n string) bool { return slices.Contains(trusted, n) }) {
		return ctx
	}
	md, _ := metadata.FromIncomingContext(ctx)
	md = md.Copy()
	for _, k := range forwardedKeys {
		md.Delete(k)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host := p.Addr.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		md.Set("x-forwarded-for", host)
	}
	if ua := md.Get("user-agent"); len(ua) > 0 {
		md.Set("x-forwarded-user-agent", ua[0])
	}
	return metadata.NewIncomingContext(ctx, md)
}
