package admin_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/handlers/admin"
)

// rawStatus sends the request head, announcing a body of length bytes,
// and the body's first byte (the server streams bodies and looks at a
// request once one byte is in), then reads the status the server answers
// with before the rest of the body is sent.
func rawStatus(t *testing.T, base, method, path string, length int, extra string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n%s\r\n%s",
		method, path, strings.TrimPrefix(base, "http://"), length, extra, firstByte(length, extra))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s with a %d-byte body announced: no answer before the body: %v", method, path, length, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// firstByte is the first byte of a body of length bytes, held back when
// the client waits for 100 Continue.
func firstByte(length int, extra string) string {
	if length == 0 || strings.Contains(extra, "100-continue") {
		return ""
	}
	return "a"
}

// An admin URL refuses a body over a few KiB as soon as it is announced,
// whatever the URL's spelling; other routes keep their own limits.
func TestAdminBodyRefusedBeforeReading(t *testing.T) {
	p := startPanel(t, apptest.Options{})
	for _, path := range []string{"/admin/login", "/ADMIN/LOGIN", "/admin/login/", "/admin/users/1/disable", "/admin", "/admin/logout?x=1", "/admin/nope"} {
		if got := rawStatus(t, p.URL, "POST", path, 8<<20, ""); got != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with 8 MiB announced: %d, want 413 before the body", path, got)
		}
	}
	if got := rawStatus(t, p.URL, "GET", "/admin/", admin.MaxFormBody+1, ""); got != http.StatusRequestEntityTooLarge {
		t.Errorf("GET /admin/ with a body: %d, want 413", got)
	}
	// The avatar route is not capped (its own 2 MiB limit answers later).
	if got := rawStatus(t, p.URL, "POST", "/administrator", 8<<20, "Expect: 100-continue\r\n"); got == http.StatusRequestEntityTooLarge {
		t.Errorf("a non-admin path got the admin cap")
	}
}

// A form with many fields is refused before it is parsed, and costs no
// throttle count; a hundred at once all get 400.
func TestAdminFormFieldsLimited(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		many := "username=" + adminName + "&password=wrong" + strings.Repeat("&a", 2000)
		post := func(body, ctype string) *apptest.Response {
			return p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true, Body: body,
				Header: map[string]string{"Content-Type": ctype}})
		}
		var wg sync.WaitGroup
		statuses := make([]int, 100)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = post(many, "application/x-www-form-urlencoded").Status
			}(i)
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusBadRequest {
				t.Fatalf("many-field form %d: %d, want 400", i, s)
			}
		}
		if r := post("username=operator&password=x", "multipart/form-data; boundary=x"); r.Status != http.StatusBadRequest {
			t.Fatalf("multipart sign-in: %d, want 400", r.Status)
		}
		expectHTML(t, post("username=operator&password=x", "text/plain"), http.StatusBadRequest)
		// None was counted as a failed sign-in: five wrong passwords still get 401.
		for i := 0; i < 5; i++ {
			if r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {"wrong " + strconv.Itoa(i)}}); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d after the refused forms: %d", i, r.Status)
			}
		}
	})
}


// formBody is an 8 MiB sign-in form, generated as it is sent.
func formBody() io.Reader {
	head := "username=" + adminName + "&password="
	return io.MultiReader(strings.NewReader(head), io.LimitReader(repeatReader('x'), 8<<20-int64(len(head))))
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// Twenty 8 MiB sign-in forms sent at once are each refused without being
// read or parsed: the server (running in this process) grows by less
// than 64 MiB, none is answered as a sign-in, none counts as a failure,
// and a normal sign-in works afterwards.
func TestAdminFormFloodMemory(t *testing.T) {
	p := startPanel(t, apptest.Options{})
	p.signIn(t) // warm up: templates, hashing, connections
	runtime.GC()
	debug.FreeOSMemory()
	before := apptest.VmRSS(t, 0)

	var wg sync.WaitGroup
	results := make([]string, 20)
	client := &http.Client{Timeout: time.Minute}
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.URL+"/admin/login", formBody())
			req.ContentLength = 8 << 20
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			if err != nil {
				// The server closed the connection on the unread body: refused.
				results[i] = "closed"
				return
			}
			resp.Body.Close()
			results[i] = strconv.Itoa(resp.StatusCode)
		}(i)
	}
	wg.Wait()
	grew := apptest.VmRSS(t, 0) - before
	t.Logf("RSS grew by %.1f MiB over 20 parallel 8 MiB forms; answers %v", float64(grew)/(1<<20), results)
	for i, r := range results {
		if r != "413" && r != "closed" {
			t.Errorf("8 MiB form %d answered %s, want 413 (or the connection closed)", i, r)
		}
	}
	if grew >= 64<<20 {
		t.Errorf("RSS grew by %d MiB, want < 64", grew>>20)
	}
	p.signIn(t)
	for i := 0; i < 5; i++ {
		if r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {"wrong " + strconv.Itoa(i)}}); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d after the flood: %d (the flood was counted)", i, r.Status)
		}
	}
	if bytes.Contains([]byte(p.Logs.String()), []byte("xxxxxxxx")) {
		t.Fatal("the log holds the posted body")
	}
}
