package reports_test

import (
	"testing"

	"github.com/casebridge/casebridge/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
