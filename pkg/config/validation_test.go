package config

import (
	"strings"
	"testing"
	"time"
)

// base is the smallest valid kuryr.conf; tests append groups to it.
const base = "[neutron_defaults]\nproject = p\npod_subnet = s\npod_security_groups = sg\n" +
	"[neutron]\nauth_type = noauth\nendpoint = http://n:9696\n"

// wantOptionError fails unless conf is rejected with an error naming [group] option.
func wantOptionError(t *testing.T, conf, group, option string) error {
	t.Helper()
	_, _, err := Parse([]byte(conf))
	oe, ok := ErrOption(err)
	if !ok || oe.Group != group || oe.Option != option {
		t.Errorf("error = %v, want one about [%s] %s", err, group, option)
		return err
	}
	if want := "kuryr.conf: [" + group + "] " + option + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want prefix %q", err, want)
	}
	return err
}

func TestNeutronTimeoutMustBePositiveFiniteAndAtMostAnHour(t *testing.T) {
	for _, v := range []string{"0", "-5", "NaN", "1e300", "-Inf", "Inf", "+Inf", "1e400", "3601", "2h", "-1s"} {
		t.Run(v, func(t *testing.T) {
			_ = wantOptionError(t, base+"timeout = "+v+"\n", "neutron", "timeout")
		})
	}
	for v, want := range map[string]time.Duration{"": DefaultNeutronTimeout, "0.5": 500 * time.Millisecond,
		"30": 30 * time.Second, "90s": 90 * time.Second, "3600": time.Hour, "1h": time.Hour} {
		c, _, err := Parse([]byte(base + "timeout = " + v + "\n"))
		if err != nil {
			t.Errorf("timeout = %q: %v", v, err)
			continue
		}
		if c.Neutron.Timeout != want {
			t.Errorf("timeout = %q gives %v, want %v", v, c.Neutron.Timeout, want)
		}
	}
}

func TestEveryDurationRejectsNonFiniteAndOutOfRangeValues(t *testing.T) {
	options := []struct{ group, option string }{
		{"controller", "resync_period"}, {"controller", "sweep_period"}, {"controller", "sweep_grace_period"},
		{"controller", "active_poll_interval"}, {"controller", "quota_retry_interval"},
		{"controller", "max_retry_interval"}, {"vif_pool", "ports_pool_update_frequency"},
	}
	for _, o := range options {
		for _, v := range []string{"NaN", "nan", "Inf", "-Inf", "infinity", "1e300", "-1e300", "1e400", "9300000000", "3000000h"} {
			t.Run(o.option+"="+v, func(t *testing.T) {
				err := wantOptionError(t, base+"["+o.group+"]\n"+o.option+" = "+v+"\n", o.group, o.option)
				if err != nil && !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not quote the value", err)
				}
			})
		}
	}
}

func TestParseDurationLimits(t *testing.T) {
	for v, want := range map[string]time.Duration{"2.5": 2500 * time.Millisecond, "-3": -3 * time.Second,
		"250ms": 250 * time.Millisecond, "9000000000": 9e9 * time.Second, "2562047h": 2562047 * time.Hour} {
		if got, err := ParseDuration(v); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
}

func TestClusterIDHasNoDefault(t *testing.T) {
	c, _, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kubernetes.ClusterID != "" {
		t.Errorf("cluster_id not set in kuryr.conf gives %q, want empty (not a shared default)", c.Kubernetes.ClusterID)
	}
	c, _, err = Parse([]byte(base + "[kubernetes]\ncluster_id = prod-east\n"))
	if err != nil || c.Kubernetes.ClusterID != "prod-east" {
		t.Fatalf("cluster_id = prod-east: %v %v", c, err)
	}
	for _, v := range []string{"a,b", "a b", strings.Repeat("x", 201)} {
		_ = wantOptionError(t, base+"[kubernetes]\ncluster_id = "+v+"\n", "kubernetes", "cluster_id")
	}
}

func TestSweepGracePeriodProtectsYoungPorts(t *testing.T) {
	for _, v := range []string{"0", "29", "29.9s", "-1"} {
		t.Run(v, func(t *testing.T) {
			err := wantOptionError(t, base+"[controller]\nsweep_grace_period = "+v+"\n", "controller", "sweep_grace_period")
			if err != nil && !strings.Contains(err.Error(), "protects young ports") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
	_ = wantOptionError(t, base+"[controller]\nsweep_period = -1\n", "controller", "sweep_period")
	_ = wantOptionError(t, base+"[controller]\nsweep_period = 0\nsweep_grace_period = -1\n", "controller", "sweep_grace_period")
	for _, conf := range []string{
		"[controller]\nsweep_grace_period = 30\n",
		"[controller]\nsweep_grace_period = 10m\n",
		"[controller]\nsweep_period = 0\nsweep_grace_period = 0\n", // the sweep is off: nothing to protect
	} {
		if _, _, err := Parse([]byte(base + conf)); err != nil {
			t.Errorf("%q: %v", conf, err)
		}
	}
}

func TestAPIServerCertificateIsVerifiedUnlessExplicitlyNot(t *testing.T) {
	c, _, err := Parse([]byte(base + "[kubernetes]\napi_root = https://10.0.0.1:6443\n"))
	if err != nil || c.Kubernetes.InsecureSkipTLSVerify {
		t.Fatalf("ssl_verify_server_crt not set: insecure = %v, %v", c != nil && c.Kubernetes.InsecureSkipTLSVerify, err)
	}
	for v, insecure := range map[string]bool{"true": false, "True": false, "false": true, "False": true} {
		c, _, err := Parse([]byte(base + "[kubernetes]\nssl_verify_server_crt = " + v + "\n"))
		if err != nil || c.Kubernetes.InsecureSkipTLSVerify != insecure {
			t.Errorf("ssl_verify_server_crt = %s: %+v %v", v, c, err)
		}
	}
	_ = wantOptionError(t, base+"[kubernetes]\nssl_verify_server_crt = false\nssl_ca_crt_file = /ca.crt\n",
		"kubernetes", "ssl_verify_server_crt")
	_ = wantOptionError(t, base+"[kubernetes]\nssl_verify_server_crt = maybe\n", "kubernetes", "ssl_verify_server_crt")
}

func TestParseKubernetesReadsOnlyItsGroup(t *testing.T) {
	k, err := ParseKubernetes([]byte("[kubernetes]\napi_root = https://k:6443\ntoken_file = /t\n[cni_daemon]\nx = 1\n"))
	if err != nil || k.APIRoot != "https://k:6443" || k.TokenFile != "/t" || k.InsecureSkipTLSVerify {
		t.Fatalf("%+v %v", k, err)
	}
	if _, err := ParseKubernetes([]byte("[kubernetes]\napi_root = not a url\n")); err == nil ||
		!strings.HasPrefix(err.Error(), "kuryr.conf: [kubernetes] api_root: ") {
		t.Fatalf("error = %v", err)
	}
}

func TestContinuationLinesAsInOsloConfig(t *testing.T) {
	conf := strings.Replace(base, "pod_security_groups = sg", "pod_security_groups = sg1,\n    sg2", 1)
	c, _, err := Parse([]byte(conf))
	if err != nil || strings.Join(c.NeutronDefaults.PodSecurityGroups, "|") != "sg1|sg2" {
		t.Fatalf("%+v %v", c, err)
	}
}
