// Package ctxio ties readers to a context, so that a long copy (an upload,
// a conversion) stops at the next buffer once its client is gone or the
// server shuts down.
package ctxio

import (
	"context"
	"io"
)

// Reader returns a reader that fails with ctx.Err() once ctx is done.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
