//go:build cgo

package database

/*
#include <malloc.h>

static void limitArenas(int n) {
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, n);
#endif
}
*/
import "C"

import "os"

// mallocArenas bounds glibc's malloc arenas, from which SQLite takes its
// page caches and statements. glibc gives each thread that calls into C
// under contention an arena of its own, up to eight per core, and each
// keeps its free memory: in the bench's login flood the server's peak
// RSS was 81 MiB with the default and 77 MiB with two. An operator's
// MALLOC_ARENA_MAX wins.
const mallocArenas = 2

func init() {
	if os.Getenv("MALLOC_ARENA_MAX") == "" {
		C.limitArenas(mallocArenas)
	}
}
