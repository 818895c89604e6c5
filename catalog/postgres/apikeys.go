package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/recvault/recvault"
)

const apiKeyCols = `id, name, key_hash, role, campaigns, agent_id, inspects, hosts, created_at, last_used, revoked`

// jsonText encodes a key's list the way the SQLite catalog stores it: a nil
// list is "null" and an empty one "[]", so each reads back as it was.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode api key list: %w", err)
	}
	return string(b), nil
}

// CreateAPIKey stores k and sets k.ID.
func (c *DB) CreateAPIKey(ctx context.Context, k *recvault.APIKey) error {
	var lists [3]string
	for i, v := range []any{k.Campaigns, k.Inspects, k.Hosts} {
		s, err := jsonText(v)
		if err != nil {
			return fmt.Errorf("create api key: %w", err)
		}
		lists[i] = s
	}
	err := c.pool.QueryRow(ctx, `INSERT INTO api_keys (name, key_hash, role, campaigns, agent_id, inspects, hosts, created_at, last_used, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, k.Name, k.KeyHash, string(k.Role), lists[0], k.AgentID,
		lists[1], lists[2], nanos(k.CreatedAt), nanos(k.LastUsed), k.Revoked).Scan(&k.ID)
	if isUnique(err) {
		return recvault.Errorf(recvault.ECONFLICT, "an API key named %s exists", k.Name)
	} else if err != nil {
		return fail("create api key", err)
	}
	return nil
}

func scanAPIKey(row pgx.Row) (*recvault.APIKey, error) {
	var k recvault.APIKey
	var role, campaigns, inspects, hosts string
	var created, used int64
	if err := row.Scan(&k.ID, &k.Name, &k.KeyHash, &role, &campaigns, &k.AgentID, &inspects, &hosts, &created, &used, &k.Revoked); err != nil {
		return nil, err
	}
	k.Role = recvault.Role(role)
	k.CreatedAt, k.LastUsed = fromNanos(created), fromNanos(used)
	for _, p := range []struct {
		s string
		v any
	}{{campaigns, &k.Campaigns}, {inspects, &k.Inspects}, {hosts, &k.Hosts}} {
		if err := json.Unmarshal([]byte(p.s), p.v); err != nil {
			return nil, fmt.Errorf("api key %s: %w", k.Name, err)
		}
	}
	return &k, nil
}

// APIKeyByHash returns ENOTFOUND for an unknown key.
func (c *DB) APIKeyByHash(ctx context.Context, hash string) (*recvault.APIKey, error) {
	if !storable(hash) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "api key not found")
	}
	k, err := scanAPIKey(c.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE key_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "api key not found")
	} else if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKeys lists every key by name.
func (c *DB) APIKeys(ctx context.Context) ([]*recvault.APIKey, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*recvault.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// UpdateAPIKey stores k's revoked flag and last use.
func (c *DB) UpdateAPIKey(ctx context.Context, k *recvault.APIKey) error {
	tag, err := c.pool.Exec(ctx, `UPDATE api_keys SET revoked = $1, last_used = $2 WHERE id = $3`, k.Revoked, nanos(k.LastUsed), k.ID)
	if err != nil {
		return fmt.Errorf("update api key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "api key not found")
	}
	return nil
}
