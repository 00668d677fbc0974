package logins

// The hand-written statements, for the test that holds them to the schema.
const (
	FindIdentitySQL   = findIdentitySQL
	ReturningLoginSQL = returningLoginSQL
	InsertUserSQL     = insertUserSQL
	InsertIdentitySQL = insertIdentitySQL
	InsertSessionSQL  = insertSessionSQL
)

// AfterRead runs f once inside s's next login's transaction, between
// its read of its identity and its writes. Not for concurrent logins, and
// on PostgreSQL only: on SQLite the login holds the single writer, so a
// write in f would wait for it forever (and nothing can come between).
func AfterRead(s *Service, f func()) {
	s.afterRead = func() {
		s.afterRead = nil
		f()
	}
}
