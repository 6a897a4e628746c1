// Package testkit holds the helpers that the tests of every package share: waiting for an event,
// a bound for a latency the product promises, and a buffer that goroutines may write at once.
//
// It is for tests only: no product code imports it. It imports only the standard library, so any
// package of the module may use it in its tests (metadata's rule holds).
//
// A test waits for the event it checks, never for a fixed time, and asserts no tight latency:
// this code runs on machines shared with other work, where a goroutine may wait seconds for a CPU.
// Latency is measured by `rulehook bench`, not by tests.
package testkit
