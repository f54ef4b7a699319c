package app_test

import (
	"context"
	"encoding/json"
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

	// Every service in its own process, each reaching the others at
	// reserved ports, as a Deployment per service would.
	ups := map[string]string{}
	for _, target := range app.Targets() {
		if target == "all" || target == "gateway" {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ups[target] = l.Addr().String()
		require.NoError(t, l.Close())
	}
	for target, addr := range ups {
		svc, err := app.Start(ctx, app.Config{Target: target, GRPCAddr: addr, DatabaseURL: url,
			DataDir: dataDir, DevIssuer: true, PublicURL: public, Upstreams: ups})
		require.NoError(t, err, target)
		defer func() { _ = svc.Shutdown(ctx) }()
	}

	gw, err := app.Start(ctx, app.Config{Target: "gateway", HTTPAddr: httpAddr, DataDir: dataDir, DevIssuer: true, Upstreams: ups})
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
	var created struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Listing participants crosses services: cases asks the directory
	// (liaison) for agency names over gRPC, with the caller's identity.
	req, _ = http.NewRequest("GET", public+"/v1/cases/"+created.ID+"/participants", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var parts struct {
		Participants []struct{ AgencyOri string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&parts))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, parts.Participants, 1)
	require.Equal(t, "CTCSP0000", parts.Participants[0].AgencyOri)

	resp, err = http.Get(public + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
