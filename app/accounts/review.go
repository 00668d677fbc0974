package accounts

// Kinds of review items (ent/schema/reviewitem.go).
const (
	ReviewNickname = "nickname"
	ReviewAvatar   = "avatar"
)
