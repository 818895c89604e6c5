package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/recvault/recvault"
)

const apiKeyCols = `id, name, key_hash, role, campaigns, agent_id, inspects, hosts, created_at, last_used, revoked`

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// CreateAPIKey stores k and sets k.ID.
func (c *DB) CreateAPIKey(ctx context.Context, k *recvault.APIKey) error {
	res, err := c.w.ExecContext(ctx, `INSERT INTO api_keys (name, key_hash, role, campaigns, agent_id, inspects, hosts, created_at, last_used, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.Name, k.KeyHash, string(k.Role), jsonText(k.Campaigns), k.AgentID,
		jsonText(k.Inspects), jsonText(k.Hosts), nanos(k.CreatedAt), nanos(k.LastUsed), k.Revoked)
	if isUnique(err) {
		return recvault.Errorf(recvault.ECONFLICT, "an API key named %s exists", k.Name)
	} else if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	k.ID, err = res.LastInsertId()
	return err
}

func scanAPIKey(sc scanner) (*recvault.APIKey, error) {
	var k recvault.APIKey
	var role, campaigns, inspects, hosts string
	var created, used int64
	if err := sc.Scan(&k.ID, &k.Name, &k.KeyHash, &role, &campaigns, &k.AgentID, &inspects, &hosts, &created, &used, &k.Revoked); err != nil {
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
	k, err := scanAPIKey(c.db.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "api key not found")
	} else if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKeys lists every key by name.
func (c *DB) APIKeys(ctx context.Context) ([]*recvault.APIKey, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*recvault.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// UpdateAPIKey stores k's revoked flag and last use.
func (c *DB) UpdateAPIKey(ctx context.Context, k *recvault.APIKey) error {
	res, err := c.w.ExecContext(ctx, `UPDATE api_keys SET revoked = ?, last_used = ? WHERE id = ?`, k.Revoked, nanos(k.LastUsed), k.ID)
	if err != nil {
		return fmt.Errorf("update api key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "api key not found")
	}
	return nil
}
