package logins

// The hand-written statements, for the test that holds them to the schema.
const (
	ReturningLoginSQL = returningLoginSQL
)

// AfterHint runs f once between the next login's read of its identity
// and its write.
func AfterHint(f func()) {
	testHookAfterHint = func() {
		testHookAfterHint = nil
		f()
	}
}
