package deployaction

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strings"

	"github.com/rulehook/rulehook/actions"
)

// fingerprintPrefix starts the comment line appended to the deployed code. The version tag lets a
// later release change the scheme: an unknown or missing tag reads as "secrets differ".
const fingerprintPrefix = "// rulehook deploy-action: secrets fingerprint v1 "

// fingerprint is a hex HMAC-SHA256 over every secret name and value, keyed with CALLOUT_SECRET.
// Auth0 never returns secret values, so this is how a later run tells whether they changed. It is
// stored in the Action's code, which anyone with read:actions can see: keyed with the (required,
// >= 32 byte) callout secret, it lets nobody test a guess of any value, however guessable that
// value is (FAILURE_POLICY=open), without already holding the callout secret.
func fingerprint(secrets map[string]string) string {
	mac := hmac.New(sha256.New, []byte(secrets[actions.SecretCalloutSecret]))
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		writeField(mac, name)
		writeField(mac, secrets[name])
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// writeField writes s length-prefixed, so that no two different sets hash the same input.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// deployedCode is the code deployed for source and secrets: the source, then the fingerprint line.
func deployedCode(source, fp string) string {
	return withNewline(source) + fingerprintPrefix + fp + "\n"
}

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// splitCode undoes deployedCode: the source and the fingerprint, "" when the code has none (an
// Action created or edited by hand).
func splitCode(code string) (source, fp string) {
	body := strings.TrimSuffix(code, "\n")
	i := strings.LastIndex(body, "\n"+fingerprintPrefix)
	if i < 0 {
		return code, ""
	}
	return body[:i+1], body[i+1+len(fingerprintPrefix):]
}
