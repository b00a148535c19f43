package ovs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type call struct {
	name string
	args []string
}

// fakeRunner answers ovs-vsctl invocations from a script keyed by the sub-command.
type fakeRunner struct {
	calls   []call
	answers map[string]fakeAnswer
}

type fakeAnswer struct {
	out  string
	code int
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, call{name, args})
	for key, a := range f.answers {
		if strings.Contains(strings.Join(args, " "), key) {
			if a.code != 0 {
				return []byte(a.out), &CommandError{Args: args, Code: a.code, Err: errors.New("exit")}
			}
			return []byte(a.out), nil
		}
	}
	return nil, nil
}

func newClient(answers map[string]fakeAnswer) (*Client, *fakeRunner) {
	r := &fakeRunner{answers: answers}
	return &Client{Runner: r, Binary: "/usr/bin/ovs-vsctl", Timeout: 5 * time.Second, DB: "unix:/tmp/db.sock"}, r
}

func TestAddPortSetsExternalIDsInOneTransaction(t *testing.T) {
	c, r := newClient(nil)
	err := c.AddPort(context.Background(), "br-int", "tap01234567-89", map[string]string{
		KeyIfaceID: "01234567-89ab", KeyAttachedMAC: "fa:16:3e:00:00:01", KeyIfaceStatus: "active",
		KeyVMUUID: "uid-1", KeyContainerID: "abc",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--timeout=5", "--db=unix:/tmp/db.sock", "--", "--may-exist", "add-port", "br-int", "tap01234567-89",
		"--", "set", "Interface", "tap01234567-89",
		`external_ids:attached-mac="fa:16:3e:00:00:01"`, `external_ids:iface-id="01234567-89ab"`,
		`external_ids:iface-status="active"`, `external_ids:kuryr-container-id="abc"`, `external_ids:vm-uuid="uid-1"`}
	if len(r.calls) != 1 || r.calls[0].name != "/usr/bin/ovs-vsctl" || !reflect.DeepEqual(r.calls[0].args, want) {
		t.Fatalf("got %v\nwant %v", r.calls, want)
	}
}

func TestSetExternalIDsOneTransactionWithoutWaiting(t *testing.T) {
	c, r := newClient(map[string]fakeAnswer{"tapmissing": {out: "no row", code: 1}})
	err := c.SetExternalIDs(context.Background(), "tap01234567-89",
		map[string]string{KeyContainerID: "abc", KeyPodName: "p"}, []string{KeyParked})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--timeout=5", "--db=unix:/tmp/db.sock", "--no-wait", "--", "set", "Interface", "tap01234567-89",
		`external_ids:kuryr-container-id="abc"`, `external_ids:kuryr-pod-name="p"`,
		"--", "remove", "Interface", "tap01234567-89", "external_ids", KeyParked}
	if len(r.calls) != 1 || !reflect.DeepEqual(r.calls[0].args, want) {
		t.Fatalf("got %v\nwant %v", r.calls, want)
	}
	if err := c.SetExternalIDs(context.Background(), "tapmissing", map[string]string{KeyPodName: "p"}, nil); err == nil {
		t.Fatal("no error for a missing interface")
	}
	r.calls = nil
	if err := c.SetExternalIDs(context.Background(), "tap", nil, nil); err != nil || len(r.calls) != 0 {
		t.Fatalf("empty update: %v, %d calls", err, len(r.calls))
	}
}

func TestDelPortIsIdempotent(t *testing.T) {
	c, r := newClient(nil)
	if err := c.DelPort(context.Background(), "tapx"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.calls[0].args, " "); !strings.HasSuffix(got, "--if-exists del-port tapx") {
		t.Fatalf("unexpected command %q", got)
	}
}

func TestBridgeExists(t *testing.T) {
	c, _ := newClient(map[string]fakeAnswer{"br-exists br-int": {}, "br-exists br-missing": {code: 2}, "br-exists br-err": {code: 1}})
	ctx := context.Background()
	if ok, err := c.BridgeExists(ctx, "br-int"); err != nil || !ok {
		t.Fatalf("br-int: %v %v", ok, err)
	}
	if ok, err := c.BridgeExists(ctx, "br-missing"); err != nil || ok {
		t.Fatalf("br-missing: %v %v", ok, err)
	}
	if _, err := c.BridgeExists(ctx, "br-err"); err == nil {
		t.Fatal("br-err: expected an error")
	}
}

func TestPortTag(t *testing.T) {
	c, _ := newClient(map[string]fakeAnswer{"Port tapnew tag": {out: "[]\n"}, "Port tapdone tag": {out: "7\n"}, "Port tapgone tag": {out: ""}})
	ctx := context.Background()
	for port, want := range map[string]struct {
		tag int
		ok  bool
	}{"tapnew": {0, false}, "tapdone": {7, true}, "tapgone": {0, false}} {
		tag, ok, err := c.PortTag(ctx, port)
		if err != nil || tag != want.tag || ok != want.ok {
			t.Errorf("%s: got %d %v %v", port, tag, ok, err)
		}
	}
}

const findOutput = `{"data":[["tapaaaaaaaa-aa",["map",[["iface-id","aaaaaaaa-aaaa"],["kuryr-container-id","c1"]]]],["qvobbbbbbbb-bb",["map",[]]]],"headings":["name","external_ids"]}`

func TestFindInterfacesParsesJSON(t *testing.T) {
	c, r := newClient(map[string]fakeAnswer{"find Interface": {out: findOutput}})
	got, err := c.FindInterfaces(context.Background(), KeyContainerID, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Interface{
		{Name: "tapaaaaaaaa-aa", ExternalIDs: map[string]string{"iface-id": "aaaaaaaa-aaaa", "kuryr-container-id": "c1"}},
		{Name: "qvobbbbbbbb-bb", ExternalIDs: map[string]string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if args := strings.Join(r.calls[0].args, " "); !strings.Contains(args, `external_ids:kuryr-container-id="c1"`) {
		t.Fatalf("unexpected command %q", args)
	}
}

func TestListInterfacesFiltersByKey(t *testing.T) {
	c, _ := newClient(map[string]fakeAnswer{"list Interface": {out: findOutput}})
	got, err := c.ListInterfaces(context.Background(), KeyContainerID)
	if err != nil || len(got) != 1 || got[0].Name != "tapaaaaaaaa-aa" {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestParseInterfacesRejectsGarbage(t *testing.T) {
	for _, in := range []string{"not json", `{"data":[["x"]],"headings":["name"]}`, `{"data":[["x",["set",[]]]],"headings":["name","external_ids"]}`} {
		if _, err := parseInterfaces(in); err == nil {
			t.Errorf("%q: expected an error", in)
		}
	}
}

func TestExitCode(t *testing.T) {
	if ExitCode(errors.New("x")) != -1 {
		t.Fatal("plain error should have no exit code")
	}
	if ExitCode(&CommandError{Code: 2}) != 2 {
		t.Fatal("command error code lost")
	}
}

func TestTimeoutNeverRoundsToZero(t *testing.T) {
	for timeout, want := range map[time.Duration]string{
		300 * time.Millisecond: "--timeout=1", time.Second: "--timeout=1", 1500 * time.Millisecond: "--timeout=2",
		10 * time.Second: "--timeout=10", 0: "--timeout=10",
	} {
		c, r := newClient(nil)
		c.Timeout = timeout
		_, _ = c.BridgeExists(context.Background(), "br-int")
		if len(r.calls) != 1 || r.calls[0].args[0] != want {
			t.Errorf("timeout %v: calls %v, want %s first", timeout, r.calls, want)
		}
	}
}

func TestInterfaceFindsByName(t *testing.T) {
	c, r := newClient(map[string]fakeAnswer{`name="tapaaaaaaaa-aa"`: {out: findOutput}})
	got, ok, err := c.Interface(context.Background(), "tapaaaaaaaa-aa")
	if err != nil || !ok || got.Name != "tapaaaaaaaa-aa" || got.ExternalIDs["iface-id"] != "aaaaaaaa-aaaa" {
		t.Fatalf("got %v %v %v", got, ok, err)
	}
	if args := strings.Join(r.calls[0].args, " "); !strings.Contains(args, `find Interface name="tapaaaaaaaa-aa"`) {
		t.Fatalf("unexpected command %q", args)
	}
	if _, ok, err := c.Interface(context.Background(), "tapbbbbbbbb-bb"); ok || err != nil {
		t.Fatalf("missing interface: %v %v", ok, err)
	}
}
