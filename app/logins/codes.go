package logins

// MaxCode is the longest code accepted, in bytes, from wx.login or from
// <button open-type="getPhoneNumber">: WeChat's are a few dozen
// characters. A longer one is refused before WeChat is called.
const MaxCode = 512

// CheckCode explains what is wrong with a code, or is "".
func CheckCode(code string) string {
	if len(code) > MaxCode {
		return "is too long"
	}
	return ""
}
