package logins

// The hand-written statements, for the test that holds them to the schema.
const (
	ReturningLoginSQL = returningLoginSQL
)

// AfterHint runs f once between s's next login's read of its identity
// and its write. Not for concurrent logins.
func AfterHint(s *Service, f func()) {
	s.afterHint = func() {
		s.afterHint = nil
		f()
	}
}
