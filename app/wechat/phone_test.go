package wechat

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechatsim"
)

func TestPhoneNumberSendsOpenID(t *testing.T) {
	f := newFixture(t, nil)
	code := f.sim.NewPhoneCode("5551234567", "1")
	p, err := f.client.PhoneNumber(t.Context(), code, "openid-42")
	if err != nil {
		t.Fatal(err)
	}
	if *p != (Phone{PhoneNumber: "+15551234567", PurePhoneNumber: "5551234567", CountryCode: "1"}) {
		t.Fatalf("got %+v", p)
	}
	if got := f.sim.PhoneCodeOpenID(code); got != "openid-42" {
		t.Fatalf("openid sent = %q", got)
	}
}

func TestPhoneCodeSingleUse(t *testing.T) {
	f := newFixture(t, nil)
	code := f.sim.NewPhoneCode("13800000000", "86")
	if _, err := f.client.PhoneNumber(t.Context(), code, ""); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.PhoneNumber(t.Context(), code, "")
	if p := Problem(err); p.Code != problem.InvalidCode {
		t.Fatalf("second use: %v", err)
	}
}

func TestPhoneCountryCodeAsString(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.CountryCodeAsString = true
	p, err := f.bind(t, "13800000000")
	if err != nil || p.CountryCode != "86" {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func TestPhoneWatermarkChecked(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.WatermarkAppID = "wx_someone_else"
	_, err := f.bind(t, "13800000000")
	if !errors.Is(err, ErrWatermark) {
		t.Fatalf("got %v, want ErrWatermark", err)
	}
	if p := Problem(err); p.Code != problem.WeChatUnavailable {
		t.Fatalf("maps to %s", p.Code)
	}
}

func TestPhoneNotRetriedOnBusy(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: CodeSystemBusy})
	_, err := f.bind(t, "13800000000")
	if p := Problem(err); p.Code != problem.WeChatUnavailable {
		t.Fatalf("got %v", err)
	}
	if n := f.sim.Calls(wechatsim.PathPhoneNumber); n != 1 {
		t.Fatalf("phone calls = %d: a single-use code must not be retried", n)
	}
}

func TestLooseString(t *testing.T) {
	for in, want := range map[string]string{`86`: "86", `"86"`: "86", `null`: "", `1.5`: "1.5", `"+1"`: "+1"} {
		var s looseString
		if err := json.Unmarshal([]byte(in), &s); err != nil || string(s) != want {
			t.Errorf("%s → %q, %v; want %q", in, s, err, want)
		}
	}
	for _, in := range []string{`true`, `{}`, `[86]`} {
		var s looseString
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%s accepted as %q", in, s)
		}
	}
}

// The development simulator (`go run .` without credentials) answers the
// token and phone endpoints too, with any phone code.
func TestDevelopmentSimulatorAnswersEveryEndpoint(t *testing.T) {
	sim := wechatsim.NewDevelopment()
	c := New(Options{BaseURL: "http://wechat-simulator.invalid", AppID: sim.AppID, Secret: sim.Secret, Transport: sim.Transport()})
	s, err := c.Code2Session(t.Context(), "any-login-code")
	if err != nil || s.OpenID != wechatsim.DevOpenID("any-login-code") {
		t.Fatalf("code2session: %+v %v", s, err)
	}
	p, err := c.PhoneNumber(t.Context(), "any-phone-code", s.OpenID)
	if err != nil || p.PurePhoneNumber != wechatsim.DevPhone("any-phone-code") || p.CountryCode != "86" {
		t.Fatalf("phone: %+v %v", p, err)
	}
	data, iv, err := wechatsim.EncryptData(s.SessionKey, sim.AppID, map[string]any{"openGId": "g"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(s.SessionKey, data, iv); err != nil {
		t.Fatalf("decrypt: %v", err)
	}
}

func TestPhoneCodeBoundToAnotherOpenID(t *testing.T) {
	f := newFixture(t, nil)
	code := f.sim.NewPhoneCodeFor("openid-owner", "13800000000", "86")
	_, err := f.client.PhoneNumber(t.Context(), code, "openid-thief")
	var we *Error
	if !errors.As(err, &we) || we.Code != CodeInvalidOpenID {
		t.Fatalf("redeemed with another openid: %v, want errcode 40003", err)
	}
	if _, err := f.client.PhoneNumber(t.Context(), code, "openid-owner"); err != nil {
		t.Fatalf("owner: %v", err)
	}
}
