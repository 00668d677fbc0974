package sessions

// AuthenticateSQL is the hand-written statement, for the test that
// holds it to the schema.
const AuthenticateSQL = authenticateSQL
