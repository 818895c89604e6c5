package backend

import (
	"context"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/s3"
	"github.com/recvault/recvault/catalog/postgres"
)

// openPostgres opens a PostgreSQL catalog; its errors already name the
// catalog without the password.
func openPostgres(ctx context.Context, rawURL string) (recvault.Catalog, error) {
	c, err := postgres.Open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// openS3 opens an S3 blob store; its errors already name the store
// without credentials.
func openS3(ctx context.Context, rawURL string) (recvault.BlobStore, error) {
	s, err := s3.Open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return s, nil
}
