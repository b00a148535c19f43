//go:build integration

package testbed

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// neutronClient is a client for the testbed's noauth Neutron: no token, no X-Project-Id
// header (which would make creates fail); project_id goes in every POST body.
func neutronClient(env Env, t *testing.T) neutron.Client {
	t.Helper()
	s, err := openstack.NoAuth(openstack.Options{NeutronEndpoint: env.Get(t, "NEUTRON_ENDPOINT"), Timeout: 60 * time.Second})
	if err != nil {
		t.Fatalf("neutron session: %v", err)
	}
	nc, err := neutron.New(s)
	if err != nil {
		t.Fatalf("neutron client: %v", err)
	}
	return nc
}

type plugged struct {
	port   *neutron.Port
	netns  string
	ip     string
	subnet *neutron.Subnet
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// createAndPlug creates a port bound to the node and plugs it into a fresh namespace the way
// os-vif does: a veth whose host end (tap + 11 characters of the port ID) is on br-int with
// the external_ids the OVS agent looks for.
func createAndPlug(ctx context.Context, t *testing.T, nc neutron.Client, env Env, name, subnetID, project, sg string) *plugged {
	t.Helper()
	sn, err := nc.GetSubnet(ctx, subnetID)
	if err != nil {
		t.Fatalf("get subnet %s: %v", subnetID, err)
	}
	p, err := nc.CreatePort(ctx, neutron.PortCreateOpts{
		NetworkID: sn.NetworkID, Name: name, ProjectID: project, DeviceOwner: "compute:testbed",
		DeviceID: name, SubnetIDs: []string{subnetID}, SecurityGroups: []string{sg}, HostID: env.Get(t, "NODE_NAME"),
	})
	if err != nil {
		t.Fatalf("create port %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := nc.DeletePort(context.Background(), p.ID); err != nil {
			t.Errorf("delete port %s: %v", p.ID, err)
		}
	})
	nsName := "tbtest-" + name
	dev := "tap" + p.ID[:11]
	plen := strings.Split(sn.CIDR, "/")[1]
	ip := p.FixedIPs[0].IPAddress
	run(t, "ip", "netns", "add", nsName)
	t.Cleanup(func() {
		_ = exec.Command("ovs-vsctl", "--if-exists", "del-port", "br-int", dev).Run()
		_ = exec.Command("ip", "link", "del", dev).Run()
		_ = exec.Command("ip", "netns", "del", nsName).Run()
	})
	run(t, "ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", nsName)
	run(t, "ip", "-n", nsName, "link", "set", "eth0", "address", p.MACAddress)
	run(t, "ip", "-n", nsName, "addr", "add", ip+"/"+plen, "dev", "eth0")
	run(t, "ip", "-n", nsName, "link", "set", "lo", "up")
	run(t, "ip", "-n", nsName, "link", "set", "eth0", "up")
	run(t, "ip", "-n", nsName, "route", "add", "default", "via", sn.GatewayIP)
	run(t, "ip", "link", "set", dev, "up")
	run(t, "ovs-vsctl", "--", "--may-exist", "add-port", "br-int", dev, "--", "set", "Interface", dev,
		"external_ids:iface-id="+p.ID, "external_ids:attached-mac="+p.MACAddress,
		"external_ids:iface-status=active", "external_ids:vm-uuid="+name)
	return &plugged{port: p, netns: nsName, ip: ip, subnet: sn}
}

func waitActive(ctx context.Context, t *testing.T, nc neutron.Client, p *plugged) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 60*time.Second {
		got, err := nc.GetPort(ctx, p.port.ID)
		if err != nil {
			t.Fatalf("get port %s: %v", p.port.ID, err)
		}
		if got.Status == neutron.PortStatusActive {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("port %s (%s) not ACTIVE after 60s", p.port.Name, p.port.ID)
	return 0
}

var ttlRE = regexp.MustCompile(`ttl=(\d+)`)

// ping returns the TTL of the replies from dst as seen in namespace from.
func ping(t *testing.T, from *plugged, dst string) int {
	t.Helper()
	var out []byte
	var err error
	for i := 0; i < 10; i++ { // the first packets may race the agent's flows
		out, err = exec.Command("ip", "netns", "exec", from.netns, "ping", "-c", "2", "-W", "2", dst).CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping %s -> %s: %v\n%s", from.ip, dst, err, out)
	}
	m := ttlRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no ttl in ping output: %s", out)
	}
	ttl, _ := strconv.Atoi(string(m[1]))
	return ttl
}

// tcpEcho listens on to's address inside its namespace, connects from from's namespace and
// checks that a line comes back.
func tcpEcho(t *testing.T, from, to *plugged) {
	t.Helper()
	toNS, err := ns.GetNS("/run/netns/" + to.netns)
	if err != nil {
		t.Fatal(err)
	}
	defer toNS.Close()
	var ln net.Listener
	if err := toNS.Do(func(ns.NetNS) error {
		var lerr error
		ln, lerr = net.Listen("tcp", net.JoinHostPort(to.ip, "18080"))
		return lerr
	}); err != nil {
		t.Fatalf("listen in %s: %v", to.netns, err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "echo %s", line)
	}()
	fromNS, err := ns.GetNS("/run/netns/" + from.netns)
	if err != nil {
		t.Fatal(err)
	}
	defer fromNS.Close()
	var reply string
	if err := fromNS.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(to.ip, "18080"), 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "hello from %s\n", from.ip)
		reply, err = bufio.NewReader(c).ReadString('\n')
		return err
	}); err != nil {
		t.Fatalf("TCP %s -> %s:18080: %v", from.ip, to.ip, err)
	}
	if want := "echo hello from " + from.ip + "\n"; reply != want {
		t.Fatalf("TCP reply %q, want %q", reply, want)
	}
}

// TestDataplane proves the testbed is real: ports bound to the node go ACTIVE once plugged,
// pod-subnet ports reach each other at L2 (TTL 64), and a pod-subnet port reaches demo's
// private subnet through router1 (TTL 63), with ICMP and TCP.
func TestDataplane(t *testing.T) {
	env := LoadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nc := neutronClient(env, t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%100000, 10)
	podA := createAndPlug(ctx, t, nc, env, "a"+suffix, env.Get(t, "POD_SUBNET_ID"), env.Get(t, "K8S_PROJECT_ID"), env.Get(t, "POD_SG_ID"))
	podB := createAndPlug(ctx, t, nc, env, "b"+suffix, env.Get(t, "POD_SUBNET_ID"), env.Get(t, "K8S_PROJECT_ID"), env.Get(t, "POD_SG_ID"))
	vm := createAndPlug(ctx, t, nc, env, "v"+suffix, env.Get(t, "PRIVATE_SUBNET_ID"), env.Get(t, "DEMO_PROJECT_ID"), env.Get(t, "VM_SG_ID"))
	for _, p := range []*plugged{podA, podB, vm} {
		d := waitActive(ctx, t, nc, p)
		t.Logf("port %s (%s, %s) ACTIVE %.2fs after plug", p.port.Name, p.ip, p.subnet.CIDR, d.Seconds())
	}
	if ttl := ping(t, podA, podB.ip); ttl != 64 {
		t.Errorf("L2 ping %s -> %s: ttl %d, want 64 (same subnet, no router)", podA.ip, podB.ip, ttl)
	}
	tcpEcho(t, podA, podB)
	if ttl := ping(t, podA, vm.ip); ttl != 63 {
		t.Errorf("L3 ping %s -> %s: ttl %d, want 63 (one hop through router1)", podA.ip, vm.ip, ttl)
	}
	tcpEcho(t, podA, vm)
	tcpEcho(t, vm, podB)
}
