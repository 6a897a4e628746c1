package bench

import (
	"testing"
	"time"
)

func TestTimetable(t *testing.T) {
	begin := time.Unix(0, 0)
	for _, rate := range []int64{1, 3, 7, 400, 1000, 999_983, 1_000_000} {
		tt := timetable{begin: begin, rate: rate}
		for _, i := range []int64{0, 1, rate - 1, rate, 3*rate + 1, 3600 * rate} {
			off := tt.at(i).Sub(begin)
			if want := time.Duration(i * int64(time.Second) / rate); rate <= 1000 && off != want {
				t.Errorf("rate %d: at(%d) = %v; want %v", rate, i, off, want)
			}
			if got := tt.first(off); got != i {
				t.Errorf("rate %d: first(at(%d)) = %d; want %d", rate, i, got, i)
			}
			if i > 0 && tt.at(i-1).Sub(begin) < off {
				if got := tt.first(off - 1); got != i {
					t.Errorf("rate %d: first(at(%d)-1ns) = %d; want %d", rate, i, got, i)
				}
			}
		}
	}
	if got, want := (timetable{begin: begin, rate: 400}).first(time.Second+100*time.Millisecond), int64(440); got != want {
		t.Errorf("requests due in 1.1s at 400/s = %d; want %d", got, want)
	}
}
