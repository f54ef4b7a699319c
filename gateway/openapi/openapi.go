// Package openapi embeds the OpenAPI (Swagger 2.0) description generated from
// the .proto files by protoc-gen-openapiv2; the gateway serves it at
// /openapi.json.
package openapi

import _ "embed"

// JSON is the merged OpenAPI document of every service.
//
//go:embed casebridge.swagger.json
var JSON []byte
