package metadata

import "strings"

// reservedAppMetadata are the names Auth0 refuses as top-level app_metadata keys.
var reservedAppMetadata = map[string]bool{
	"__tenant": true, "_id": true, "blocked": true, "clientID": true, "created_at": true,
	"email_verified": true, "email": true, "globalClientID": true, "global_client_id": true,
	"identities": true, "lastIP": true, "lastLogin": true, "loginsCount": true, "metadata": true,
	"multifactor_last_modified": true, "multifactor": true, "updated_at": true, "user_id": true,
}

// IsReservedAppMetadataKey reports whether Auth0 reserves name at the top of app_metadata.
func IsReservedAppMetadataKey(name string) bool { return reservedAppMetadata[name] }

// ValidKey reports whether name may be used as a metadata key at any depth: not empty and without
// '.' or '$', which Auth0 rejects.
func ValidKey(name string) bool {
	return name != "" && !strings.ContainsAny(name, ".$")
}

// validateKeys checks every key of v, recursively, with ValidKey.
func validateKeys(path string, v any) error {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if !ValidKey(k) {
				return invalidf("key %q under %s: keys may not be empty or contain '.' or '$'", k, path)
			}
			if err := validateKeys(path+"."+k, child); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range t {
			if err := validateKeys(path+"[]", child); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxJTIBytes bounds a callout token's jti: the edge refuses a longer one, and the store keeps
// it as part of a Redis key.
const MaxJTIBytes = 256
