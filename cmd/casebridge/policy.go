package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/pkg/authz"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Validate or print authorization policies",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file (exit status 1 names the first bad line)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pol, err := authz.LoadPolicyFile(args[0])
			if err != nil {
				return err
			}
			if _, err := authz.NewEngine(pol); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d rules, %d role inheritances)\n", args[0], len(pol.Rules), len(pol.Inherits))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the embedded default policy (a starting point for --policy)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), authz.DefaultPolicyText())
		},
	})
	return cmd
}
