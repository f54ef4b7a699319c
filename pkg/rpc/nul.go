package rpc

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// nulField returns the JSON path of the first string field holding a NUL
// character, or "". PostgreSQL text cannot store NUL, so such input would
// otherwise fail at the database; it is refused up front for every message,
// which no per-field .proto rule could promise for fields added later.
func nulField(m protoreflect.Message) string {
	var found string
	var walk func(prefix string, m protoreflect.Message) bool
	walk = func(prefix string, m protoreflect.Message) bool {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			name := prefix + fd.JSONName()
			switch {
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					p := fmt.Sprintf("%s[%d]", name, i)
					if fd.Kind() == protoreflect.StringKind && strings.ContainsRune(l.Get(i).String(), 0) {
						found = p
						return false
					}
					if fd.Kind() == protoreflect.MessageKind && !walk(p+".", l.Get(i).Message()) {
						return false
					}
				}
			case fd.IsMap():
				// No map fields in the API.
			case fd.Kind() == protoreflect.StringKind:
				if strings.ContainsRune(v.String(), 0) {
					found = name
					return false
				}
			case fd.Kind() == protoreflect.MessageKind:
				return walk(name+".", v.Message())
			}
			return true
		})
		return found == ""
	}
	walk("", m)
	return found
}
