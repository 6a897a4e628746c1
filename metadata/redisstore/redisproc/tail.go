package redisproc

import "sync"

// tail keeps the last tailSize bytes written to it.
type tail struct {
	mu      sync.Mutex
	buf     []byte
	dropped int
}

const tailSize = 32 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped += over
	}
	return len(p), nil
}

// Len returns how many bytes were ever written.
func (t *tail) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped + len(t.buf)
}

// Since returns what was written after the first mark bytes, as far as it is kept.
func (t *tail) Since(mark int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := max(mark-t.dropped, 0)
	return string(t.buf[i:])
}

func (t *tail) String() string { return t.Since(0) }
