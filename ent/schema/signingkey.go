package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// SigningKey is an asymmetric key that signs users' access tokens when
// MINIAUTH_JWT_ALG is ES256 or EdDSA (app/keys). It lives in the database
// so that every instance signs with, and publishes, the same keys.
type SigningKey struct {
	ent.Schema
}

// Fields of the SigningKey.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		// kid is the key's RFC 7638 thumbprint, named in every token it signs.
		field.String("kid").NotEmpty().Immutable().Unique(),
		field.String("alg").NotEmpty().Immutable(),
		// public_key is PKIX DER; private_key is PKCS #8 DER sealed with a
		// key derived from the server secret: a database dump alone signs
		// nothing.
		field.Bytes("public_key").Immutable(),
		field.Bytes("private_key").Immutable().Sensitive(),
		// signing is the algorithm while this key is its signer and NULL
		// after a rotation: the unique index leaves one signer per
		// algorithm even when several instances start at once.
		field.String("signing").Optional().Nillable().Unique(),
		field.Time("created_at").Immutable().Default(nowUTC),
		// retires_at is when a rotated-out key leaves the published set:
		// after the last token it signed has expired.
		field.Time("retires_at").Optional().Nillable(),
	}
}
