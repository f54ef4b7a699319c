// Command casebridge is the one Casebridge binary: `serve` runs services
// and/or the gateway (--target), `dev` runs everything with a private
// PostgreSQL and the demo world, `migrate` manages the schema, `version`
// prints the build.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "casebridge:", err)
		os.Exit(1)
	}
}
