package main

import (
	"context"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
)

// openStateStore opens a state named by URL: postgres:// or postgresql://
// (from --state or state: in the config file). ok is false when spec is
// not such a URL, and the caller opens it as a file. A read-only open of a
// database where nothing has run yet reads as empty, as a missing file does.
func openStateStore(ctx context.Context, spec string, readOnly bool) (st redeliver.Store, ok bool, err error) {
	if !postgres.IsURL(spec) {
		return nil, false, nil
	}
	pg, err := postgres.Open(ctx, spec, postgres.Options{ReadOnly: readOnly})
	if readOnly && redeliver.ErrorCode(err) == redeliver.ENotFound {
		return emptyStore{}, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	return pg, true, nil
}
