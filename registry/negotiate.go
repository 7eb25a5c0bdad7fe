package registry

// Content negotiation as Confluent's JAX-RS resources do it: responses in
// one of three JSON media types chosen from Accept (q-values honoured, the
// choice echoed in Content-Type), 406 when Accept allows none of them;
// request bodies in those types or application/octet-stream (what a
// request without Content-Type is taken to be), 415 otherwise, decoded
// from the charset they name.

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
)

// responseTypes are the media types answers come in, in the server's
// order of preference (Confluent's PREFERRED_RESPONSE_TYPES).
var responseTypes = []string{contentType, "application/vnd.schemaregistry+json", "application/json"}

// requestTypes are the media types a body may have.
var requestTypes = []string{contentType, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream"}

// responseType picks the answer's media type from the Accept header; ok is
// false when Accept allows none of responseTypes.
func responseType(req *http.Request) (string, bool) {
	accept := strings.TrimSpace(strings.Join(req.Header.Values("Accept"), ","))
	if accept == "" {
		return contentType, true
	}
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		typ, sub, _ := strings.Cut(mt, "/")
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		ranges = append(ranges, rng{typ, sub, q})
	}
	best, bestQ := "", 0.0
	for _, t := range responseTypes {
		typ, sub, _ := strings.Cut(t, "/")
		q, spec := 0.0, -1 // the most specific matching range decides
		for _, r := range ranges {
			s := -1
			switch {
			case r.typ == typ && r.sub == sub:
				s = 2
			case r.typ == typ && r.sub == "*":
				s = 1
			case r.typ == "*" && r.sub == "*":
				s = 0
			}
			if s >= 0 && (s > spec || (s == spec && r.q > q)) {
				q, spec = r.q, s
			}
		}
		if q > bestQ {
			best, bestQ = t, q
		}
	}
	return best, best != ""
}

// negotiate checks Accept and, for requests with a body, Content-Type, and
// decodes a body in another charset to UTF-8. It returns the error to
// answer with, if any.
func negotiate(req *http.Request) *Error {
	if _, ok := responseType(req); !ok {
		return &Error{Code: http.StatusNotAcceptable, Message: "HTTP 406 Not Acceptable"}
	}
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		return nil
	}
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	unsupported := &Error{Code: http.StatusUnsupportedMediaType, Message: "HTTP 415 Unsupported Media Type"}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupported
	}
	known := false
	for _, t := range requestTypes {
		known = known || mt == t
	}
	if !known {
		return unsupported
	}
	cs := strings.ToLower(params["charset"])
	switch cs {
	case "", "utf-8", "utf8", "us-ascii":
		return nil
	case "utf-16", "utf-16be", "utf-16le", "iso-8859-1", "latin1":
	default:
		return unsupported
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return &Error{Code: http.StatusRequestEntityTooLarge, Message: "The request body could not be read: " + err.Error()}
	}
	utf8Body := decodeCharset(cs, body)
	req.Body = io.NopCloser(bytes.NewReader(utf8Body))
	req.ContentLength = int64(len(utf8Body))
	// What is forwarded to the leader is UTF-8 now, and says so.
	req.Header.Set("Content-Type", mt+"; charset=utf-8")
	return nil
}

// decodeCharset converts UTF-16 (with or without a byte-order mark; big
// endian by default, as RFC 2781 says) or Latin-1 to UTF-8.
func decodeCharset(cs string, b []byte) []byte {
	if cs == "iso-8859-1" || cs == "latin1" {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return []byte(string(r))
	}
	little := cs == "utf-16le"
	if cs == "utf-16" && len(b) >= 2 {
		switch {
		case b[0] == 0xFF && b[1] == 0xFE:
			little, b = true, b[2:]
		case b[0] == 0xFE && b[1] == 0xFF:
			b = b[2:]
		}
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if little {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		} else {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	return []byte(string(utf16.Decode(u)))
}
