package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// checkpointVersion is the layout of the saved state; a checkpoint of another version is refused.
const checkpointVersion = 1

// saveTimeout bounds a checkpoint save made after the run's context is done, so that a write that
// finished is still recorded.
const saveTimeout = 5 * time.Second

// state is where a run is: the page it works on (with an export, the chunk of PerPage users of
// the job's file) and, for that page, the users whose write has started (inFlight) and those
// handled (done). It is what the checkpoint holds.
type state struct {
	runID    string
	page     int
	perPage  int
	started  time.Time
	done     map[string]bool
	inFlight map[string]bool
	source   string // SourceList or SourceExport; "" until chosen (and in older checkpoints)
	jobID    string // the users-export job read, with SourceExport
}

type savedState struct {
	Version  int       `json:"v"`
	RunID    string    `json:"run_id"`
	Page     int       `json:"page"`
	PerPage  int       `json:"per_page"`
	Started  time.Time `json:"started"`
	Done     []string  `json:"done,omitempty"`
	InFlight []string  `json:"in_flight,omitempty"`
	Source   string    `json:"source,omitempty"`
	JobID    string    `json:"job_id,omitempty"`
}

func newState(perPage int, now time.Time) state {
	return state{runID: newRunID(now), perPage: perPage, started: now,
		done: map[string]bool{}, inFlight: map[string]bool{}}
}

// next moves to the following page, which has no user handled yet.
func (s *state) next() {
	s.page++
	s.done = map[string]bool{}
	s.inFlight = map[string]bool{}
}

func (s *state) encode() string {
	b, _ := json.Marshal(savedState{ // only strings, ints and a time: cannot fail
		Version: checkpointVersion, RunID: s.runID, Page: s.page, PerPage: s.perPage, Started: s.started,
		Done:     slices.Sorted(maps.Keys(s.done)),
		InFlight: slices.Sorted(maps.Keys(s.inFlight)),
		Source:   s.source, JobID: s.jobID,
	})
	return string(b)
}

func decodeState(raw string) (state, error) {
	var v savedState
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return state{}, fmt.Errorf("%w: checkpoint is not readable: %w", metadata.ErrInvalid, err)
	}
	switch {
	case v.Version != checkpointVersion:
		return state{}, fmt.Errorf("%w: checkpoint version %d, want %d", metadata.ErrInvalid, v.Version, checkpointVersion)
	case v.Source != "" && v.Source != SourceList && v.Source != SourceExport:
		return state{}, fmt.Errorf("%w: checkpoint source %q is not one", metadata.ErrInvalid, v.Source)
	case v.Page < 0, v.PerPage < 1, v.PerPage > MaxPerPage:
		return state{}, fmt.Errorf("%w: checkpoint at page %d of %d users is out of range", metadata.ErrInvalid, v.Page, v.PerPage)
	}
	s := state{runID: v.RunID, page: v.Page, perPage: v.PerPage, started: v.Started, source: v.Source, jobID: v.JobID,
		done: make(map[string]bool, len(v.Done)), inFlight: make(map[string]bool, len(v.InFlight))}
	for _, id := range v.Done {
		s.done[id] = true
	}
	for _, id := range v.InFlight {
		s.inFlight[id] = true
	}
	return s, nil
}

// load returns the state to start from: the checkpoint's, or a new one (resumed false).
func (r *runner) load(ctx context.Context) (state, bool, error) {
	fresh := newState(r.opts.PerPage, r.now())
	if r.opts.DryRun {
		return fresh, false, nil
	}
	cp := r.deps.Checkpoints
	if r.opts.Restart {
		if err := cp.ClearCheckpoint(ctx, r.opts.Name); err != nil {
			return state{}, false, fmt.Errorf("reconcile: clear checkpoint %q: %w", r.opts.Name, err)
		}
		return fresh, false, nil
	}
	raw, err := cp.Checkpoint(ctx, r.opts.Name)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		return fresh, false, nil
	case err != nil:
		return state{}, false, fmt.Errorf("reconcile: read checkpoint %q: %w", r.opts.Name, err)
	case raw == "":
		return fresh, false, nil
	}
	s, err := decodeState(raw)
	if err != nil {
		return state{}, false, fmt.Errorf("reconcile: checkpoint %q (start over with Restart): %w", r.opts.Name, err)
	}
	return s, true, nil
}

// saveLocked writes the state to the checkpoint; r.mu must be held, so that saves reach the store
// in the order the state changed.
func (r *runner) saveLocked(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
	}
	if err := r.deps.Checkpoints.SetCheckpoint(ctx, r.opts.Name, r.st.encode()); err != nil {
		return fmt.Errorf("reconcile: save checkpoint %q: %w", r.opts.Name, err)
	}
	return nil
}

// newRunID names a run in the audit trail's request ids: "reconcile-<UTC time>-<random>".
func newRunID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "reconcile-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
