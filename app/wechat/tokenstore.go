package wechat

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/wechattoken"
)

// DBTokenStore keeps the access token in the WeChatToken table, sealed
// with a key derived from the server secret (the database is no place for
// a live credential in clear), so every instance and restart shares it.
type DBTokenStore struct {
	DB   *database.DB
	Keys *keys.Set
}

// LoadToken implements TokenStore.
func (s *DBTokenStore) LoadToken(ctx context.Context, name string) (string, time.Time, error) {
	row, err := s.DB.Read.WeChatToken.Query().Where(wechattoken.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", time.Time{}, ErrNoToken
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("load %s: %w", name, err)
	}
	v, err := s.open(row.Value)
	if err != nil {
		// Sealed under another server secret: as good as absent.
		return "", time.Time{}, ErrNoToken
	}
	return v, row.ExpiresAt, nil
}

// SaveToken implements TokenStore.
func (s *DBTokenStore) SaveToken(ctx context.Context, name, value string, expiresAt time.Time) error {
	sealed := base64.StdEncoding.EncodeToString(s.Keys.Seal([]byte(value)))
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.WeChatToken.Create().
			SetName(name).
			SetValue(sealed).
			SetExpiresAt(expiresAt.UTC()).
			SetUpdatedAt(time.Now().UTC()).
			OnConflictColumns(wechattoken.FieldName).
			UpdateNewValues().
			Exec(ctx)
	})
}

// DeleteToken implements TokenStore: the row goes only if it still holds
// value. Sealing is randomised, so the comparison is made on the opened
// value inside the write transaction.
func (s *DBTokenStore) DeleteToken(ctx context.Context, name, value string) error {
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		row, err := tx.WeChatToken.Query().Where(wechattoken.Name(name)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", name, err)
		}
		if v, err := s.open(row.Value); err == nil && v != value {
			return nil
		}
		return tx.WeChatToken.DeleteOneID(row.ID).Exec(ctx)
	})
}

func (s *DBTokenStore) open(sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	plain, err := s.Keys.Open(raw)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
