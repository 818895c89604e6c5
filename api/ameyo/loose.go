package ameyo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseLoose reads the object notations Ameyo clients put in query
// parameters: strict JSON ({"callId":"x"}), single-quoted or unquoted keys
// and values ({callId:'x'}, {'callId':'x'}), and the form of the vendor's
// own example, {callId%x}, where '%' stands between key and value. Values
// come back as strings (numbers and booleans as their text).
func parseLoose(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	if len(s) > 8192 {
		return nil, errors.New("too long")
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(s), &js); err == nil {
		if len(js) == 0 {
			return nil, errors.New("empty object")
		}
		out := map[string]string{}
		for k, v := range js {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				out[k] = strconv.FormatBool(v)
			case nil:
				out[k] = ""
			default:
				return nil, fmt.Errorf("value of %s is not a string", k)
			}
		}
		return out, nil
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errors.New("not an object in braces")
	}
	inner := s[1 : len(s)-1]
	out := map[string]string{}
	for _, pair := range splitOutsideQuotes(inner, ',') {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := cutOutsideQuotes(pair)
		if !ok {
			return nil, fmt.Errorf("%q has no key/value separator", pair)
		}
		key, err := unquote(strings.TrimSpace(k))
		if err != nil || key == "" {
			return nil, fmt.Errorf("bad key in %q", pair)
		}
		val, err := unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("bad value in %q", pair)
		}
		out[key] = val
	}
	if len(out) == 0 {
		return nil, errors.New("empty object")
	}
	return out, nil
}

// splitOutsideQuotes splits s on sep where sep is not inside '…' or "…".
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	var q byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// cutOutsideQuotes splits a pair at its first ':' outside quotes, else at
// its first '%' or '=' (the vendor's example uses '%').
func cutOutsideQuotes(pair string) (string, string, bool) {
	for _, sep := range []byte{':', '%', '='} {
		parts := splitOutsideQuotes(pair, sep)
		if len(parts) >= 2 {
			return parts[0], pair[len(parts[0])+1:], true
		}
	}
	return "", "", false
}

func unquote(s string) (string, error) {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"') {
		var v string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return "", err
		}
		return v, nil
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], `\'`, `'`), nil
	}
	if strings.ContainsAny(s, `"'{}`) {
		return "", errors.New("stray quote or brace")
	}
	return s, nil
}

// rawParam returns the undecoded value of the first query parameter named
// name. Ameyo's example sends filters={callId%d741-…} raw with curl
// --globoff: "%d7" is then a valid escape for a byte that was never meant,
// so the raw text must be kept beside the decoded one.
func rawParam(rawQuery, name string) (string, bool) {
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name || k == name {
			return v, true
		}
	}
	return "", false
}

// looseParam parses a query parameter holding a loose object: first as
// form-decoded text (URL-encoded JSON, '+' for spaces), then, if that is not
// a valid object, as the raw text.
func looseParam(rawQuery, name string) (map[string]string, error) {
	raw, ok := rawParam(rawQuery, name)
	if !ok || raw == "" {
		return nil, errMissing
	}
	var firstErr error
	if dec, err := url.QueryUnescape(raw); err == nil && utf8.ValidString(dec) {
		m, err := parseLoose(dec)
		if err == nil {
			return m, nil
		}
		firstErr = err
	}
	if m, err := parseLoose(raw); err == nil {
		return m, nil
	} else if firstErr == nil {
		firstErr = err
	}
	return nil, firstErr
}

var errMissing = errors.New("missing")
