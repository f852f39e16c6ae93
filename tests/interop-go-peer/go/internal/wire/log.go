package wire

import (
	"io"
	"strings"
	"sync"
)

// LogLines is the yamux LogOutput: it keeps every line (yamux logs only problems, every one of
// them at error level in Docker's engine, protocol.md §2.2) and copies it to an optional writer.
type LogLines struct {
	mu    sync.Mutex
	lines []string
	part  string
	Tee   io.Writer
}

func (l *LogLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := l.part + string(b)
	parts := strings.Split(text, "\n")
	l.part = parts[len(parts)-1]
	for _, line := range parts[:len(parts)-1] {
		if line != "" {
			l.lines = append(l.lines, line)
		}
	}
	if l.Tee != nil {
		_, _ = l.Tee.Write(b)
	}
	return len(b), nil
}

// Lines returns the lines logged so far.
func (l *LogLines) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string{}, l.lines...)
	if l.part != "" {
		out = append(out, l.part)
	}
	return out
}
