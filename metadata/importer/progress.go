package importer

import (
	"fmt"
	"io"
	"time"
)

// Intervals of the progress line.
const (
	terminalEvery = 250 * time.Millisecond
	// DefaultProgressEvery is how often a plain progress line is written when the output is not
	// a terminal.
	DefaultProgressEvery = 5 * time.Second
)

// meter writes the progress of one kind: rows done, rows per second and, when the total is
// known, the time left. On a terminal it rewrites one line; elsewhere it writes a plain line
// every few seconds. A nil *meter writes nothing.
type meter struct {
	w     io.Writer
	term  bool
	every time.Duration
	now   func() time.Time

	kind        Kind
	total, rows int64
	start, last time.Time
	shown       bool
}

func newMeter(w io.Writer, term bool, every time.Duration, now func() time.Time) *meter {
	if w == nil {
		return nil
	}
	if term {
		every = terminalEvery
	}
	return &meter{w: w, term: term, every: every, now: now}
}

func (m *meter) begin(kind Kind, total int64) {
	if m == nil {
		return
	}
	m.kind, m.total, m.rows, m.shown = kind, total, 0, false
	m.start = m.now()
	m.last = m.start
}

// tick counts one row; it looks at the clock once every 256 rows.
func (m *meter) tick() {
	if m == nil {
		return
	}
	m.rows++
	if m.rows%256 != 0 {
		return
	}
	if now := m.now(); now.Sub(m.last) >= m.every {
		m.last = now
		m.show(now)
	}
}

func (m *meter) end() {
	if m == nil || !m.term || !m.shown {
		return
	}
	m.show(m.now())
	fmt.Fprintln(m.w)
}

func (m *meter) show(now time.Time) {
	m.shown = true
	elapsed := now.Sub(m.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(m.rows) / elapsed
	}
	line := fmt.Sprintf("%s: %d rows, %.0f rows/s", m.kind, m.rows, rate)
	if m.total > 0 {
		line = fmt.Sprintf("%s: %d of %d rows, %.0f rows/s", m.kind, m.rows, m.total, rate)
		if left := m.total - m.rows; rate > 0 && left > 0 {
			line += fmt.Sprintf(", ETA %s", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
	}
	if m.term {
		fmt.Fprintf(m.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(m.w, line)
}
