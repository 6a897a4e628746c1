package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// The callout's answer is written by hand into a pooled buffer rather than through c.JSON, and
// why: c.JSON parses the query string (for ?pretty), builds a json.Encoder and walks the answer
// by reflection, several allocations on the path every refresh takes. The bytes are exactly
// what c.JSON writes (HTML-safe escaping, a trailing newline); TestAnswerMatchesEncodingJSON
// and FuzzAnswer hold them to it. Anything unusual (a non-empty patch, a string that needs
// escaping) is encoded by encoding/json, inside the same buffer.

var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// jsonContentType is shared by every answer; net/http never modifies header values.
var jsonContentType = []string{echo.MIMEApplicationJSON}

// writeAnswer writes resp with status 200.
func writeAnswer(c echo.Context, resp *loginResponse) error {
	bp := answerPool.Get().(*[]byte)
	defer answerPool.Put(bp)
	b, err := appendAnswer((*bp)[:0], resp)
	if err != nil {
		return err
	}
	if cap(b) <= maxPooledBody {
		*bp = b[:0]
	}
	if c.Request().URL.RawQuery != "" || c.Echo().Debug {
		// ?pretty and debug indent: leave them to echo, which indents the same bytes.
		return c.JSON(http.StatusOK, json.RawMessage(bytes.Clone(b[:len(b)-1])))
	}
	w := c.Response()
	w.Header()[echo.HeaderContentType] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// appendAnswer appends the JSON of resp and a newline, as json.Encoder.Encode writes it.
func appendAnswer(b []byte, r *loginResponse) ([]byte, error) {
	var err error
	b = append(b, `{"user_id":`...)
	b = appendString(b, r.UserID)
	b = append(b, `,"plays":`...)
	b = r.Plays.appendJSON(b)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, r.Roles)
	b = append(b, `,"app_metadata":`...)
	if b, err = appendObject(b, r.AppMetadata); err != nil {
		return nil, err
	}
	b = append(b, `,"user_metadata":`...)
	if b, err = appendObject(b, r.UserMetadata); err != nil {
		return nil, err
	}
	b = append(b, `,"written_by":`...)
	b = appendString(b, r.WrittenBy)
	b = append(b, `,"degraded":`...)
	b = appendStrings(b, r.Degraded)
	return append(b, "}\n"...), nil
}

func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	switch {
	case m == nil:
		return append(b, "null"...), nil
	case len(m) == 0:
		return append(b, "{}"...), nil
	}
	js, err := json.Marshal(m)
	return append(b, js...), err
}

// appendString appends s as a JSON string. Printable ASCII that encoding/json leaves as it is
// is copied; anything else is encoded by encoding/json (HTML-safe, invalid UTF-8 replaced).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			js, _ := json.Marshal(s) // a string always encodes
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
