package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SlowBodyOptions configure RunSlowBodies, the memory-exhaustion attack on the callout: many
// connections that send a token rulehook must refuse, declare a large body and dribble it.
type SlowBodyOptions struct {
	// Connections is the number of attacking connections held at once; half send
	// "Authorization: Bearer x", half a well-formed callout token signed with a wrong key.
	Connections int
	// BodyBytes is the Content-Length each declares (262,143 by default: one byte under
	// net/http's 256 KiB post-handler drain).
	BodyBytes int64
	// Hold is how long the attack lasts (Options.Duration when zero).
	Hold time.Duration
	// Dribble is the pause between two body bytes, and before reconnecting once rulehook has
	// answered and closed a connection. 500 ms when zero.
	Dribble time.Duration
	// LoginEvery paces the valid logins sent meanwhile, one at a time. 20 ms when zero.
	LoginEvery time.Duration
	// Deadline is the callout deadline a valid login must be answered within (2 s when zero).
	Deadline time.Duration
	// RSS, when set, reads the server's resident memory; it is sampled every 100 ms.
	RSS func() (int64, bool)
	// MaxRSS is the figure to stay under (64 MiB when zero); RunSlowBodies fails above it.
	MaxRSS int64
}

// SlowBodyReport is what RunSlowBodies measured.
type SlowBodyReport struct {
	Connections          int
	BodyBytes            int64
	Hold, Deadline       time.Duration
	Opened, Answered     int64
	Answers              map[int]int64 // status -> count, for the attacking connections
	Logins               Report        // the valid logins sent during the hold
	Late                 int64         // valid logins slower than Deadline or not answered 200
	BaselineRSS, PeakRSS int64
	MaxRSS               int64
}

func (o *SlowBodyOptions) defaults(hold time.Duration) {
	o.Connections = cmp0(o.Connections, 1000)
	o.BodyBytes = cmp0(o.BodyBytes, 262143)
	o.Hold = cmp0(o.Hold, hold)
	o.Dribble = cmp0(o.Dribble, 500*time.Millisecond)
	o.LoginEvery = cmp0(o.LoginEvery, 20*time.Millisecond)
	o.Deadline = cmp0(o.Deadline, 2*time.Second)
	o.MaxRSS = cmp0(o.MaxRSS, 64<<20)
}

func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// RunSlowBodies holds so.Connections slow-body connections against o.URL for so.Hold while it
// sends valid logins one at a time, and samples the server's memory. It returns an error when
// the memory peak reaches so.MaxRSS or a valid login was late or refused. Only o.URL is
// contacted, and everything ends after the hold.
func RunSlowBodies(ctx context.Context, o Options, so SlowBodyOptions) (SlowBodyReport, error) {
	so.defaults(o.Duration)
	o.Duration = so.Hold
	o, err := o.withDefaults()
	if err != nil {
		return SlowBodyReport{}, err
	}
	u, _ := url.Parse(o.URL)
	if u.Scheme != "http" {
		return SlowBodyReport{}, fmt.Errorf("%w: the slow-body attack speaks plain http only", ErrOptions)
	}
	rep := SlowBodyReport{Connections: so.Connections, BodyBytes: so.BodyBytes, Hold: so.Hold,
		Deadline: so.Deadline, MaxRSS: so.MaxRSS, Answers: map[int]int64{}}
	if so.RSS != nil {
		rep.BaselineRSS, _ = so.RSS()
	}
	ctx, cancel := context.WithTimeout(ctx, so.Hold)
	defer cancel()

	a := &attack{addr: u.Host, so: so, bearer: []string{"x", wrongKeyToken(o)}}
	var wg sync.WaitGroup
	for i := range so.Connections {
		wg.Go(func() { a.hold(ctx, a.bearer[i%2]) })
	}
	peak := make(chan int64, 1)
	go func() { peak <- sampleRSS(ctx, so.RSS) }()
	logins, late, err := validLogins(ctx, o, so)
	wg.Wait()
	rep.PeakRSS = max(<-peak, rep.BaselineRSS)
	rep.Opened, rep.Answered, rep.Logins, rep.Late = a.opened.Load(), a.answered.Load(), logins, late
	a.mu.Lock()
	for k, v := range a.answers {
		rep.Answers[k] = v
	}
	a.mu.Unlock()
	switch {
	case err != nil:
		return rep, err
	case rep.PeakRSS >= so.MaxRSS:
		return rep, fmt.Errorf("bench: rulehook's resident memory reached %.1f MiB (limit %.0f MiB)", mib(rep.PeakRSS), mib(so.MaxRSS))
	case late > 0:
		return rep, fmt.Errorf("bench: %d valid logins were refused or slower than %s during the attack", late, so.Deadline)
	}
	return rep, nil
}

// wrongKeyToken is a callout token of the Action's exact shape, fresh claims included, signed
// with a key rulehook does not hold.
func wrongKeyToken(o Options) string {
	users, _ := buildUsers(1)
	sg, err := newSigner([]byte("not-the-callout-secret-"+strings.Repeat("x", 32)), o.Issuer, o.Audience, users)
	if err != nil {
		return "x"
	}
	tok, err := sg.sign(0)
	if err != nil {
		return "x"
	}
	return tok
}

type attack struct {
	addr             string
	so               SlowBodyOptions
	bearer           []string
	opened, answered atomic.Int64
	mu               sync.Mutex
	answers          map[int]int64
}

// hold keeps one slow-body connection open until ctx ends, reconnecting after an answer.
func (a *attack) hold(ctx context.Context, token string) {
	for ctx.Err() == nil {
		status := a.once(ctx, token)
		if status > 0 {
			a.answered.Add(1)
			a.mu.Lock()
			if a.answers == nil {
				a.answers = map[int]int64{}
			}
			a.answers[status]++
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(a.so.Dribble):
		}
	}
}

// once sends the headers and dribbles the body until rulehook answers, the connection fails or
// ctx ends. It returns the answer's status, or 0.
func (a *attack) once(ctx context.Context, token string) int {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", a.addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	a.opened.Add(1)
	head := "POST /v1/post-login HTTP/1.1\r\nHost: " + a.addr + "\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.FormatInt(a.so.BodyBytes, 10) + "\r\n\r\n{"
	if _, err := io.WriteString(conn, head); err != nil {
		return 0
	}
	br := bufio.NewReaderSize(conn, 512)
	for sent := int64(1); ctx.Err() == nil; {
		conn.SetReadDeadline(time.Now().Add(a.so.Dribble))
		line, err := br.ReadString('\n')
		if err == nil {
			return statusOf(line)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return 0 // closed without an answer
		}
		if sent < a.so.BodyBytes {
			if _, err := conn.Write([]byte{' '}); err != nil {
				return 0
			}
			sent++
		}
	}
	return 0
}

func statusOf(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// sampleRSS returns the largest figure rss reported every 100 ms until ctx ends.
func sampleRSS(ctx context.Context, rss func() (int64, bool)) int64 {
	if rss == nil {
		return 0
	}
	var peak int64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if v, ok := rss(); ok {
			peak = max(peak, v)
		}
		select {
		case <-ctx.Done():
			return peak
		case <-t.C:
		}
	}
}

// validLogins sends signed callouts one at a time every so.LoginEvery until ctx ends. Each gets
// its own budget of so.Deadline (it does not end with the hold).
func validLogins(ctx context.Context, o Options, so SlowBodyOptions) (Report, int64, error) {
	users, err := buildUsers(o.Users)
	if err != nil {
		return Report{}, 0, err
	}
	sg, err := newSigner(o.Secret, o.Issuer, o.Audience, users)
	if err != nil {
		return Report{}, 0, err
	}
	client, owned := o.client()
	if owned {
		defer client.CloseIdleConnections()
	}
	r := &runner{o: o, client: client}
	t := r.calloutTarget(sg)
	rec := &recorder{}
	var late int64
	begin := time.Now()
	for seq := uint64(0); ctx.Err() == nil; seq++ {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), so.Deadline)
		start := time.Now()
		out := r.do(rctx, t, seq)
		lat := time.Since(start)
		cancel()
		rec.add(true, lat, out)
		if out.err != nil || out.status != 200 || lat > so.Deadline {
			late++
		}
		select {
		case <-ctx.Done():
		case <-time.After(so.LoginEvery):
		}
	}
	rec.elapsed = time.Since(begin)
	return rec.report("valid logins during the attack", fmt.Sprintf("one at a time, every %s", so.LoginEvery)), late, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// Print writes the report in plain lines.
func (r SlowBodyReport) Print(w io.Writer) {
	fmt.Fprintf(w, "slow bodies: %d connections (half \"Bearer x\", half a well-formed token with a wrong key), each declaring %d bytes and dribbling them, for %s\n",
		r.Connections, r.BodyBytes, r.Hold)
	fmt.Fprintf(w, "  connections opened %d, answered %d: %s\n", r.Opened, r.Answered, fmtAnswers(r.Answers))
	l := r.Logins
	fmt.Fprintf(w, "  valid logins meanwhile: %d sent, %d refused or slower than %s; p50 %s  p99 %s  max %s\n",
		l.Requests, r.Late, r.Deadline, fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.Max))
	if r.PeakRSS > 0 {
		fmt.Fprintf(w, "  rulehook resident memory: %.1f MiB before, peak %.1f MiB during the attack (limit %.0f MiB)\n",
			mib(r.BaselineRSS), mib(r.PeakRSS), mib(r.MaxRSS))
	}
}

func fmtAnswers(m map[int]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%d x%d", code, n))
	}
	return strings.Join(parts, ", ")
}
