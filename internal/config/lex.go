package config

import (
	"fmt"
	"strings"
)

// maxLineArgs is HAProxy's MAX_LINE_ARGS: a line holds at most 64 words.
const maxLineArgs = 64

// lexError is a tokenizer failure at a byte offset of the line.
type lexError struct {
	msg string
	pos int // 0-based byte offset in the line
	// tooMany: more than maxLineArgs words; the first ones are returned.
	tooMany bool
}

func (e *lexError) Error() string {
	return fmt.Sprintf("%s at position %d", e.msg, e.pos+1)
}

// splitLine cuts one configuration line into words the way HAProxy 2.6's
// parse_line() does (src/tools.c): blanks separate words, '#' outside quotes
// starts a comment, a backslash escapes ' ', '\\', '#', quotes, '$' (inside
// double quotes) and encodes \t \n \r \xHH (other pairs are kept as is, for
// regexes); single quotes are fully literal; "$VAR", "${VAR}",
// "${VAR-default}" and "${VAR[*]}" are expanded only inside double quotes.
// The default replaces an unset variable, not an empty one; "[*]" splits
// the value into several words on blanks. A quoted empty string is an
// (empty) word.
func splitLine(line string, env func(string) (string, bool)) ([]string, error) {
	var (
		args     []string
		cur      []byte
		inWord   bool
		squote   bool
		dquote   bool
		quotePos int
	)
	emitWord := func() {
		args = append(args, string(cur))
		cur = cur[:0]
		inWord = false
	}
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '#' && !squote && !dquote:
			i = len(line)
			continue
		case c == '\\' && !squote:
			inWord = true
			var next byte
			if i+1 < len(line) {
				next = line[i+1]
			}
			switch next {
			case ' ', '\\', '#', '\'', '"':
				cur = append(cur, next)
				i += 2
			case 't':
				cur = append(cur, '\t')
				i += 2
			case 'n':
				cur = append(cur, '\n')
				i += 2
			case 'r':
				cur = append(cur, '\r')
				i += 2
			case '$':
				if dquote {
					cur = append(cur, '$')
					i += 2
				} else {
					cur = append(cur, '\\')
					i++
				}
			case 'x':
				if i+3 < len(line) && isHex(line[i+2]) && isHex(line[i+3]) {
					cur = append(cur, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 4
				} else {
					return nil, &lexError{msg: "truncated or invalid hexadecimal sequence", pos: i}
				}
			default:
				cur = append(cur, '\\')
				i++
			}
		case c == '"' && !squote:
			inWord = true
			if !dquote {
				quotePos = i
			}
			dquote = !dquote
			i++
		case c == '\'' && !dquote:
			inWord = true
			if !squote {
				quotePos = i
			}
			squote = !squote
			i++
		case c == '$' && dquote:
			start := i
			i++
			brace := false
			if i < len(line) && line[i] == '{' {
				brace = true
				i++
			}
			if i >= len(line) || !(isAlpha(line[i]) || line[i] == '_') {
				return nil, &lexError{msg: "forbidden first char in environment variable name", pos: i}
			}
			ns := i
			for i < len(line) && (isAlnum(line[i]) || line[i] == '_') {
				i++
			}
			name := line[ns:i]
			value, ok := env(name)
			expand := false
			if brace && i < len(line) && line[i] == '[' {
				if strings.HasPrefix(line[i:], "[*]") {
					expand = true
					i += 3
				} else {
					return nil, &lexError{msg: "unsupported word expansion", pos: i}
				}
			}
			if brace {
				if i < len(line) && line[i] == '-' {
					end := strings.IndexByte(line[i:], '}')
					if end < 0 {
						return nil, &lexError{msg: "unmatched brace in environment variable name", pos: start + 1}
					}
					if !ok {
						value, ok = line[i+1:i+end], true
					}
					i += end
				}
				if i >= len(line) || line[i] != '}' {
					return nil, &lexError{msg: "unmatched brace in environment variable name", pos: start + 1}
				}
				i++
			}
			inWord = true
			if !ok {
				continue
			}
			if !expand {
				cur = append(cur, value...)
				continue
			}
			for j := 0; j < len(value); {
				if isSpace(value[j]) {
					emitWord()
					inWord = true
					for j < len(value) && isSpace(value[j]) {
						j++
					}
					continue
				}
				cur = append(cur, value[j])
				j++
			}
		case !squote && !dquote && isSpace(c):
			if inWord {
				emitWord()
			}
			i++
		default:
			inWord = true
			cur = append(cur, c)
			i++
		}
	}
	if squote || dquote {
		return nil, &lexError{msg: "unmatched quote", pos: quotePos}
	}
	if inWord {
		emitWord()
	}
	if len(args) > maxLineArgs {
		return args[:maxLineArgs], &lexError{msg: fmt.Sprintf("too many words, truncating after word %d", maxLineArgs), pos: len(line) - 1, tooMany: true}
	}
	return args, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
