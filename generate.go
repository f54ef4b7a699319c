// Package casebridge is the root of the Casebridge module. It holds no code;
// this file carries the one code-generation command:
//
//	go generate ./...
//
// which runs buf (pinned in tools/go.mod) to regenerate gen/ and
// gateway/openapi/ from proto/.
package casebridge

//go:generate go tool -modfile=tools/go.mod buf generate
//go:generate go tool -modfile=tools/go.mod buf lint
