package main

import "context"

// open resolves the storage flags and opens the app on them: what every
// operator command does first.
func (f *storeFlags) open(ctx context.Context, o appOptions) (*app, error) {
	loc, err := f.locations()
	if err != nil {
		return nil, err
	}
	return openApp(ctx, loc, o)
}
