package mgmttest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// reservedAppMetadata are the names Auth0 refuses at the top of app_metadata. The list is the
// emulator's own copy (not rulehook's) so that tests check rulehook against Auth0.
var reservedAppMetadata = map[string]bool{
	"__tenant": true, "_id": true, "blocked": true, "clientID": true, "created_at": true,
	"email_verified": true, "email": true, "globalClientID": true, "global_client_id": true,
	"identities": true, "lastIP": true, "lastLogin": true, "loginsCount": true, "metadata": true,
	"multifactor_last_modified": true, "multifactor": true, "updated_at": true, "user_id": true,
}

// checkMetadata validates one metadata object of a request body: it must be an object, no key at
// any depth may contain '.' or '$', and app_metadata may not use a reserved name. It returns the
// object, or the message of Auth0's 400.
func checkMetadata(field string, v any) (map[string]any, string) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Sprintf("Payload validation error: 'Expected type object but found type %s' on property %s.",
			jsonType(v), field)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if field == "app_metadata" && reservedAppMetadata[k] {
			return nil, fmt.Sprintf("Payload validation error: 'The name %q is reserved and cannot be used in app_metadata' on property app_metadata.", k)
		}
	}
	if path, bad := badKey(field, m); bad {
		return nil, fmt.Sprintf("Payload validation error: 'Invalid property name %s: names may not contain \".\" or \"$\"' on property %s.",
			path, field)
	}
	return m, ""
}

// badKey finds a key containing '.' or '$' anywhere under v and returns its path.
func badKey(path string, v any) (string, bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if strings.ContainsAny(k, ".$") {
				return fmt.Sprintf("%q under %s", k, path), true
			}
			if p, bad := badKey(path+"."+k, t[k]); bad {
				return p, true
			}
		}
	case []any:
		for i, child := range t {
			if p, bad := badKey(fmt.Sprintf("%s[%d]", path, i), child); bad {
				return p, true
			}
		}
	}
	return "", false
}

// mergeMetadata applies a PATCH's metadata object to the stored one the way Auth0 does: {} wipes
// the object; otherwise the merge is one level deep: a stored key the patch does not name is kept,
// a key it names takes the patch's value whole (arrays and nested objects are not merged into),
// and a key it names with null is gone. The result is never nil.
func mergeMetadata(stored, patch map[string]any) map[string]any {
	out := make(map[string]any, len(stored)+len(patch))
	if len(patch) == 0 {
		return out
	}
	for k, v := range stored {
		if _, named := patch[k]; !named {
			out[k] = v
		}
	}
	for k, v := range patch {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
