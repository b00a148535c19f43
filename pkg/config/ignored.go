package config

// Options of kuryr-kubernetes that are valid in kuryr.conf but have no effect here (other
// drivers, the node daemon, or features that come later). They are skipped silently so an
// existing kuryr.conf does not produce a wall of warnings.
var ignored = map[string]map[string]bool{
	"DEFAULT": set("debug", "verbose", "use_stderr", "log_file", "log_dir", "use_syslog",
		"state_path", "lock_path", "bindir", "deployment_type"),
	"kubernetes": set("pod_vif_driver", "pod_subnets_driver", "service_subnets_driver",
		"pod_security_groups_driver", "service_security_groups_driver", "pod_project_driver",
		"service_project_driver", "namespace_project_driver", "network_policy_project_driver",
		"endpoints_lbaas_driver", "endpoints_driver_octavia_provider", "service_public_ip_driver",
		"network_policy_driver", "nodes_subnets_driver", "multi_vif_drivers",
		"port_debug", "enable_manager", "additional_ifname_prefix", "watch_retry_timeout",
		"watch_connection_timeout", "watch_read_timeout", "watch_reconcile_period",
		"controller_ha", "controller_ha_elector_port"),
	"neutron_defaults": set("lbaas_activation_timeout", "subnet_mapping"),
	"neutron": set("auth_section", "certfile", "keyfile", "collect_timing", "split_loggers",
		"service_type", "service_name", "valid_interfaces", "system_scope", "domain_id",
		"domain_name", "default_domain_id", "default_domain_name", "trust_id", "tenant_id",
		"tenant_name", "status_code_retries", "status_code_retry_delay", "connect_retries",
		"connect_retry_delay", "version", "min_version", "max_version"),
	"vif_pool": set("pools_vif_drivers"),
}

// Whole groups used by the node daemon or by later features.
var ignoredGroups = map[string]bool{
	"cni_daemon": true, "cni_health_server": true, "binding": true, "vhostuser": true,
	"nested_dpdk": true, "pod_vif_nested": true, "octavia_defaults": true,
	"namespace_subnet": true, "pool_manager": true, "cache_defaults": true,
	"subnet_caching": true, "nodes_caching": true, "node_driver_caching": true,
	"vif_plug_ovs_privileged": true, "vif_plug_linux_bridge_privileged": true,
	"os_vif_ovs": true, "oslo_concurrency": true,
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
