//go:build !unix

package cli

// restrictUmask has nothing to do where there is no umask.
func restrictUmask() {}
