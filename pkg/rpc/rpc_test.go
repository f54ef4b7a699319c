package rpc

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buf.build/go/protovalidate"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

func TestJSONPath(t *testing.T) {
	t.Parallel()
	require.Equal(t, "case.estimatedLoss.currencyCode", jsonPath("case.estimated_loss.currency_code"))
	require.Equal(t, "case.assignedInvestigatorIds[0]", jsonPath("case.assigned_investigator_ids[0]"))
}

func TestNULFieldFindsNestedStrings(t *testing.T) {
	t.Parallel()
	require.Empty(t, nulField((&casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: "ok"}}).ProtoReflect()))
	require.Equal(t, "case.title", nulField((&casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: "a\x00b"}}).ProtoReflect()))
	require.Equal(t, "case.affectedJurisdictions[1]", nulField((&casesv1.CreateCaseRequest{Case: &casesv1.Case{
		Title: "ok", AffectedJurisdictions: []string{"Hartford", "x\x00"}}}).ProtoReflect()))
}

func TestValidationStatusNamesFields(t *testing.T) {
	t.Parallel()
	err := protovalidate.Validate(&casesv1.CreateCaseRequest{Case: &casesv1.Case{Title: " ", Summary: "s"}, RequestId: "nope"})
	require.Error(t, err)
	st := status.Convert(ValidationStatus(err))
	require.Equal(t, codes.InvalidArgument, st.Code())
	var fields []string
	for _, d := range st.Details() {
		for _, v := range d.(*errdetails.BadRequest).GetFieldViolations() {
			fields = append(fields, v.GetField())
		}
	}
	require.ElementsMatch(t, []string{"requestId", "case.title"}, fields)
}

func TestStreamsOtherThanInfrastructureAreRefused(t *testing.T) {
	t.Parallel()
	guard := infrastructureStreamsOnly()
	called := 0
	handler := func(any, grpc.ServerStream) error { called++; return nil }
	err := guard(nil, nil, &grpc.StreamServerInfo{FullMethod: "/casebridge.cases.v1.CaseService/WatchCases"}, handler)
	require.Equal(t, codes.Unimplemented, status.Code(err))
	require.Zero(t, called)
	require.NoError(t, guard(nil, nil, &grpc.StreamServerInfo{FullMethod: "/grpc.health.v1.Health/Watch"}, handler))
	require.NoError(t, guard(nil, nil, &grpc.StreamServerInfo{FullMethod: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"}, handler))
	require.Equal(t, 2, called)
}
