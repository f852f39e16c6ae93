// Package match is a small matcher for secret patterns (protocol.md §6.2, §6.3): `*` is one
// component, `**` zero or more. Our own code, used by the go-stack plugin's static store.
package match

import "strings"

// Valid reports whether s is a valid pattern (§6.2, HEAD grammar with ':').
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range strings.Split(s, "/") {
		if c == "" {
			return false
		}
		stars := strings.Count(c, "*")
		if stars > 2 || (stars > 0 && stars != len(c)) {
			return false
		}
		for _, r := range c {
			if !(r == '*' || r == '.' || r == '_' || r == '-' || r == ':' ||
				(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
				return false
			}
		}
	}
	return true
}

// Match reports whether id matches pattern.
func Match(pattern, id string) bool {
	return match(strings.Split(pattern, "/"), strings.Split(id, "/"))
}

func match(p, id []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "**":
			if len(p) == 1 {
				return true
			}
			for skip := 0; skip <= len(id); skip++ {
				if match(p[1:], id[skip:]) {
					return true
				}
			}
			return false
		case "*":
			if len(id) == 0 {
				return false
			}
		default:
			if len(id) == 0 || (id[0] != p[0] && id[0] != "*") {
				return false
			}
		}
		p, id = p[1:], id[1:]
	}
	return len(id) == 0
}
