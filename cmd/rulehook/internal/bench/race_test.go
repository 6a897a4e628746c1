//go:build race

package bench

// raceEnabled: the race detector slows both ends of a loopback run about tenfold.
const raceEnabled = true
