package openapitest

import "encoding/json"

// Answer is the callout's answer (POST /v1/post-login) as CONTRACT.md has it, decoded with a type
// of its own rather than webhook's, so that a wrong JSON tag in webhook fails the tests that read
// answers through it. It decodes loosely: Plays is nil where the answer says null (the count could
// not be read), and a list or object the answer leaves null stays nil.
type Answer struct {
	UserID       string          `json:"user_id"`
	Plays        *int64          `json:"plays"`
	Roles        []string        `json:"roles"`
	AppMetadata  map[string]any  `json:"app_metadata"`
	UserMetadata map[string]any  `json:"user_metadata"`
	WrittenBy    string          `json:"written_by"`
	Degraded     []string        `json:"degraded"`
	Raw          json.RawMessage `json:"-"` // the bytes it was decoded from
}

// DecodeAnswer decodes a callout answer's body, keeping the bytes in Raw.
func DecodeAnswer(body []byte) (Answer, error) {
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return Answer{}, err
	}
	a.Raw = body
	return a, nil
}

// PlaysAre reports whether the answer carries the count n (and not null).
func (a Answer) PlaysAre(n int64) bool { return a.Plays != nil && *a.Plays == n }

// String prints the answer as JSON, for failure messages.
func (a Answer) String() string {
	b, _ := json.Marshal(a)
	return string(b)
}
