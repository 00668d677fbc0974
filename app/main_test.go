package app_test

import (
	"os"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apptest.RemoveBinary()
	os.Exit(code)
}
