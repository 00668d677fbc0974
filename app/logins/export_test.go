package logins

// The hand-written statements, for the test that holds them to the schema.
const (
	ReturningLoginSQL = returningLoginSQL
)
