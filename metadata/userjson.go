package metadata

import (
	"bytes"
	"encoding/json"
	"io"
)

// Names of the user object's members that DecodeUser reads.
const (
	userIDMember       = "user_id"
	appMetadataMember  = "app_metadata"
	userMetadataMember = "user_metadata"
)

// DecodeUser decodes an Auth0 user object (the answer of GET /api/v2/users/{id}, one user of the
// listing or of a users export) into a User. Every key is matched exactly, as Auth0 stores it
// (CONTRACT rule 7): "User_Id" is not user_id, "App_Metadata" is not app_metadata, and inside the
// metadata "Roles" is not roles (encoding/json would match struct fields case-insensitively, so no
// struct is used). Numbers are kept exact (json.Number), other members are ignored.
//
// It returns an error wrapping ErrInvalid when data is not one JSON object, user_id is absent or
// not a non-empty string, or app_metadata or user_metadata is present and neither an object nor null (a
// body no tenant sends, which the caller must not act on).
func DecodeUser(data []byte) (User, error) {
	var members map[string]json.RawMessage
	if err := decodeExact(data, &members); err != nil || members == nil {
		return User{}, invalidf("user: not a JSON object")
	}
	var u User
	raw, ok := members[userIDMember]
	if !ok || json.Unmarshal(raw, &u.ID) != nil || u.ID == "" {
		return User{}, invalidf("user: user_id is absent, empty or not a string")
	}
	var err error
	if u.AppMetadata, err = decodeObject(appMetadataMember, members[appMetadataMember]); err != nil {
		return User{}, err
	}
	if u.UserMetadata, err = decodeObject(userMetadataMember, members[userMetadataMember]); err != nil {
		return User{}, err
	}
	return u, nil
}

// decodeObject decodes a metadata member: nil when absent or null, an error unless an object.
func decodeObject(name string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := decodeExact(raw, &m); err != nil || m == nil {
		return nil, invalidf("user: %s is not an object", name)
	}
	return m, nil
}

// decodeExact decodes one JSON value into v with exact numbers, refusing trailing data.
func decodeExact(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return invalidf("trailing data after the JSON value")
	}
	return nil
}
