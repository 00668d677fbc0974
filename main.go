// Command miniauth is a WeChat mini program login backend in one binary.
// Run `miniauth --help` for its commands and settings.
package main

import "github.com/miniauth/miniauth/app/cli"

func main() { cli.Main() }
