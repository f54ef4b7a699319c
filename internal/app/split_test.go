package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// TestSplitTargets runs the cases service and the gateway as separate
// processes would (--target=cases, --target=gateway) and drives the API
// through them.
func TestSplitTargets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	_, err = demo.Seed(ctx, pool)
	require.NoError(t, err)

	// Reserve the gateway's port so the services know the issuer URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dataDir := t.TempDir()
	public := "http://" + httpAddr

	// The cases service reaches the directory (liaison) at a fixed port
	// reserved the same way.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dirAddr := ln2.Addr().String()
	require.NoError(t, ln2.Close())

	svc, err := app.Start(ctx, app.Config{Target: "cases", GRPCAddr: "127.0.0.1:0", DatabaseURL: url,
		DataDir: dataDir, DevIssuer: true, PublicURL: public, Upstreams: map[string]string{"liaison": dirAddr}})
	require.NoError(t, err)
	defer func() { _ = svc.Shutdown(ctx) }()

	dir, err := app.Start(ctx, app.Config{Target: "liaison", GRPCAddr: dirAddr, DatabaseURL: url,
		DataDir: dataDir, DevIssuer: true, PublicURL: public})
	require.NoError(t, err)
	defer func() { _ = dir.Shutdown(ctx) }()

	gw, err := app.Start(ctx, app.Config{Target: "gateway", HTTPAddr: httpAddr, DataDir: dataDir, DevIssuer: true,
		Upstreams: map[string]string{"cases": svc.GRPCAddr(), "liaison": dir.GRPCAddr()}})
	require.NoError(t, err)
	defer func() { _ = gw.Shutdown(ctx) }()
	require.Empty(t, gw.GRPCAddr())

	iss, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	tok, err := iss.Mint(devissuer.IssuerURL(public), "det.alvarez@csp.example", "det.alvarez@csp.example", time.Hour)
	require.NoError(t, err)
	req, _ := http.NewRequest("POST", public+"/v1/cases", strings.NewReader(`{"title":"split"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Get(public + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
