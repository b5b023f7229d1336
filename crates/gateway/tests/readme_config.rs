//! The configuration shown in README.md is one the daemon accepts, key for key.

use std::path::Path;

#[test]
fn the_readme_configuration_parses() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let section = readme
        .split("## `edigate serve`")
        .nth(1)
        .expect("an `edigate serve` section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block in it");
    let config = gateway::Config::from_toml(Path::new("README.md"), block)
        .unwrap_or_else(|e| panic!("the README's configuration is refused: {e}"));
    assert_eq!(config.inbound.len(), 4);
    assert!(
        config
            .inbound
            .iter()
            .any(|c| matches!(c, gateway::config::InboundConfig::Email(m) if m.tls.is_some()))
    );
    assert_eq!(config.sinks().len(), 1);
    let as2 = config.as2.as_ref().expect("[as2]");
    assert_eq!(as2.keys.len(), 1);
    assert!(config.inbound.iter().any(|c| matches!(
        c,
        gateway::config::InboundConfig::As2 {
            tls: Some(_),
            plain_http: false,
            ..
        }
    )));
    assert_eq!(config.delivery.concurrency_per_destination, 4);
    assert_eq!(config.limits.max_file_bytes, 67_108_864);
    let alerts = config.alerts.expect("[alerts]");
    assert_eq!(alerts.min_interval_s, 900);
    alerts.email().check().expect("usable mail settings");
}

#[test]
fn the_example_production_configuration_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/edigate.example.toml");
    let config = gateway::Config::from_file(&path)
        .unwrap_or_else(|e| panic!("the example configuration is refused: {e}"));
    assert_eq!(config.inbound.len(), 4);
    assert!(
        config
            .inbound
            .iter()
            .any(|c| matches!(c, gateway::config::InboundConfig::Email(m) if m.tls.is_some() && m.require_tls))
    );
    assert_eq!(config.sinks().len(), 2);
    assert_eq!(
        config.as2.as_ref().map(|a| a.name.as_str()),
        Some("WIDGETCO-AS2")
    );
    assert_eq!(config.retention.keep_days, 90);
    assert!(config.admin.listen.ip().is_loopback());
}
