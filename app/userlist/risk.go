package userlist

import (
	"strconv"

	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/user"
)

// RiskUnknown is the risk filter of users the sign-up risk gate let in
// because WeChat could not rate them (flagged).
const RiskUnknown = "unknown"

// RiskChoices are the values of the users table's risk filter: WeChat's
// getUserRiskRank at sign-up, or unknown.
var RiskChoices = []string{"0", "1", "2", "3", "4", RiskUnknown}

// validRisk reports whether r is a risk filter ("" is none).
func validRisk(r string) bool {
	for _, c := range RiskChoices {
		if r == c {
			return true
		}
	}
	return false
}

// riskFilter is the risk filter's predicate (nil: none).
func riskFilter(r string) predicate.User {
	if r == RiskUnknown {
		return user.RiskFlagged(true)
	}
	if n, err := strconv.Atoi(r); err == nil && validRisk(r) {
		return user.RiskRank(n)
	}
	return nil
}
