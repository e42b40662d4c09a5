package mock

import (
	"context"

	"github.com/redeliver/redeliver"
)

// PaceStore wraps a redeliver.PaceStore; a set function field replaces
// the method of the same name.
type PaceStore struct {
	redeliver.PaceStore
	PaceFn    func(ctx context.Context, apiHost string) ([]redeliver.Window, bool, error)
	SetPaceFn func(ctx context.Context, apiHost string, windows []redeliver.Window) error
}

// Pace calls PaceFn or the wrapped PaceStore.
func (s *PaceStore) Pace(ctx context.Context, apiHost string) ([]redeliver.Window, bool, error) {
	if s.PaceFn != nil {
		return s.PaceFn(ctx, apiHost)
	}
	return s.PaceStore.Pace(ctx, apiHost)
}

// SetPace calls SetPaceFn or the wrapped PaceStore.
func (s *PaceStore) SetPace(ctx context.Context, apiHost string, windows []redeliver.Window) error {
	if s.SetPaceFn != nil {
		return s.SetPaceFn(ctx, apiHost, windows)
	}
	return s.PaceStore.SetPace(ctx, apiHost, windows)
}
