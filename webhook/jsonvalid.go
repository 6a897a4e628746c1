package webhook

// validJSON reports whether b is one JSON value with nothing but space around it, exactly as
// encoding/json's Valid does, and why it exists: json.Valid runs encoding/json's scanner, a
// function call per byte, and checking the callout's claims and event with it was 13% of the
// edge's own CPU. This is the same grammar (RFC 8259, encoding/json's 10,000 levels of nesting;
// like json.Valid, it does not check UTF-8) read in a loop. FuzzValidJSON holds it to
// json.Valid on every input.
func validJSON(b []byte) bool {
	var small [64]byte // open brackets; a deeper value spills into the heap
	stack := small[:0]
	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) == maxJSONDepth {
				return false
			}
			stack = append(stack, c)
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closing(c) {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case '"':
			if i = scanString(b, i); i < 0 {
				return false
			}
		default:
			if i = scanScalar(b, i); i < 0 {
				return false
			}
		}
		// A value ended just before b[i].
		var done, ok bool
		if i, stack, done, ok = afterValue(b, i, stack); done || !ok {
			return done && ok
		}
	}
}

// afterValue reads what follows a value that ended just before b[i]: the brackets it closes, then
// a comma and, in an object, the next key. It returns where the next value starts; done when the
// outermost value has ended (ok: only space follows it); ok false for anything else.
func afterValue(b []byte, i int, stack []byte) (next int, rest []byte, done, ok bool) {
	for {
		i = skipSpace(b, i)
		if len(stack) == 0 {
			return i, stack, true, i == len(b)
		}
		if i >= len(b) {
			return i, stack, false, false
		}
		top := stack[len(stack)-1]
		if b[i] == closing(top) {
			stack = stack[:len(stack)-1]
			i++
			continue
		}
		if b[i] != ',' {
			return i, stack, false, false
		}
		i = skipSpace(b, i+1)
		if top == '{' {
			if i = objectKey(b, i); i < 0 {
				return i, stack, false, false
			}
		}
		return i, stack, false, true
	}
}

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

func closing(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// objectKey scans `"key" :` at b[i] and the space after it; -1 when it is not there.
func objectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// scanString returns the index just after the valid string whose quote is at b[i], else -1.
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanScalar returns the index just after the number, true, false or null at b[i], else -1.
func scanScalar(b []byte, i int) int {
	for _, lit := range [...]string{"true", "false", "null"} {
		if b[i] == lit[0] {
			if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
				return -1
			}
			return i + len(lit)
		}
	}
	return scanNumber(b, i)
}

// scanNumber returns the index just after the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return -1
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the index of the first non-digit at or after i.
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
