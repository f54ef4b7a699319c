package rpc

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// nulField returns the JSON path of the first string field holding a NUL
// character, or "". PostgreSQL text cannot store NUL, so such input would
// otherwise fail at the database; it is refused up front for every message,
// which no per-field .proto rule could promise for fields added later.
func nulField(m protoreflect.Message) string {
	return findString(m, func(s string) bool { return strings.ContainsRune(s, 0) })
}
