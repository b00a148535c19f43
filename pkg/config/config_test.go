package config

import (
	"strings"
	"testing"
	"time"
)

const minimal = `
[kubernetes]
kubeconfig = /etc/kuryr/kubeconfig
[neutron]
auth_type = noauth
endpoint = http://127.0.0.1:9696/
[neutron_defaults]
project = p1
pod_subnet = s1
pod_security_groups = sg1, sg2
`

func TestParseMinimalNoAuth(t *testing.T) {
	c, warns, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("unexpected warnings: %v", warns)
	}
	if c.Neutron.AuthType != AuthNoAuth || c.Neutron.Endpoint != "http://127.0.0.1:9696/" {
		t.Errorf("neutron = %+v", c.Neutron)
	}
	if got := strings.Join(c.NeutronDefaults.PodSecurityGroups, "|"); got != "sg1|sg2" {
		t.Errorf("pod_security_groups = %q", got)
	}
	if c.Kubernetes.ClusterID != "" || c.NeutronDefaults.OVSBridge != "br-int" {
		t.Errorf("defaults not applied: %+v %+v", c.Kubernetes, c.NeutronDefaults)
	}
	if c.HealthServer.Port != 8082 || c.Prometheus.ControllerExporterPort != 9654 {
		t.Errorf("ports = %d %d", c.HealthServer.Port, c.Prometheus.ControllerExporterPort)
	}
	if c.Controller.Workers != DefaultWorkers || c.Controller.SweepPeriod != DefaultSweepPeriod {
		t.Errorf("controller = %+v", c.Controller)
	}
	if c.Kubernetes.Kubeconfig != "/etc/kuryr/kubeconfig" {
		t.Errorf("kubeconfig = %q", c.Kubernetes.Kubeconfig)
	}
}

func TestParseErrorsNameTheOption(t *testing.T) {
	cases := []struct {
		name, conf, want string
	}{
		{"missing subnet", strings.Replace(minimal, "pod_subnet = s1", "", 1), "kuryr.conf: [neutron_defaults] pod_subnet: required"},
		{"missing sgs", strings.Replace(minimal, "pod_security_groups = sg1, sg2", "", 1), "kuryr.conf: [neutron_defaults] pod_security_groups: required"},
		{"missing project", strings.Replace(minimal, "project = p1", "", 1), "kuryr.conf: [neutron_defaults] project: required"},
		{"noauth without endpoint", strings.Replace(minimal, "endpoint = http://127.0.0.1:9696/", "", 1), "kuryr.conf: [neutron] endpoint: required with auth_type = noauth"},
		{"bad auth type", strings.Replace(minimal, "auth_type = noauth", "auth_type = kerberos", 1), "kuryr.conf: [neutron] auth_type:"},
		{"password without url", strings.Replace(minimal, "auth_type = noauth", "auth_type = password", 1), "kuryr.conf: [neutron] auth_url: required"},
		{"bad mtu", minimal + "network_device_mtu = abc\n", "kuryr.conf: [neutron_defaults] network_device_mtu: \"abc\" is not an integer"},
		{"bad port", minimal + "[health_server]\nport = 70000\n", "kuryr.conf: [health_server] port:"},
		{"bad cluster id", minimal + "[kubernetes]\ncluster_id = a,b\n", "kuryr.conf: [kubernetes] cluster_id:"},
		{"bad duration", minimal + "[controller]\nsweep_period = soon\n", "kuryr.conf: [controller] sweep_period:"},
		{"pool min above max", minimal + "[vif_pool]\nports_pool_min = 10\nports_pool_max = 5\n", "kuryr.conf: [vif_pool] ports_pool_min:"},
		{"pool batch zero", minimal + "[vif_pool]\nports_pool_batch = 0\n", "kuryr.conf: [vif_pool] ports_pool_batch:"},
		{"pool batch above max", minimal + "[vif_pool]\nports_pool_min = 2\nports_pool_batch = 20\nports_pool_max = 10\n", "kuryr.conf: [vif_pool] ports_pool_batch:"},
		{"pool negative min", minimal + "[vif_pool]\nports_pool_min = -1\n", "kuryr.conf: [vif_pool] ports_pool_min:"},
		{"pool zero frequency", minimal + "[vif_pool]\nports_pool_update_frequency = 0\n", "kuryr.conf: [vif_pool] ports_pool_update_frequency:"},
		{"unknown pool driver", minimal + "[kubernetes]\nvif_pool_driver = nested\n", "kuryr.conf: [kubernetes] vif_pool_driver:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.conf))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestParseWarnsOnUnknownOptions(t *testing.T) {
	conf := minimal + "no_such_option = 1\npod_vif_driver_typo = x\n[kubernetes]\nenabled_handlers = vif,kuryrport\n[cni_daemon]\nbind_address = 127.0.0.1:5036\n"
	_, warns, err := Parse([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "[neutron_defaults] no_such_option") {
		t.Fatalf("warnings = %v", warns)
	}
}

func TestParseKeystoneAndClouds(t *testing.T) {
	ks := strings.Replace(minimal, "auth_type = noauth\nendpoint = http://127.0.0.1:9696/",
		"auth_type = password\nauth_url = http://ks:5000/v3\nusername = kuryr\npassword = secret\nproject_name = service\nuser_domain_name = Default\nproject_domain_name = Default\nregion_name = RegionOne\nendpoint_type = internalURL", 1)
	c, _, err := Parse([]byte(ks))
	if err != nil {
		t.Fatal(err)
	}
	if c.Neutron.AuthType != AuthPassword || c.Neutron.EndpointType != "internal" || c.Neutron.RegionName != "RegionOne" {
		t.Errorf("neutron = %+v", c.Neutron)
	}
	cl := strings.Replace(minimal, "auth_type = noauth\nendpoint = http://127.0.0.1:9696/", "cloud = devstack-admin", 1)
	c, _, err = Parse([]byte(cl))
	if err != nil {
		t.Fatal(err)
	}
	if c.Neutron.AuthType != AuthClouds || c.Neutron.Cloud != "devstack-admin" {
		t.Errorf("neutron = %+v", c.Neutron)
	}
}

func TestDurationsAcceptSecondsAndGoSyntax(t *testing.T) {
	c, _, err := Parse([]byte(minimal + "[controller]\nsweep_period = 30\nsweep_grace_period = 2m\nactive_poll_interval = 250ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Controller.SweepPeriod != 30*time.Second || c.Controller.SweepGracePeriod != 2*time.Minute || c.Controller.ActivePollInterval != 250*time.Millisecond {
		t.Errorf("controller = %+v", c.Controller)
	}
}
