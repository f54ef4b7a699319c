package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerConfig bounds what one HTTP connection may cost the edge. The
// timeouts suit JSON calls (small bodies, quick answers) and streamed
// exports, whose handler extends the write deadline chunk by chunk, so
// WriteTimeout bounds a stalled reader, not a long download.
type ServerConfig struct {
	// ReadHeaderTimeout bounds the TLS handshake and the request headers:
	// a connection that sends nothing is closed after it.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (bodies
	// are at most 1 MiB): a client that announces a body and stalls is cut.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (per chunk for exports).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection waiting for its next request.
	IdleTimeout time.Duration
	// MaxConnsPerClient caps concurrent connections from one client
	// address; more are closed on accept. 0 means no cap.
	MaxConnsPerClient int
	// TLS, when set, serves HTTPS (TLS 1.2+, HTTP/2 and HTTP/1.1).
	TLS *tls.Config
	// ErrorLog receives the server's own complaints (failed handshakes,
	// timed-out connections): expected under abuse, so logged at debug.
	ErrorLog *log.Logger
}

// DefaultServerConfig is the edge's default. A browser opens about six
// connections and the load tool sixteen; 256 per address leaves room for an
// agency's office behind one NAT address while one client cannot hold
// thousands of sockets.
var DefaultServerConfig = ServerConfig{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       30 * time.Second,
	MaxConnsPerClient: 256,
}

// WithDefaults fills zero durations from DefaultServerConfig (a negative
// MaxConnsPerClient turns the cap off).
func (c ServerConfig) WithDefaults() ServerConfig {
	d := DefaultServerConfig
	if c.ReadHeaderTimeout > 0 {
		d.ReadHeaderTimeout = c.ReadHeaderTimeout
	}
	if c.ReadTimeout > 0 {
		d.ReadTimeout = c.ReadTimeout
	}
	if c.WriteTimeout > 0 {
		d.WriteTimeout = c.WriteTimeout
	}
	if c.IdleTimeout > 0 {
		d.IdleTimeout = c.IdleTimeout
	}
	switch {
	case c.MaxConnsPerClient > 0:
		d.MaxConnsPerClient = c.MaxConnsPerClient
	case c.MaxConnsPerClient < 0:
		d.MaxConnsPerClient = 0
	}
	d.TLS, d.ErrorLog = c.TLS, c.ErrorLog
	return d
}

// EdgeTLS loads the HTTPS certificate: TLS 1.2 or later with Go's default
// (modern, forward-secret AEAD) suites, HTTP/2 offered first.
func EdgeTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("HTTPS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// NewServer returns the HTTP server for h and the listener to serve on:
// ln capped per client address, and wrapped in TLS when configured.
func NewServer(h http.Handler, ln net.Listener, cfg ServerConfig) (*http.Server, net.Listener) {
	cfg = cfg.WithDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          cfg.ErrorLog,
	}
	if cfg.MaxConnsPerClient > 0 {
		ln = &capListener{Listener: ln, max: cfg.MaxConnsPerClient, open: map[string]int{}}
	}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if len(tc.NextProtos) == 0 {
			tc.NextProtos = []string{"h2", "http/1.1"}
		}
		srv.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
	}
	return srv, ln
}

// capListener closes, on accept, a connection from an address that already
// holds max open ones. The TCP connection is the unit (before TLS), so a
// client cannot hold sockets by never finishing a handshake either.
type capListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := c.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		l.mu.Lock()
		if l.open[host] >= l.max {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, release: func() {
			l.mu.Lock()
			if l.open[host]--; l.open[host] <= 0 {
				delete(l.open, host)
			}
			l.mu.Unlock()
		}}, nil
	}
}

type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
